-- Rater findings on a rater's own rows (quality.md; self-ratings excluded; a rater is (tier, code) in a
-- unit and quarter).
-- A2 straight_lining: identical five scores in ≥ min_identical_share of the rater's rows below the ceiling
-- (an all-100 vector is what an honest lenient rater gives: those rows count neither way), ≥ min_ratees
-- such ratees. Reported on that share (it is seen, not inferred); the binomial q value of the identical
-- rows against the city-quarter's own rate of identical vectors (BH over the raters tested) sets severity.
-- A5 no_discrimination (central tendency): the rater's composites vary far less than the same ratees'
-- robust consensus does — std ratio ≤ max_std_ratio while that consensus std is ≥ min_reference_std — and
-- a chi-square test of the rater's variance against the consensus variance (an honest rater's varies at
-- least as much: the ratees' differences plus its own noise) gives q ≤ max_q (BH over the raters tested
-- in the quarter). Ceiling-bound raters (more than max_ceiling_share of rows within a point of the top) and raters
-- reported as A3/A4 are flat because they sit at an extreme: leniency or severity, not central tendency.
with rules as (
    select * from {{ ref('int_rules') }}
),

ratings as (
    select
        ratings.*,
        ratings.n_other_raters >= rules.q_consensus_min_other_raters as has_consensus,
        {{ comparable('ratings.composite_score') }} >= rules.q_max_score - 1 as is_near_ceiling
    from {{ ref('int_quality_ratings') }} as ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where {{ in_selected_quarter('ratings.quarter') }} and not ratings.is_self_rating
),

leniency_findings as (
    select * from {{ ref('int_findings_leniency') }}
    where {{ in_selected_quarter() }}
),

raters as (
    select
        ratings.quarter,
        ratings.rules_year,
        ratings.unit_code,
        ratings.rater_tier,
        ratings.rater_code,
        -- a rater rates a ratee once (stg_ratings is unique on quarter, unit, ratee, tier, rater): its
        -- rows are its ratees, so plain counts (count distinct kept a set per rater, two extra passes)
        count(*) as n_ratees,
        count(*) filter (where not ratings.is_ceiling_vector) as n_ratees_below,
        count(*) filter (where not ratings.is_ceiling_vector) as n_rows_below,
        count(*) filter (where ratings.is_straight and not ratings.is_ceiling_vector) as n_straight_below,
        -- rows with no room left to differ: composite within one point of the maximum (a rater at 99.7
        -- on average is as ceiling-bound as one giving all 100; counting only all-max vectors let such
        -- raters through as A5 in a ceiling-heavy city)
        avg(case when ratings.is_near_ceiling then 1.0 else 0.0 end) as ceiling_share,
        count(*) filter (where ratings.has_consensus) as n_with_consensus,
        stddev_samp(ratings.composite_score) filter (where ratings.has_consensus) as composite_std,
        stddev_samp(ratings.consensus_score) filter (where ratings.has_consensus) as consensus_std
    from ratings
    group by ratings.quarter, ratings.rules_year, ratings.unit_code, ratings.rater_tier, ratings.rater_code
),

-- A2 -------------------------------------------------------------------------------------------------
straight_rates as (
    select
        quarter,
        sum(n_straight_below) / nullif(sum(n_rows_below), 0) as base_rate
    from raters
    group by quarter
),

straight_tested as (
    select
        raters.*,
        raters.n_straight_below / raters.n_rows_below as straight_share,
        raters.n_straight_below as k,
        raters.n_rows_below as n,
        coalesce(straight_rates.base_rate, 0) as p,
        rules.q_a2_min_identical_share,
        rules.q_a2_strong_q
    from raters
    inner join rules
        on raters.rules_year = rules.rules_year
    inner join straight_rates
        on raters.quarter = straight_rates.quarter
    where raters.n_ratees_below >= rules.q_a2_min_ratees
),

straight_p as {{ binomial_upper_tail('straight_tested', 'quarter, unit_code, rater_tier, rater_code') }},

