{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_selected_quarters() }}",
) }}
-- One row per rating (ratee, rater, tier) with its five scores, composite, whether all five scores are
-- identical, and the ratee's robust leave-one-out consensus (quality.md, "What a definition must
-- survive"): the median of the ratee's other raters' composites, any tier, self-ratings excluded, every
-- row of the rater under test left out (a rater who rated the ratee in two tiers counts once, with the
-- mean of its rows). One dishonest rater moves a median by at most one rank, where it moved the plain
-- mean by its whole excess. Also where the rating stands among the other raters of the ratee
-- (n_others_below strictly lower, n_others_tied equal), for the rank-based tests of A7.
-- A table, not a view like its siblings: the finding views below read it, and as a view its consensus
-- (window and join over every rating) was computed once per reader.
with composites as (
    select * from {{ ref('int_rating_composites') }}
    where {{ in_selected_quarter() }}
),

ratings as (
    select * from {{ ref('stg_ratings') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
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

-- One value per rater of a ratee (its mean over tiers), self-ratings excluded.
rater_values as (
    select
        quarter,
        unit_code,
        ratee_code,
        rater_code,
        avg(composite_score) as rater_value
    from joined
    where not is_self_rating
    group by quarter, unit_code, ratee_code, rater_code
),

ratee_lists as (
    select
        quarter,
        unit_code,
        ratee_code,
        list_sort(list(rater_value)) as sorted_values,
        count(*) as n_raters
    from rater_values
    group by quarter, unit_code, ratee_code
),

ranked as (
    select
        rater_values.*,
        ratee_lists.sorted_values,
        ratee_lists.n_raters,
        row_number() over by_value as value_position,
        rank() over by_value - 1 as n_others_below,
        count(*) over (
            partition by
                rater_values.quarter, rater_values.unit_code, rater_values.ratee_code,
                rater_values.rater_value
        ) - 1 as n_others_tied
    from rater_values
    inner join ratee_lists
        on
            rater_values.quarter = ratee_lists.quarter
            and rater_values.unit_code = ratee_lists.unit_code
            and rater_values.ratee_code = ratee_lists.ratee_code
    window by_value as (
        partition by rater_values.quarter, rater_values.unit_code, rater_values.ratee_code
        order by rater_values.rater_value
    )
),

-- Ties: removing any of several equal values leaves the same list, so the position within ties is moot.
rater_consensus as (
    select
        quarter,
        unit_code,
        ratee_code,
        rater_code,
        cast(n_raters - 1 as integer) as n_other_raters,
        cast(n_others_below as integer) as n_others_below,
        cast(n_others_tied as integer) as n_others_tied,
        {{ loo_median('sorted_values', 'value_position', 'n_raters - 1') }} as consensus_score
    from ranked
),

final as (
    select
        joined.*,
        joined.score_intensity = joined.score_difficulty
        and joined.score_intensity = joined.score_quantity
        and joined.score_intensity = joined.score_effect
        and joined.score_intensity = joined.score_measures as is_straight,
        -- all five scores at the top of the scale: what an honest lenient rater gives too (A2, A5, A6)
        coalesce(
            least(
                joined.score_intensity, joined.score_difficulty, joined.score_quantity, joined.score_effect,
                joined.score_measures
            ) >= rules.q_max_score,
            false
        ) as is_ceiling_vector,
        cast(case
            when joined.is_self_rating then coalesce(ratee_lists.n_raters, 0)
            else coalesce(rater_consensus.n_other_raters, 0)
        end as integer) as n_other_raters,
        -- A self-rating is not among the values, so its consensus is the median of all the ratee's raters.
        case
            when joined.is_self_rating then {{ loo_median('ratee_lists.sorted_values', 'ratee_lists.n_raters + 1', 'ratee_lists.n_raters') }}
            else rater_consensus.consensus_score
        end as consensus_score,
        case when not joined.is_self_rating then rater_consensus.n_others_below end as n_others_below,
        case when not joined.is_self_rating then rater_consensus.n_others_tied end as n_others_tied
    from joined
    left join rules
        on joined.rules_year = rules.rules_year
    left join ratee_lists
        on
            joined.quarter = ratee_lists.quarter
            and joined.unit_code = ratee_lists.unit_code
            and joined.ratee_code = ratee_lists.ratee_code
    left join rater_consensus
        on
            joined.quarter = rater_consensus.quarter
            and joined.unit_code = rater_consensus.unit_code
            and joined.ratee_code = rater_consensus.ratee_code
            and joined.rater_code = rater_consensus.rater_code
)

select * from final
