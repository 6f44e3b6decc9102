-- One row per person, quarter and rater tier that rated them: how many raters, and the tier's mean
-- score for analysts. The mean is withheld (NULL, is_suppressed) when fewer than
-- var('min_raters_for_tier_average') raters stand behind it, so that no reader can work out what one
-- named colleague gave a person. Scoring itself uses int_person_tier_scores, which is not published.
with tier_scores as (
    select * from {{ ref('int_person_tier_scores') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

final as (
    select
        tier_scores.quarter,
        tier_scores.rules_year,
        tier_scores.unit_code,
        tier_scores.person_code,
        tier_scores.rater_tier,
        tier_scores.n_raters,
        tier_scores.tier_weight,
        tier_scores.n_raters < {{ var('min_raters_for_tier_average') }} as is_suppressed,
        case
            when tier_scores.n_raters >= {{ var('min_raters_for_tier_average') }}
                then tier_scores.tier_score
        end as tier_mean_score,
        rules.rules_version,
        rules.rules_fingerprint
    from tier_scores
    inner join rules
        on tier_scores.rules_year = rules.rules_year
)

select * from final
