-- Unit-year findings (quality.md), only for years whose four quarters are all present:
-- U1 grade_rotation: the unit-years int_unit_tests_year finds rotating (rank persistence of the stayers'
--   S_eval far below the city's, BH q ≤ max_q, and the 好 going round at least as widely as chance).
-- U4 proposed_grade_gaming: the unit proposed 好 for at least the cap in every quarter of the year while
--   its grade agreement over the year (agreements / proposals) is < max_agreement.
with persons as (
    select * from {{ ref('fct_person_quarter') }}
),

unit_quarters as (
    select * from {{ ref('fct_unit_quarter') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

complete_years as (
    select {{ quarter_year('quarter') }} as rules_year
    from persons
    group by {{ quarter_year('quarter') }}
    having count(distinct {{ quarter_number('quarter') }}) = 4
),

rotation as (
    select * from {{ ref('int_unit_tests_year') }}
    where is_finding
),

grade_rotation as (
    select
        {{ finding_fields(
            "'U1'", "'grade_rotation'", 'rules.q_u1_severity', 'cast(rotation.rules_year as varchar)', 'null',
            'rotation.rules_year', 'rotation.unit_code',
            metric="'max_consecutive_spearman_eval'", value='rotation.max_spearman_pair',
            threshold='rotation.max_spearman', n='rotation.n_stayers',
            explanation="printf('单位%s在%d年全部4个季度参评的%d人中，三组相邻季度评议分排名相关系数最高仅%.2f（平均%.2f，本市同期典型值%.2f，p=%.2g，错误发现率校正后q=%.2g），“好”等次轮换程度为随机分配的%.0f%%，疑似轮流坐庄，请核查评议与等次评定。', rotation.unit_code, rotation.rules_year, rotation.n_stayers, rotation.max_spearman_pair, rotation.mean_spearman, rotation.reference, rotation.p_value, rotation.q_value, 100 * rotation.top_turnover)",
            rules_version='rules.rules_version', confidence='1 - rotation.q_value'
        ) }}
    from rotation
    inner join rules
        on rotation.rules_year = rules.rules_year
),

unit_years as (
    select
        {{ quarter_year('quarter') }} as rules_year,
        unit_code,
        count(distinct case
            when proposes_grades and top_quota_cap is not null and n_proposed_good >= top_quota_cap
                then quarter
        end) as n_quarters_at_cap,
        sum(n_grade_agreements) as n_agreements,
        sum(n_proposals) as n_proposals
    from unit_quarters
    group by {{ quarter_year('quarter') }}, unit_code
),

gaming as (
    select
        unit_years.*,
        unit_years.n_agreements / nullif(unit_years.n_proposals, 0) as agreement
    from unit_years
    where unit_years.rules_year in (select complete_years.rules_year from complete_years)
),

proposed_grade_gaming as (
    select
        {{ finding_fields(
            "'U4'", "'proposed_grade_gaming'", 'rules.q_u4_severity', 'cast(gaming.rules_year as varchar)', 'null',
            'gaming.rules_year', 'gaming.unit_code',
            metric="'grade_agreement'", value='gaming.agreement', threshold='rules.q_u4_max_agreement',
            n='gaming.n_proposals',
            explanation="printf('单位%s在%d年每个季度拟定“好”的人数都达到或超过名额上限，而拟定等次与核定等次的一致率仅%.1f%%（%d项拟定中%d项一致），请核查拟定等次是否顶格虚报。', gaming.unit_code, gaming.rules_year, 100 * gaming.agreement, cast(gaming.n_proposals as integer), cast(gaming.n_agreements as integer))",
            rules_version='rules.rules_version'
        ) }}
    from gaming
    inner join rules
        on gaming.rules_year = rules.rules_year
    where gaming.n_quarters_at_cap = 4 and {{ comparable('gaming.agreement') }} < rules.q_u4_max_agreement
)

select * from grade_rotation
union all
select * from proposed_grade_gaming
