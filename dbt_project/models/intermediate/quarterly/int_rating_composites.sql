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

-- The trimming windows over a ratee's raters in a tier, self-rating apart: a self-rating is alone in
-- its (…, is_self_rating) partition and is never trimmed, so the windows run on every row and no join
-- back is needed. A rater rates a ratee once per tier (stg_ratings is unique on quarter, unit, ratee,
-- tier, rater), so (composite, rater_code) orders the partition totally and the descending rank is the
-- ascending one counted from the other end: one sort instead of two.
ranked as (
    select
        composites.*,
        count(*) over by_tier as tier_raters,
        row_number() over (by_tier order by composites.composite_score asc, composites.rater_code asc)
            as rank_ascending
    from composites
    window by_tier as (
        partition by
            composites.quarter, composites.unit_code, composites.ratee_code, composites.rater_tier,
            composites.is_self_rating
    )
),

final as (
    select
        quarter,
        rules_year,
        unit_code,
        ratee_code,
        rater_tier,
        rater_code,
        composite_score,
        is_self_rating,
        not is_self_rating as is_usable,
        coalesce(
            not is_self_rating
            and tier_raters >= trim_min_raters
            and (rank_ascending = 1 or rank_ascending = tier_raters),
            false
        ) as is_trimmed
    from ranked
)

select * from final
