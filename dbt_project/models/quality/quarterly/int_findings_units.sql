-- Unit-quarter findings (quality.md): U2 rating_work_decoupling (≥ min_participants participants with
-- both S_task and S_eval and Spearman(S_task, S_eval) ≤ max_spearman, average ranks for ties) and U3
-- score_inflation (the unit's mean S_eval has robust z ≥ robust_z among units of the same level in the
-- quarter).
with persons as (
    select * from {{ ref('fct_person_quarter') }}
    where {{ in_selected_quarter() }}
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
        task_score,
        eval_score,
        {{ average_rank('task_score', 'quarter, unit_code') }} as task_rank,
        {{ average_rank('eval_score', 'quarter, unit_code') }} as eval_rank
    from persons
    where is_participant and task_score is not null and eval_score is not null
),

decoupling as (
    select
        quarter,
        {{ quarter_year('quarter') }} as rules_year,
        unit_code,
        count(*) as n_participants,
        corr(task_rank, eval_rank) as spearman
    from paired
    group by quarter, unit_code
),

rating_work_decoupling as (
    select
        {{ finding_fields(
            "'U2'", "'rating_work_decoupling'", 'rules.q_u2_severity', 'decoupling.quarter', 'decoupling.quarter',
            'decoupling.rules_year', 'decoupling.unit_code',
            metric="'spearman_task_eval'", value='decoupling.spearman',
            threshold='rules.q_u2_max_spearman', n='decoupling.n_participants',
            explanation="printf('单位%s本季度%d名参评人员的评议分与基础分的等级相关系数为%.2f，评议结果与工作实绩脱节（考人考事脱节），请复核评议过程。', decoupling.unit_code, decoupling.n_participants, decoupling.spearman)",
            rules_version='rules.rules_version'
        ) }}
    from decoupling
    inner join rules
        on decoupling.rules_year = rules.rules_year
    where
        decoupling.n_participants >= rules.q_u2_min_participants
        and decoupling.spearman <= rules.q_u2_max_spearman
),

unit_means as (
    select
        persons.quarter,
        {{ quarter_year('persons.quarter') }} as rules_year,
        persons.unit_code,
        units.unit_level,
        avg(persons.eval_score) as mean_eval,
        count(*) as n_rated
    from persons
    inner join units
        on persons.unit_code = units.unit_code
    where persons.eval_score is not null
    group by persons.quarter, persons.unit_code, units.unit_level
),

level_medians as (
    select quarter, unit_level, median(mean_eval) as median_eval
    from unit_means
    group by quarter, unit_level
),

level_mads as (
    select
        unit_means.quarter,
        unit_means.unit_level,
        median(abs(unit_means.mean_eval - level_medians.median_eval)) as mad_eval
    from unit_means
    inner join level_medians
        on unit_means.quarter = level_medians.quarter and unit_means.unit_level = level_medians.unit_level
    group by unit_means.quarter, unit_means.unit_level
),

inflation as (
    select
        unit_means.*,
        (unit_means.mean_eval - level_medians.median_eval)
        / nullif(rules.q_mad_scale * level_mads.mad_eval, 0) as robust_z_value,
        rules.q_u3_robust_z,
        rules.q_u3_severity,
        rules.rules_version
    from unit_means
    inner join level_medians
        on unit_means.quarter = level_medians.quarter and unit_means.unit_level = level_medians.unit_level
    inner join level_mads
        on unit_means.quarter = level_mads.quarter and unit_means.unit_level = level_mads.unit_level
    inner join rules
        on unit_means.rules_year = rules.rules_year
),

score_inflation as (
    select
        {{ finding_fields(
            "'U3'", "'score_inflation'", 'q_u3_severity', 'quarter', 'quarter', 'rules_year', 'unit_code',
            metric="'robust_z_mean_eval'", value='robust_z_value', threshold='q_u3_robust_z', n='n_rated',
            explanation="printf('单位%s本季度评议平均分%.1f，在同级单位中稳健z=%.1f，评议分明显虚高，请复核。', unit_code, mean_eval, robust_z_value)",
            rules_version='rules_version'
        ) }}
    from inflation
    where robust_z_value >= q_u3_robust_z
)

select * from rating_work_decoupling
union all
select * from score_inflation
