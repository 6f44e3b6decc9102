-- One row per ratee and rater tier with at least one usable rating (rules.md §3): the tier score is the
-- mean composite of the tier's raters after trimming, with the tier's weight from the rules file.
with composites as (
    select * from {{ ref('int_rating_composites') }}
    where {{ in_selected_quarter() }}
),

tiers as (
    select * from {{ ref('int_rules_tiers') }}
),

tier_scores as (
    select
        quarter,
        rules_year,
        unit_code,
        ratee_code as person_code,
        rater_tier,
        count(*) as n_raters,
        count(case when not is_trimmed then 1 end) as n_raters_used,
        avg(case when not is_trimmed then composite_score end) as tier_score
    from composites
    where is_usable
    group by quarter, rules_year, unit_code, ratee_code, rater_tier
),

final as (
    select
        tier_scores.quarter,
        tier_scores.rules_year,
        tier_scores.unit_code,
        tier_scores.person_code,
        tier_scores.rater_tier,
        cast(tier_scores.n_raters as integer) as n_raters,
        cast(tier_scores.n_raters_used as integer) as n_raters_used,
        cast(tier_scores.tier_score as double) as tier_score,
        tiers.tier_weight
    from tier_scores
    left join tiers
        on
            tier_scores.rules_year = tiers.rules_year
            and tier_scores.rater_tier = tiers.rater_tier
)

select * from final
