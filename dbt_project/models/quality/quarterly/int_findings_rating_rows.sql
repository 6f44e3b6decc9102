-- Rating-row findings (quality.md): A1 self_rating (rater_code = ratee_code) and A8 outlier_rating.
-- A8: a row ≥ min_distance points from the ratee's robust consensus (the median of ≥ min_other_raters other
-- raters, int_quality_ratings), and unusual for the city: two-sided normal tail of residual / σ, σ the
-- robust spread (1.4826 · MAD) of the residuals of the rows of the rater's tier in the quarter (all tiers
-- pooled when the tier has fewer than min_pool_raters raters), Benjamini–Hochberg q ≤ max_q over all rows
-- tested in the quarter. One rater, one finding: the rows of a rater reported as A3/A4 in the quarter are
-- evidence of that finding (int_findings_leniency), not separate A8 findings.
with ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

leniency_findings as (
    select * from {{ ref('int_findings_leniency') }}
    where {{ in_selected_quarter() }}
),

self_ratings as (
    select
        {{ finding_fields(
            "'A1'", "'self_rating'", 'rules.q_a1_severity', 'ratings.quarter', 'ratings.quarter',
            'ratings.rules_year', 'ratings.unit_code',
            rater_tier='ratings.rater_tier', rater_code='ratings.rater_code', ratee_code='ratings.ratee_code',
            metric="'composite_score'", value='ratings.composite_score', n='1',
            explanation="printf('评议人%s（%s）给自己打分（综合分%.1f），自评不计入评议分，请核实并提醒单位。', ratings.rater_code, ratings.rater_tier, ratings.composite_score)",
            rules_version='rules.rules_version', confidence='1.0'
        ) }}
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where ratings.is_self_rating
),

tested as (
    select
        ratings.*,
        ratings.composite_score - ratings.consensus_score as residual,
        rules.q_a8_severity,
        rules.q_a8_min_distance,
        rules.q_a8_max_q,
        rules.q_mad_scale,
        rules.q_consensus_min_pool_raters,
        rules.rules_version
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where
        not ratings.is_self_rating
        and ratings.consensus_score is not null
        and ratings.n_other_raters >= rules.q_a8_min_other_raters
),

-- the raters (unit, code) of each tier: the rows grouped to raters first, then counted (a count distinct
-- over a concatenated key kept a set of strings per tier)
tier_sizes as (
    select
        quarter,
        rater_tier,
        count(*) as n_tier_raters
    from (
        select distinct
            quarter,
            rater_tier,
            unit_code,
            rater_code
        from tested
    ) as tier_raters
    group by quarter, rater_tier
),

pooled as (
    select
        tested.*,
        case
            when tier_sizes.n_tier_raters >= tested.q_consensus_min_pool_raters then tested.rater_tier else '*'
        end as pool
    from tested
    inner join tier_sizes
        on tested.quarter = tier_sizes.quarter and tested.rater_tier = tier_sizes.rater_tier
),

memberships as (
    select
        quarter,
        rater_tier as pool,
        residual
    from tested
    union all
    select
        quarter,
        '*' as pool,
        residual
    from tested
),

pool_centres as (
    select
        quarter,
        pool,
        median(residual) as centre
    from memberships
    group by quarter, pool
),

pool_spreads as (
    select
        memberships.quarter,
        memberships.pool,
        median(abs(memberships.residual - pool_centres.centre)) as mad_residual
    from memberships
    inner join pool_centres
        on memberships.quarter = pool_centres.quarter and memberships.pool = pool_centres.pool
    group by memberships.quarter, memberships.pool
),

tailed as (
    select
        pooled.*,
        2 * {{ normal_upper_tail('abs_z') }} as p_value
    from (
        select
            pooled.*,
            abs(pooled.residual) / nullif(pooled.q_mad_scale * pool_spreads.mad_residual, 0) as abs_z
        from pooled
        inner join pool_spreads
            on pooled.quarter = pool_spreads.quarter and pooled.pool = pool_spreads.pool
    ) as pooled
),

q_valued as (
    select * from {{ bh_q_values('tailed', 'coalesce(p_value, 0)', ['quarter']) }} as numbered
),

outliers as (
    select
        {{ finding_fields(
            "'A8'", "'outlier_rating'", 'q_a8_severity', 'quarter', 'quarter', 'rules_year', 'unit_code',
            rater_tier='rater_tier', rater_code='rater_code', ratee_code='ratee_code',
            metric="'distance_from_consensus'", value='residual', threshold='q_a8_min_distance', n='n_other_raters',
            explanation="printf('评议人%s（%s）给%s的综合分%.1f，与其他%d名评议人的中位分%.1f相差%.1f分，属离群评分（q=%.4f），请核实。', rater_code, rater_tier, ratee_code, composite_score, n_other_raters, consensus_score, residual, q_value)",
            rules_version='rules_version', confidence='1 - q_value'
        ) }}
    from q_valued
    where
        {{ comparable('abs(residual)') }} >= q_a8_min_distance
        and q_value <= q_a8_max_q
        and not exists (
            select 1
            from leniency_findings
            where
                leniency_findings.quarter = q_valued.quarter
                and leniency_findings.unit_code = q_valued.unit_code
                and leniency_findings.rater_tier = q_valued.rater_tier
                and leniency_findings.rater_code = q_valued.rater_code
        )
)

select * from self_ratings
union all
select * from outliers
