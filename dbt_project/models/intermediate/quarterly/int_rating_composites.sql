-- One row per rating (ratee, rater, tier) (rules.md §3): the composite Σ dimension weight × score, whether
-- it is a self-rating (excluded from scoring) and whether the trimming rule drops it: with
-- trim_min_raters (5) or more usable raters in a tier, the one highest and the one lowest composite go.
with ratings as (
    select * from {{ ref('stg_ratings') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

composites as (
    select
        ratings.quarter,
        rules.rules_year,
        ratings.unit_code,
        ratings.ratee_code,
        ratings.rater_tier,
        ratings.rater_code,
        ratings.rater_code = ratings.ratee_code as is_self_rating,
        rules.trim_min_raters,
        rules.weight_intensity * ratings.score_intensity
        + rules.weight_difficulty * ratings.score_difficulty
        + rules.weight_quantity * ratings.score_quantity
        + rules.weight_effect * ratings.score_effect
        + rules.weight_measures * ratings.score_measures as composite_score
    from ratings
    inner join rules
        on {{ quarter_year('ratings.quarter') }} = rules.rules_year
),

usable as (
    select
        quarter,
        unit_code,
        ratee_code,
        rater_tier,
        rater_code,
        count(*) over (partition by quarter, unit_code, ratee_code, rater_tier) as tier_raters,
        row_number() over (
            partition by quarter, unit_code, ratee_code, rater_tier order by composite_score asc, rater_code asc
        ) as rank_ascending,
        row_number() over (
            partition by quarter, unit_code, ratee_code, rater_tier order by composite_score desc, rater_code desc
        ) as rank_descending
    from composites
    where not is_self_rating
),

final as (
    select
        composites.quarter,
        composites.rules_year,
        composites.unit_code,
        composites.ratee_code,
        composites.rater_tier,
        composites.rater_code,
        composites.composite_score,
        composites.is_self_rating,
        not composites.is_self_rating as is_usable,
        coalesce(
            usable.tier_raters >= composites.trim_min_raters
            and (usable.rank_ascending = 1 or usable.rank_descending = 1),
            false
        ) as is_trimmed
    from composites
    left join usable
        on
            composites.quarter = usable.quarter
            and composites.unit_code = usable.unit_code
            and composites.ratee_code = usable.ratee_code
            and composites.rater_tier = usable.rater_tier
            and composites.rater_code = usable.rater_code
)

select * from final