straight_numbered as (
    select
        straight_tested.*,
        straight_p.p_value
    from straight_tested
    inner join straight_p
        on
            straight_tested.quarter = straight_p.quarter
            and straight_tested.unit_code = straight_p.unit_code
            and straight_tested.rater_tier = straight_p.rater_tier
            and straight_tested.rater_code = straight_p.rater_code
),

straight_q as (
    select * from {{ bh_q_values('straight_numbered', 'p_value', ['quarter']) }} as straight_valued
),

straight_lining as (
    select
        {{ rater_finding_fields(
            'A2', 'straight_lining', 'raters', 'identical_share',
            value='raters.straight_share', threshold='rules.q_a2_min_identical_share', n='raters.n_ratees_below',
            explanation="printf('评议人%s（%s）对%d名被评议人（满分以外）的打分中%.0f%%五项完全相同（q=%.4f），疑似未认真评议。', raters.rater_code, raters.rater_tier, raters.n_ratees_below, 100 * raters.straight_share, raters.q_value)",
            severity=severity_from_confidence('rules.q_a2_severity', 'raters.q_value', 'rules.q_a2_strong_q'),
            confidence='1 - raters.q_value'
        ) }}
    from straight_q as raters
    inner join rules
        on raters.rules_year = rules.rules_year
    where {{ comparable('raters.straight_share') }} >= rules.q_a2_min_identical_share
),

-- A5 -------------------------------------------------------------------------------------------------
flat_tested as (
    select
        raters.*,
        raters.composite_std / raters.consensus_std as std_ratio,
        -- (n − 1)·s²/σ² ~ chi-square(n − 1) when the rater varies like the consensus
        (raters.n_with_consensus - 1) * power(raters.composite_std / raters.consensus_std, 2) as x,
        raters.n_with_consensus - 1 as df
    from raters
    inner join rules
        on raters.rules_year = rules.rules_year
    where
        raters.n_with_consensus >= rules.q_a5_min_ratees
        and {{ comparable('raters.consensus_std') }} >= rules.q_a5_min_reference_std
        and {{ comparable('raters.ceiling_share') }} <= rules.q_a5_max_ceiling_share
        and not exists (
            select 1
            from leniency_findings
            where
                leniency_findings.quarter = raters.quarter
                and leniency_findings.unit_code = raters.unit_code
                and leniency_findings.rater_tier = raters.rater_tier
                and leniency_findings.rater_code = raters.rater_code
        )
),

flat_p as {{ chi_square_lower_tail('flat_tested', 'quarter, unit_code, rater_tier, rater_code') }},

flat_numbered as (
    select
        flat_tested.*,
        flat_p.p_value
    from flat_tested
    inner join flat_p
        on
            flat_tested.quarter = flat_p.quarter
            and flat_tested.unit_code = flat_p.unit_code
            and flat_tested.rater_tier = flat_p.rater_tier
            and flat_tested.rater_code = flat_p.rater_code
),

flat_q as (
    select * from {{ bh_q_values('flat_numbered', 'p_value', ['quarter']) }} as flat_valued
),

no_discrimination as (
    select
        {{ rater_finding_fields(
            'A5', 'no_discrimination', 'raters', 'std_ratio_to_consensus',
            value='raters.std_ratio', threshold='rules.q_a5_max_std_ratio', n='raters.n_with_consensus',
            explanation="printf('评议人%s（%s）对%d名被评议人的综合分标准差仅%.2f，而其他评议人对同一批人的中位分标准差为%.2f（q=%.4f），打分趋中、未拉开差距。', raters.rater_code, raters.rater_tier, raters.n_with_consensus, raters.composite_std, raters.consensus_std, raters.q_value)",
            severity=severity_from_confidence('rules.q_a5_severity', 'raters.q_value', 'rules.q_a5_strong_q'),
            confidence='1 - raters.q_value'
        ) }}
    from flat_q as raters
    inner join rules
        on raters.rules_year = rules.rules_year
    where {{ comparable('raters.std_ratio') }} <= rules.q_a5_max_std_ratio and raters.q_value <= rules.q_a5_max_q
)

select * from straight_lining
union all
select * from no_discrimination
