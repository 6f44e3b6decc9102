-- Rater findings on a rater's own rows (quality.md; self-ratings excluded; a rater is (tier, code) in a
-- unit and quarter): A2 straight_lining (identical five scores in ≥ min_identical_share of the rater's
-- rows, ≥ min_ratees ratees) and A5 no_discrimination (≥ min_ratees ratees, std of the composites
-- < max_std while the median std of the unit's other raters with ≥ min_ratees ratees is ≥
-- min_unit_median_std). A5 is central tendency: a rater whose flat scores sit at an extreme (everyone
-- near 100, or near the floor) is lenient or severe and reported as A3/A4 (int_findings_leniency), not
-- a second time as A5.
with ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }} and not is_self_rating
),

rules as (
    select * from {{ ref('int_rules') }}
),

leniency_findings as (
    select * from {{ ref('int_findings_leniency') }}
    where {{ in_selected_quarter() }}
),

raters as (
    select
        quarter,
        rules_year,
        unit_code,
        rater_tier,
        rater_code,
        count(distinct ratee_code) as n_ratees,
        count(*) as n_rows,
        avg(case when is_straight then 1.0 else 0.0 end) as straight_share,
        stddev_samp(composite_score) as composite_std
    from ratings
    group by quarter, rules_year, unit_code, rater_tier, rater_code
),

straight_lining as (
    select
        {{ rater_finding_fields(
            'A2', 'straight_lining', 'raters', 'identical_share',
            value='raters.straight_share', threshold='rules.q_a2_min_identical_share', n='raters.n_ratees',
            explanation="printf('评议人%s（%s）对%d名被评议人的打分中%.0f%%五项完全相同，疑似未认真评议。', raters.rater_code, raters.rater_tier, raters.n_ratees, 100 * raters.straight_share)"
        ) }}
    from raters
    inner join rules
        on raters.rules_year = rules.rules_year
    where
        raters.n_ratees >= rules.q_a2_min_ratees
        and raters.straight_share >= rules.q_a2_min_identical_share
),

eligible as (
    select raters.*
    from raters
    inner join rules
        on raters.rules_year = rules.rules_year
    where raters.n_ratees >= rules.q_a5_min_ratees and raters.composite_std is not null
),

-- The median std of the unit's other eligible raters, for each eligible rater.
unit_medians as (
    select
        tested.quarter,
        tested.unit_code,
        tested.rater_tier,
        tested.rater_code,
        median(others.composite_std) as others_median_std,
        count(*) as n_others
    from eligible as tested
    inner join eligible as others
        on
            tested.quarter = others.quarter
            and tested.unit_code = others.unit_code
            and not (tested.rater_tier = others.rater_tier and tested.rater_code = others.rater_code)
    group by tested.quarter, tested.unit_code, tested.rater_tier, tested.rater_code
),

no_discrimination as (
    select
        {{ rater_finding_fields(
            'A5', 'no_discrimination', 'eligible', 'composite_std',
            value='eligible.composite_std', threshold='rules.q_a5_max_std', n='eligible.n_ratees',
            explanation="printf('评议人%s（%s）对%d名被评议人的综合分标准差仅%.2f，而本单位其他评议人的中位数为%.2f，打分趋中、未拉开差距。', eligible.rater_code, eligible.rater_tier, eligible.n_ratees, eligible.composite_std, unit_medians.others_median_std)"
        ) }}
    from eligible
    inner join unit_medians
        on
            eligible.quarter = unit_medians.quarter
            and eligible.unit_code = unit_medians.unit_code
            and eligible.rater_tier = unit_medians.rater_tier
            and eligible.rater_code = unit_medians.rater_code
    inner join rules
        on eligible.rules_year = rules.rules_year
    where
        eligible.composite_std < rules.q_a5_max_std
        and unit_medians.others_median_std >= rules.q_a5_min_unit_median_std
        and not exists (
            select 1
            from leniency_findings
            where
                leniency_findings.quarter = eligible.quarter
                and leniency_findings.unit_code = eligible.unit_code
                and leniency_findings.rater_tier = eligible.rater_tier
                and leniency_findings.rater_code = eligible.rater_code
        )
)

select * from straight_lining
union all
select * from no_discrimination
