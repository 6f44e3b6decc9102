-- A3 lenient_rater / A4 severe_rater (quality.md): a rater's mean residual (composite − the ratee's
-- leave-one-out consensus, self-ratings excluded) over ≥ min_ratees ratees, as a robust z
-- (x − median) / (mad_scale · MAD) among all raters of the same tier city-wide in the quarter with
-- ≥ min_ratees ratees; A3 when z ≥ robust_z, A4 when z ≤ −robust_z. Rows that are A8 outlier ratings
-- (is_outlier_rating) are left out of the mean: one wild row is reported once, as A8, and does not make a
-- rater with a handful of ratees look severe (or lenient); a rater is lenient or severe across their rows.
with rules as (
    select * from {{ ref('int_rules') }}
),

ratings as (
    select ratings.*
    from {{ ref('int_quality_ratings') }} as ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where
        {{ in_selected_quarter('ratings.quarter') }}
        and not ratings.is_self_rating
        and ratings.consensus_score is not null
        and not {{ is_outlier_rating('ratings', 'rules') }}
),

raters as (
    select
        quarter,
        rules_year,
        unit_code,
        rater_tier,
        rater_code,
        count(distinct ratee_code) as n_ratees,
        avg(composite_score - consensus_score) as mean_residual
    from ratings
    group by quarter, rules_year, unit_code, rater_tier, rater_code
),

configs as (
    select
        rules_year,
        'A3' as code,
        'lenient_rater' as type,
        q_a3_severity as severity,
        q_a3_min_ratees as min_ratees,
        q_a3_robust_z as robust_z,
        1 as direction,
        q_mad_scale as mad_scale,
        rules_version
    from rules
    union all
    select
        rules_year,
        'A4' as code,
        'severe_rater' as type,
        q_a4_severity as severity,
        q_a4_min_ratees as min_ratees,
        q_a4_robust_z as robust_z,
        -1 as direction,
        q_mad_scale as mad_scale,
        rules_version
    from rules
),

population as (
    select
        configs.*,
        raters.quarter,
        raters.unit_code,
        raters.rater_tier,
        raters.rater_code,
        raters.n_ratees,
        raters.mean_residual
    from raters
    inner join configs
        on raters.rules_year = configs.rules_year
    where raters.n_ratees >= configs.min_ratees
),

tier_medians as (
    select
        code,
        quarter,
        rater_tier,
        median(mean_residual) as median_residual
    from population
    group by code, quarter, rater_tier
),

tier_mads as (
    select
        population.code,
        population.quarter,
        population.rater_tier,
        median(abs(population.mean_residual - tier_medians.median_residual)) as mad_residual,
        count(*) as n_tier_raters
    from population
    inner join tier_medians
        on
            population.code = tier_medians.code
            and population.quarter = tier_medians.quarter
            and population.rater_tier = tier_medians.rater_tier
    group by population.code, population.quarter, population.rater_tier
),

scored as (
    select
        population.*,
        tier_mads.n_tier_raters,
        (population.mean_residual - tier_medians.median_residual)
        / nullif(population.mad_scale * tier_mads.mad_residual, 0) as robust_z_value
    from population
    inner join tier_medians
        on
            population.code = tier_medians.code
            and population.quarter = tier_medians.quarter
            and population.rater_tier = tier_medians.rater_tier
    inner join tier_mads
        on
            population.code = tier_mads.code
            and population.quarter = tier_mads.quarter
            and population.rater_tier = tier_mads.rater_tier
),

final as (
    select
        {{ finding_fields(
            'code', 'type', 'severity', 'quarter', 'quarter', 'rules_year', 'unit_code',
            rater_tier='rater_tier', rater_code='rater_code',
            metric="'robust_z_mean_residual'", value='robust_z_value', threshold='direction * robust_z',
            n='n_ratees',
            explanation="printf('评议人%s（%s）对%d名被评议人的打分平均比其他评议人%s%.1f分（全市同类评议人中稳健z=%.1f），评分明显偏%s，请复核。', rater_code, rater_tier, n_ratees, case when direction = 1 then '高' else '低' end, abs(mean_residual), robust_z_value, case when direction = 1 then '宽' else '严' end)",
            rules_version='rules_version'
        ) }}
    from scored
    where direction * robust_z_value >= robust_z
)

select * from final
