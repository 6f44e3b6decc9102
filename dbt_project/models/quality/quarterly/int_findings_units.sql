-- Unit-quarter findings U2 rating_work_decoupling and U3 score_inflation: the unit-quarters of
-- int_unit_tests_quarter whose Benjamini–Hochberg q value is at most the rules' max_q and whose effect
-- passes the rules' floor (U2: Spearman ≤ max_spearman; U3: excess ≥ min_excess_points). The finding's
-- value is the effect (Spearman, or excess points); the explanation gives p and q, confidence is 1 − q
-- (docs/quality.md).
with tests as (
    select * from {{ ref('int_unit_tests_quarter') }}
    where is_finding and {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

rating_work_decoupling as (
    select
        {{ finding_fields(
            "'U2'", "'rating_work_decoupling'", 'rules.q_u2_severity', 'tests.quarter', 'tests.quarter',
            'tests.rules_year', 'tests.unit_code',
            metric="'spearman_task_eval'", value='tests.statistic',
            threshold='tests.effect_threshold', n='tests.n',
            explanation="printf('单位%s本季度%d名参评人员的评议分与基础分等级相关系数为%.2f，而本市同期诚实单位的典型值为%.2f；按同规模单位的零分布，p=%.2g，错误发现率校正后q=%.2g。评议结果与工作实绩脱节（考人考事脱节），请复核评议过程。', tests.unit_code, tests.n, tests.statistic, tests.reference, tests.p_value, tests.q_value)",
            rules_version='rules.rules_version', confidence='1 - tests.q_value'
        ) }}
    from tests
    inner join rules
        on tests.rules_year = rules.rules_year
    where tests.code = 'U2'
),

score_inflation as (
    select
        {{ finding_fields(
            "'U3'", "'score_inflation'", 'rules.q_u3_severity', 'tests.quarter', 'tests.quarter',
            'tests.rules_year', 'tests.unit_code',
            metric="'excess_mean_eval_points'", value='tests.statistic',
            threshold='tests.effect_threshold', n='tests.n',
            explanation="printf('单位%s本季度评议平均分比同级单位按其工作实绩（基础分）应得的水平%.1f高出%.1f分；对照同级单位的离散程度，p=%.2g，错误发现率校正后q=%.2g。评议分明显虚高，请复核。', tests.unit_code, tests.reference, tests.statistic, tests.p_value, tests.q_value)",
            rules_version='rules.rules_version', confidence='1 - tests.q_value'
        ) }}
    from tests
    inner join rules
        on tests.rules_year = rules.rules_year
    where tests.code = 'U3'
)

select * from rating_work_decoupling
union all
select * from score_inflation
