-- Every unit-quarter tested for U2 and U3, with its statistic, the honest-unit null it is compared with,
-- a one-sided p value and the Benjamini–Hochberg q value over the units tested in the quarter
-- (docs/quality.md, "Unit-level findings"). int_findings_units turns the rows with is_finding into
-- findings; fct_review_queue reads p and q from here.
--
-- U2 rating_work_decoupling: Spearman(S_task, S_eval) of the unit's participants. The null is what an
--   honest unit of this size shows in this city this quarter: Fisher z of the unit's rho against the
--   median z over the units tested, with the sampling variance 1.06 / (n − 3) of a Spearman z (Fieller,
--   Hartley & Pearson 1957) plus the between-unit variance τ² the city shows beyond sampling (robust:
--   the least τ at which the median standardised deviation is the normal's 0.6745; macro
--   between_unit_sd). p = Φ(standardised z), lower tail.
-- U3 score_inflation: the unit's mean S_eval in excess of what its level group gives a unit of its mean
--   S_task (least-squares line over the level's units, slope ≥ 0; the excess is measured from the
--   level's median residual). Scale: the level's robust spread of residuals shrunk toward the city's
--   (weight: rules prior_units), at least 0.25 points. p = 1 − Φ(excess / scale). Effect floor:
--   min_excess_points, or min_headroom_share of the room between the expectation and 100 if less.
--
-- The persons are fct_person_quarter's rows (int_quarter_persons with a rules year) and the three columns
-- these tests use, read from the models fct_person_quarter copies them from: read from the mart, this view
-- and the quarter's findings (int_findings_units → fct_rating_findings_quarterly) waited for
-- int_person_quarter_scores, fct_person_quarter and both models' data tests, which decide nothing here.
with persons as (
    select
        quarter_persons.quarter,
        quarter_persons.unit_code,
        quarter_persons.is_participant,
        base_scores.task_score,
        eval_scores.eval_score
    from {{ ref('int_quarter_persons') }} as quarter_persons
    inner join {{ ref('int_rules') }} as person_rules
        on quarter_persons.rules_year = person_rules.rules_year
    left join {{ ref('int_person_base_score') }} as base_scores
        on
            quarter_persons.quarter = base_scores.quarter
            and quarter_persons.unit_code = base_scores.unit_code
            and quarter_persons.person_code = base_scores.person_code
    left join {{ ref('int_person_eval_score') }} as eval_scores
        on
            quarter_persons.quarter = eval_scores.quarter
            and quarter_persons.unit_code = eval_scores.unit_code
            and quarter_persons.person_code = eval_scores.person_code
    where {{ in_selected_quarter('quarter_persons.quarter') }}
),

units as (
    select * from {{ ref('stg_units') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

paired as (
    select
        quarter,
        unit_code,
        {{ average_rank('task_score', 'quarter, unit_code') }} as task_rank,
        {{ average_rank('eval_score', 'quarter, unit_code') }} as eval_rank
    from persons
    where is_participant and task_score is not null and eval_score is not null
),

coupling as (
    select
        paired.quarter,
        {{ quarter_year('paired.quarter') }} as rules_year,
        paired.unit_code,
        count(*) as n,
        corr(paired.task_rank, paired.eval_rank) as spearman
    from paired
    group by paired.quarter, paired.unit_code
),

u2_tested as (
    select
        coupling.*,
        {{ fisher_z('coupling.spearman') }} as z_unit,
        1.06 / (coupling.n - 3) as sampling_var,
        rules.q_u2_max_spearman as max_spearman,
        rules.q_u2_max_q as max_q,
        rules.q_u2_min_reference_units as min_reference_units
    from coupling
    inner join rules
        on coupling.rules_year = rules.rules_year
    where coupling.n >= rules.q_u2_min_participants and coupling.spearman is not null and not isnan(coupling.spearman)
),

u2_null as (
    select
        quarter,
        count(*) as n_units,
        median(z_unit) as z_center
    from u2_tested
    group by quarter
),

u2_spread as (
    {{ between_unit_sd('u2_tested', 'u2_null', ['quarter']) }}
),

u2_scored as (
    select
        u2_tested.*,
        u2_null.n_units,
        tanh(u2_null.z_center) as reference,
        (u2_tested.z_unit - u2_null.z_center) / sqrt(u2_tested.sampling_var + power(u2_spread.tau, 2)) as z_stat
    from u2_tested
    inner join u2_null on u2_tested.quarter = u2_null.quarter
    inner join u2_spread on u2_tested.quarter = u2_spread.quarter
    where u2_null.n_units >= u2_tested.min_reference_units
),

u2_p as (
    select
        *,
        {{ normal_cdf('z_stat') }} as p_value
    from u2_scored
),

u2_ranked as (
    select
        *,
        {{ bh_rank_columns('p_value', 'quarter', 'unit_code') }}
    from u2_p
),

u2 as (
    select
        'U2' as code,
        quarter,
        rules_year,
        unit_code,
        n,
        spearman as statistic,
        reference,
        z_stat,
        p_value,
        {{ bh_q_value('p_value', 'quarter', 'unit_code') }} as q_value,
        max_q,
        max_spearman as effect_threshold,
        n_units
    from u2_ranked
),

unit_means as (
    select
        persons.quarter,
        {{ quarter_year('persons.quarter') }} as rules_year,
        persons.unit_code,
        units.unit_level,
        count(*) as n,
        avg(persons.eval_score) as mean_eval,
        avg(persons.task_score) as mean_task
    from persons
    inner join units
        on persons.unit_code = units.unit_code
    where persons.is_participant and persons.eval_score is not null
    group by persons.quarter, persons.unit_code, units.unit_level
),

level_fit as (
    select
        quarter,
        unit_level,
        count(*) as n_level_units,
        avg(mean_task) as level_task,
        greatest(0.0, coalesce(regr_slope(mean_eval, mean_task), 0.0)) as slope
    from unit_means
    group by quarter, unit_level
),

residuals as (
    select
        unit_means.*,
        level_fit.n_level_units,
        unit_means.mean_eval
        - level_fit.slope * (coalesce(unit_means.mean_task, level_fit.level_task) - level_fit.level_task)
            as residual
    from unit_means
    inner join level_fit
        on unit_means.quarter = level_fit.quarter and unit_means.unit_level = level_fit.unit_level
),

level_centre as (
    select
        quarter,
        unit_level,
        median(residual) as centre
    from residuals
    group by quarter, unit_level
),

centred as (
    select
        residuals.*,
        level_centre.centre,
        residuals.residual - level_centre.centre as excess
    from residuals
    inner join level_centre
        on residuals.quarter = level_centre.quarter and residuals.unit_level = level_centre.unit_level
),

level_scale as (
    select
        quarter,
        unit_level,
        1.4826 * median(abs(excess)) as level_mad_scale
    from centred
    group by quarter, unit_level
),

city_scale as (
    select
        quarter,
        count(*) as n_units,
        1.4826 * median(abs(excess)) as city_mad_scale
    from centred
    group by quarter
),

u3_scored as (
    select
        centred.*,
        city_scale.n_units,
        rules.q_u3_max_q as max_q,
        rules.q_u3_min_excess_points as min_excess_points,
        rules.q_u3_min_headroom_share as min_headroom_share,
        greatest(
            0.25,
            sqrt(
                (
                    centred.n_level_units * power(level_scale.level_mad_scale, 2)
                    + rules.q_u3_prior_units * power(city_scale.city_mad_scale, 2)
                )
                / (centred.n_level_units + rules.q_u3_prior_units)
            )
        ) as scale
    from centred
    inner join level_scale
        on centred.quarter = level_scale.quarter and centred.unit_level = level_scale.unit_level
    inner join city_scale
        on centred.quarter = city_scale.quarter
    inner join rules
        on centred.rules_year = rules.rules_year
    where city_scale.n_units >= rules.q_u3_min_reference_units
),

u3_p as (
    select
        *,
        excess / scale as z_stat,
        1.0 - {{ normal_cdf('excess / scale') }} as p_value
    from u3_scored
),

u3_ranked as (
    select
        *,
        {{ bh_rank_columns('p_value', 'quarter', 'unit_code') }}
    from u3_p
),

u3 as (
    select
        'U3' as code,
        quarter,
        rules_year,
        unit_code,
        n,
        excess as statistic,
        centre + (mean_eval - residual) as reference,
        z_stat,
        p_value,
        {{ bh_q_value('p_value', 'quarter', 'unit_code') }} as q_value,
        max_q,
        -- the floor respects the ceiling: never more than a share of the room left below 100
        least(min_excess_points, min_headroom_share * (100.0 - (centre + (mean_eval - residual))))
            as effect_threshold,
        n_units
    from u3_ranked
),

unioned as (
    select * from u2
    union all
    select * from u3
)

select
    unioned.*,
    unioned.q_value <= unioned.max_q
    and case
        when unioned.code = 'U2' then {{ comparable('unioned.statistic') }} <= {{ comparable('unioned.effect_threshold') }}
        else {{ comparable('unioned.statistic') }} >= {{ comparable('unioned.effect_threshold') }}
    end as is_finding
from unioned
