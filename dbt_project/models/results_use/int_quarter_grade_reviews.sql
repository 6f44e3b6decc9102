-- depends_on: {{ source('reviews', 'register') }}
-- One row per review register row (复核登记, every quarter) and what became of it:
--   refused     the row is incomplete, names nobody scored in that unit-quarter, or would push the unit
--               over its 好 cap (unless [results_use] review_may_exceed_top_quota allows it);
--   superseded  a later decision about the same person and quarter replaces it (latest decided_on,
--               then the later file name, then the later row);
--   applied     it sets the person's final grade (final_grade in fct_person_quarter_final).
-- The quota re-check works on the unit's final grades: decisions that take a 好 away free a place,
-- and upgrades to 好 are admitted in the order they were decided until the cap is reached.
with register as (
    select * from {{ review_register_relation() }}
),

persons as (
    select
        quarter,
        rules_year,
        unit_code,
        person_code,
        is_participant,
        is_scored,
        computed_grade
    from {{ ref('fct_person_quarter') }}
),

units as (
    select
        quarter,
        unit_code,
        top_quota_cap,
        n_computed_good
    from {{ ref('fct_unit_quarter') }}
),

rules as (
    select * from {{ ref('int_results_use_rules') }}
),

checked as (
    select
        register.*,
        persons.rules_year,
        persons.computed_grade,
        units.top_quota_cap,
        units.n_computed_good,
        case
            when register.row_problem is not null then register.row_problem
            when persons.person_code is null then '该单位本季度报送的人员名册中没有此人员编号'
            when not persons.is_participant then '该人员本季度不参加考核，不能复核等次'
            when not persons.is_scored then '该人员本季度未评定（无有效评议），不能复核等次'
        end as refusal_reason_zh
    from register
    left join persons
        on
            register.quarter = persons.quarter
            and register.unit_code = persons.unit_code
            and register.person_code = persons.person_code
    left join units
        on
            register.quarter = units.quarter
            and register.unit_code = units.unit_code
),

ordered as (
    select
        *,
        case
            when refusal_reason_zh is null
                then row_number() over (
                    partition by quarter, unit_code, person_code, refusal_reason_zh is null
                    order by decided_on desc, file_name desc, excel_row desc
                )
        end as decision_recency
    from checked
),

latest as (
    select * from ordered
    where decision_recency = 1
),

-- Places the latest decisions free or take in each unit-quarter.
unit_moves as (
    select
        quarter,
        unit_code,
        count(case when computed_grade = '好' and new_grade <> '好' then 1 end) as n_good_removed
    from latest
    group by quarter, unit_code
),

upgrades as (
    select
        latest.quarter,
        latest.unit_code,
        latest.person_code,
        row_number() over (
            partition by latest.quarter, latest.unit_code
            order by latest.decided_on, latest.file_name, latest.excel_row
        ) as upgrade_order,
        latest.n_computed_good - unit_moves.n_good_removed as n_good_kept,
        latest.top_quota_cap
    from latest
    inner join unit_moves
        on latest.quarter = unit_moves.quarter and latest.unit_code = unit_moves.unit_code
    where latest.new_grade = '好' and latest.computed_grade <> '好'
),

final as (
    select
        ordered.quarter,
        ordered.rules_year,
        ordered.file_name,
        ordered.file_sha256,
        ordered.excel_row,
        ordered.unit_code,
        ordered.person_code,
        ordered.computed_grade,
        ordered.new_grade,
        ordered.reason,
        ordered.decided_by,
        ordered.decided_on,
        ordered.top_quota_cap,
        upgrades.n_good_kept + upgrades.upgrade_order as n_good_after,
        case
            when ordered.refusal_reason_zh is not null then 'refused'
            when ordered.decision_recency > 1 then 'superseded'
            when
                upgrades.upgrade_order is not null
                and upgrades.n_good_kept + upgrades.upgrade_order > upgrades.top_quota_cap
                and not coalesce(rules.review_may_exceed_top_quota, false)
                then 'refused'
            else 'applied'
        end as review_status,
        case
            when ordered.refusal_reason_zh is not null then ordered.refusal_reason_zh
            when ordered.decision_recency > 1 then '同一人员本季度有更晚的复核决定，本条不再执行'
            when
                upgrades.upgrade_order is not null
                and upgrades.n_good_kept + upgrades.upgrade_order > upgrades.top_quota_cap
                and not coalesce(rules.review_may_exceed_top_quota, false)
                then
                    '执行后该单位「好」等次将达 ' || cast(upgrades.n_good_kept + upgrades.upgrade_order as varchar)
                    || ' 人，超过比例上限 ' || cast(upgrades.top_quota_cap as varchar) || ' 人'
        end as review_note_zh
    from ordered
    left join upgrades
        on
            ordered.decision_recency = 1
            and ordered.quarter = upgrades.quarter
            and ordered.unit_code = upgrades.unit_code
            and ordered.person_code = upgrades.person_code
    left join rules
        on ordered.rules_year = rules.rules_year
)

select * from final
