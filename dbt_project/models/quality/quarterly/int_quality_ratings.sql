{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_selected_quarters() }}",
) }}
-- One row per rating (ratee, rater, tier) with its five scores, composite, whether all five scores are
-- identical, and the ratee's leave-one-out consensus (quality.md): the mean composite of the ratee's other
-- raters, any tier, self-ratings excluded, every row of the rater under test left out.
-- A table, not a view like its siblings: the five finding views below read it, and as a view its
-- consensus (window and join over every rating) was computed once per reader (~3 s each at 16 cities).
with composites as (
    select * from {{ ref('int_rating_composites') }}
    where {{ in_selected_quarter() }}
),

ratings as (
    select * from {{ ref('stg_ratings') }}
    where {{ in_selected_quarter() }}
),

joined as (
    select
        composites.quarter,
        composites.rules_year,
        composites.unit_code,
        composites.ratee_code,
        composites.rater_tier,
        composites.rater_code,
        composites.is_self_rating,
        composites.composite_score,
        ratings.score_intensity,
        ratings.score_difficulty,
        ratings.score_quantity,
        ratings.score_effect,
        ratings.score_measures
    from composites
    inner join ratings
        on
            composites.quarter = ratings.quarter
            and composites.unit_code = ratings.unit_code
            and composites.ratee_code = ratings.ratee_code
            and composites.rater_tier = ratings.rater_tier
            and composites.rater_code = ratings.rater_code
),

ratee_totals as (
    select
        quarter,
        unit_code,
        ratee_code,
        sum(composite_score) as total_score,
        count(*) as total_rows,
        count(distinct rater_code) as total_raters
    from joined
    where not is_self_rating
    group by quarter, unit_code, ratee_code
),

rater_ratee as (
    select
        quarter,
        unit_code,
        ratee_code,
        rater_code,
        sum(composite_score) as rater_score,
        count(*) as rater_rows
    from joined
    where not is_self_rating
    group by quarter, unit_code, ratee_code, rater_code
),

final as (
    select
        joined.*,
        joined.score_intensity = joined.score_difficulty
        and joined.score_intensity = joined.score_quantity
        and joined.score_intensity = joined.score_effect
        and joined.score_intensity = joined.score_measures as is_straight,
        cast(
            coalesce(ratee_totals.total_raters, 0)
            - case when rater_ratee.rater_rows is null then 0 else 1 end as integer
        ) as n_other_raters,
        (coalesce(ratee_totals.total_score, 0) - coalesce(rater_ratee.rater_score, 0))
        / nullif(coalesce(ratee_totals.total_rows, 0) - coalesce(rater_ratee.rater_rows, 0), 0) as consensus_score
    from joined
    left join ratee_totals
        on
            joined.quarter = ratee_totals.quarter
            and joined.unit_code = ratee_totals.unit_code
            and joined.ratee_code = ratee_totals.ratee_code
    left join rater_ratee
        on
            joined.quarter = rater_ratee.quarter
            and joined.unit_code = rater_ratee.unit_code
            and joined.ratee_code = rater_ratee.ratee_code
            and joined.rater_code = rater_ratee.rater_code
)

select * from final
