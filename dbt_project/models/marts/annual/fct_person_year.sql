-- One row per person (person_key) and assessment year with a Q4 submission: the annual result of
-- rules.md §5 (一项结果综合性使用), attributed to the unit that submitted the person in Q4.
with annual as (
    select * from {{ ref('int_person_year') }}
),

grades as (
    select * from {{ ref('int_person_year_grades') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

final as (
    select
        annual.rules_year,
        annual.person_key,
        annual.annual_unit_code,
        annual.annual_person_code,
        units.county_code,
        annual.n_quarters_present,
        annual.n_scored_quarters,
        annual.n_good,
        annual.n_fairly_good,
        annual.n_average,
        annual.n_poor,
        annual.regular_avg,
        annual.year_end_score,
        annual.is_year_end_missing,
        annual.declared_regular_share,
        annual.applied_regular_share,
        annual.is_regular_share_breach,
        annual.annual_status,
        annual.annual_score,
        grades.is_excellent_candidate,
        grades.excellent_rank,
        grades.excellent_cap,
        grades.n_annual_in_unit,
        grades.annual_grade,
        rules.rules_version,
        rules.rules_fingerprint
    from annual
    inner join grades
        on
            annual.rules_year = grades.rules_year
            and annual.person_key = grades.person_key
    inner join rules
        on annual.rules_year = rules.rules_year
    left join units
        on annual.annual_unit_code = units.unit_code
)

select * from final
