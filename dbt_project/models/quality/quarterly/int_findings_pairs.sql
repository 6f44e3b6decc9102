-- Rater-pair findings (quality.md; self-ratings excluded; a pair is ordered so that (tier, code) <
-- (tier_2, code_2)): A6 collusion (≥ min_shared_ratees shared ratees with identical five-score vectors
-- for ≥ min_identical_share of them) and A7 reciprocal_inflation (two peers, raters of the same tier,
-- rate each other ≥ min_points_above points above the consensus of the ratee's other raters).
with ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }} and not is_self_rating
),

rules as (
    select * from {{ ref('int_rules') }}
),

shared as (
    select
        a.quarter,
        a.rules_year,
        a.unit_code,
        a.rater_tier,
        a.rater_code,
        b.rater_tier as rater_tier_2,
        b.rater_code as rater_code_2,
        -- A rater rates a ratee once (stg_ratings is unique on quarter, unit, ratee, tier, rater), so
        -- each joined row is one shared ratee: plain counts, which DuckDB can aggregate in bounded
        -- memory (count distinct kept a set per pair: 5.6 GB for a 16-city province).
        count(*) as n_shared,
        count(*) filter (
            where
            a.score_intensity = b.score_intensity
            and a.score_difficulty = b.score_difficulty
            and a.score_quantity = b.score_quantity
            and a.score_effect = b.score_effect
            and a.score_measures = b.score_measures
        ) as n_identical
    from ratings as a
    inner join ratings as b
        on
            a.quarter = b.quarter
            and a.unit_code = b.unit_code
            and a.ratee_code = b.ratee_code
            and a.rater_code <> b.rater_code
            and (a.rater_tier < b.rater_tier or (a.rater_tier = b.rater_tier and a.rater_code < b.rater_code))
    group by a.quarter, a.rules_year, a.unit_code, a.rater_tier, a.rater_code, b.rater_tier, b.rater_code
),

collusion as (
    select
        {{ pair_finding_fields(
            'A6', 'collusion', 'shared', 'identical_share',
            value='shared.n_identical / shared.n_shared', threshold='rules.q_a6_min_identical_share',
            n='shared.n_shared',
            explanation="printf('评议人%s（%s）与%s（%s）对%d名共同被评议人中的%d名五项打分完全相同，疑似串通打分。', shared.rater_code, shared.rater_tier, shared.rater_code_2, shared.rater_tier_2, shared.n_shared, shared.n_identical)"
        ) }}
    from shared
    inner join rules
        on shared.rules_year = rules.rules_year
    where
        shared.n_shared >= rules.q_a6_min_shared_ratees
        and shared.n_identical >= rules.q_a6_min_identical_share * shared.n_shared
),

reciprocal as (
    select
        a.quarter,
        a.rules_year,
        a.unit_code,
        a.rater_tier,
        a.rater_code,
        b.rater_tier as rater_tier_2,
        b.rater_code as rater_code_2,
        a.composite_score - a.consensus_score as excess_1,
        b.composite_score - b.consensus_score as excess_2
    from ratings as a
    inner join ratings as b
        on
            a.quarter = b.quarter
            and a.unit_code = b.unit_code
            and a.rater_code = b.ratee_code
            and a.ratee_code = b.rater_code
            and a.rater_tier = b.rater_tier
            and a.rater_code < b.rater_code
),

reciprocal_inflation as (
    select
        {{ pair_finding_fields(
            'A7', 'reciprocal_inflation', 'reciprocal', 'min_points_above_consensus',
            value='least(reciprocal.excess_1, reciprocal.excess_2)', threshold='rules.q_a7_min_points_above',
            n='2',
            explanation="printf('%s与%s（%s）互评均明显高于其他评议人的平均分（分别高%.1f分、%.1f分），疑似互相抬分。', reciprocal.rater_code, reciprocal.rater_code_2, reciprocal.rater_tier, reciprocal.excess_1, reciprocal.excess_2)"
        ) }}
    from reciprocal
    inner join rules
        on reciprocal.rules_year = rules.rules_year
    where
        reciprocal.excess_1 >= rules.q_a7_min_points_above
        and reciprocal.excess_2 >= rules.q_a7_min_points_above
)

select * from collusion
union all
select * from reciprocal_inflation
