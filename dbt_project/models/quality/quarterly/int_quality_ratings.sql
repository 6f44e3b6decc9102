{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_selected_quarters() }}",
    tags=['unit_grain'],
) }}
-- One row per rating (ratee, rater, tier) with its five scores, composite, whether all five scores are
-- identical, and the ratee's robust leave-one-out consensus (quality.md, "What a definition must
-- survive"): the median of the ratee's other raters' composites, any tier, self-ratings excluded, every
-- row of the rater under test left out (a rater who rated the ratee in two tiers counts once, with the
-- mean of its rows). One dishonest rater moves a median by at most one rank, where it moved the plain
-- mean by its whole excess. Also where the rating stands among the other raters of the ratee
-- (n_others_below strictly lower, n_others_tied equal), for the rank-based tests of A7.
-- Unit-grain (tag unit_grain): every statistic here is within one ratee of one unit, so a unit-scoped
-- build rewrites only the scoped units' rows.
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

-- Per ratee, the number of raters, the three order statistics of their values that the leave-one-out
-- medians need (loo_median_from_stats) and the sorted values themselves, which place each rater among the
-- others: strictly below (what rank() − 1 counts) and equal (the peers of a range frame, less itself).
-- Counted in the ratee's list (~12 values), joined once per rater of the ratee, instead of a window sort
-- over every rater partitioned by ratee and a second join of its result with these statistics.
ratee_lists as (
    select
        quarter,
        unit_code,
        ratee_code,
        n_raters,
        sorted_values[n_raters // 2] as value_1,
        sorted_values[n_raters // 2 + 1] as value_2,
        sorted_values[n_raters // 2 + 2] as value_3,
        sorted_values
    from (
        select
            quarter,
            unit_code,
            ratee_code,
            list_sort(list(rater_value)) as sorted_values,
            count(*) as n_raters
        from rater_values
        group by quarter, unit_code, ratee_code
    ) as ratee_values
),

rater_places as (
    select
        rater_values.*,
        ratee_lists.n_raters,
        ratee_lists.value_1,
        ratee_lists.value_2,
        ratee_lists.value_3,
        ratee_lists.sorted_values
    from rater_values
    inner join ratee_lists
        on
            rater_values.quarter = ratee_lists.quarter
            and rater_values.unit_code = ratee_lists.unit_code
            and rater_values.ratee_code = ratee_lists.ratee_code
),

rater_consensus as (
    select
        quarter,
        unit_code,
        ratee_code,
        rater_code,
        cast(n_raters - 1 as integer) as n_other_raters,
        cast(len(list_filter(sorted_values, lambda v: v < rater_value)) as integer) as n_others_below,
        cast(len(list_filter(sorted_values, lambda v: v = rater_value)) - 1 as integer) as n_others_tied,
        {{ loo_median_from_stats('rater_value', 'n_raters - 1', 'value_1', 'value_2', 'value_3') }} as consensus_score
    from rater_places
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
            -- the median of all n: the middle value, or the mean of the two middle ones
            when joined.is_self_rating
                then
                    case
                        when ratee_lists.n_raters % 2 = 1 then ratee_lists.value_2
                        else (ratee_lists.value_1 + ratee_lists.value_2) / 2.0
                    end
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
