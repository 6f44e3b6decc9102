-- Unit-year findings (quality.md), only for years whose four quarters are all present:
-- U1 grade_rotation: among the ≥ min_participants participants scored in all four quarters, ≥
--   min_top_share got 好 (computed grade) at least once and the mean Spearman correlation of their Q
--   between consecutive quarters (average ranks) is ≤ max_spearman.
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
    group by 1
    having count(distinct {{ quarter_number('quarter') }}) = 4
),

scored as (
    select
        persons.unit_code,
        persons.person_key,
        persons.quarter_score,
        persons.computed_grade,
        {{ quarter_year('persons.quarter') }} as rules_year,
        {{ quarter_number('persons.quarter') }} as quarter_no
    from persons
    where persons.is_participant and persons.is_scored and persons.quarter_score is not null
),

cohort_keys as (
    select rules_year, unit_code, person_key
    from scored
    where rules_year in (select rules_year from complete_years)
    group by rules_year, unit_code, person_key
    having count(distinct quarter_no) = 4
),

cohort as (
    select
        scored.rules_year,
        scored.unit_code,
        scored.person_key,
        scored.quarter_no,
        scored.quarter_score,
        scored.computed_grade,
        {{ average_rank('scored.quarter_score', 'scored.rules_year, scored.unit_code, scored.quarter_no') }} as q_rank
    from scored
    inner join cohort_keys
        on
            scored.rules_year = cohort_keys.rules_year
            and scored.unit_code = cohort_keys.unit_code
            and scored.person_key = cohort_keys.person_key
),

top_shares as (
    select
        rules_year,
        unit_code,
        count(*) as n_cohort,
        avg(case when got_top then 1.0 else 0.0 end) as top_share
    from (
        select rules_year, unit_code, person_key, bool_or(computed_grade = '好') as got_top
        from cohort
        group by rules_year, unit_code, person_key
    ) as per_person
    group by rules_year, unit_code
),

consecutive as (
    select
        earlier.rules_year,
        earlier.unit_code,
        earlier.quarter_no,
        corr(earlier.q_rank, later.q_rank) as spearman
    from cohort as earlier
    inner join cohort as later
        on
            earlier.rules_year = later.rules_year
            and earlier.unit_code = later.unit_code
            and earlier.person_key = later.person_key
            and later.quarter_no = earlier.quarter_no + 1
    group by earlier.rules_year, earlier.unit_code, earlier.quarter_no
),

rotation as (
    select
        top_shares.*,
        (select avg(consecutive.spearman) from consecutive
         where consecutive.rules_year = top_shares.rules_year and consecutive.unit_code = top_shares.unit_code)
            as mean_spearman
    from top_shares
),

grade_rotation as (
    select
        {{ finding_fields(
            "'U1'", "'grade_rotation'", 'rules.q_u1_severity', 'cast(rotation.rules_year as varchar)', 'null',
            'rotation.rules_year', 'rotation.unit_code',
            metric="'mean_consecutive_spearman'", value='rotation.mean_spearman',
            threshold='rules.q_u1_max_spearman', n='rotation.n_cohort',
            explanation="printf('单位%s在%d年全部4个季度参评的%d人中%.0f%%至少得过一次“好”，而相邻季度得分排名的平均相关系数为%.2f，疑似轮流坐庄，请核查等次评定。', rotation.unit_code, rotation.rules_year, rotation.n_cohort, 100 * rotation.top_share, rotation.mean_spearman)",
            rules_version='rules.rules_version'
        ) }}
    from rotation
    inner join rules
        on rotation.rules_year = rules.rules_year
    where
        rotation.n_cohort >= rules.q_u1_min_participants
        and rotation.top_share >= rules.q_u1_min_top_share
        and rotation.mean_spearman <= rules.q_u1_max_spearman
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
    group by 1, unit_code
),

gaming as (
    select
        unit_years.*,
        unit_years.n_agreements / nullif(unit_years.n_proposals, 0) as agreement
    from unit_years
    where unit_years.rules_year in (select rules_year from complete_years)
),

proposed_grade_gaming as (
    select
        {{ finding_fields(
            "'U4'", "'proposed_grade_gaming'", 'rules.q_u4_severity', 'cast(gaming.rules_year as varchar)', 'null',
            'gaming.rules_year', 'gaming.unit_code',
            metric="'grade_agreement'", value='gaming.agreement', threshold='rules.q_u4_max_agreement',
            n='gaming.n_proposals',
            explanation="printf('单位%s在%d年每个季度拟定“好”的人数都达到或超过名额上限，而拟定等次与核定等次的一致率仅%.0f%%，请核查拟定等次是否顶格虚报。', gaming.unit_code, gaming.rules_year, 100 * gaming.agreement)",
            rules_version='rules.rules_version'
        ) }}
    from gaming
    inner join rules
        on gaming.rules_year = rules.rules_year
    where gaming.n_quarters_at_cap = 4 and gaming.agreement < rules.q_u4_max_agreement
)

select * from grade_rotation
union all
select * from proposed_grade_gaming
