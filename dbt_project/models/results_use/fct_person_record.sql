-- The cadre division's record of a person (restricted; schema results_use is never published): one row
-- per pseudonymous person_key and period, a row per quarter the person was submitted in (any unit) and a
-- row per assessment year with an annual result. Transfers are followed by the key: unit_code changes
-- from one quarter to the next and is_transfer marks the first quarter in the new unit. Quarter rows
-- carry the computed and the final grade (after review, 复核) and the quality findings that name the
-- person as ratee in that unit-quarter (codes and count only: no rater is named here).
with quarters as (
    select * from {{ ref('fct_person_quarter_final') }}
),

years as (
    select * from {{ ref('fct_person_year') }}
),

findings as (
    select
        quarter,
        unit_code,
        ratee_code,
        count(*) as n_findings,
        string_agg(distinct code, ',' order by code) as finding_codes
    from {{ ref('fct_rating_findings') }}
    where ratee_code is not null and quarter is not null
    group by quarter, unit_code, ratee_code
),

quarter_rows as (
    select
        quarters.person_key,
        'quarter' as period_type,
        quarters.quarter as period,
        quarters.rules_year,
        quarters.unit_code,
        quarters.person_code,
        lag(quarters.unit_code) over (partition by quarters.person_key order by quarters.quarter)
            as previous_unit_code,
        quarters.is_participant,
        quarters.is_scored,
        quarters.quarter_score,
        quarters.computed_grade,
        quarters.final_grade,
        quarters.is_reviewed,
        quarters.is_grade_changed,
        quarters.review_reason,
        quarters.review_decided_by,
        quarters.review_decided_on,
        cast(coalesce(findings.n_findings, 0) as integer) as n_findings_as_ratee,
        findings.finding_codes,
        cast(null as varchar) as annual_status,
        cast(null as double) as annual_score,
        cast(null as varchar) as annual_grade
    from quarters
    left join findings
        on
            quarters.quarter = findings.quarter
            and quarters.unit_code = findings.unit_code
            and quarters.person_code = findings.ratee_code
),

year_findings as (
    select
        rules_year,
        person_key,
        sum(n_findings_as_ratee) as n_findings
    from quarter_rows
    group by rules_year, person_key
),

year_rows as (
    select
        years.person_key,
        'year' as period_type,
        cast(years.rules_year as varchar) as period,
        years.rules_year,
        years.annual_unit_code as unit_code,
        years.annual_person_code as person_code,
        cast(null as varchar) as previous_unit_code,
        cast(null as boolean) as is_participant,
        cast(null as boolean) as is_scored,
        years.regular_avg as quarter_score,
        cast(null as varchar) as computed_grade,
        cast(null as varchar) as final_grade,
        cast(null as boolean) as is_reviewed,
        cast(null as boolean) as is_grade_changed,
        cast(null as varchar) as review_reason,
        cast(null as varchar) as review_decided_by,
        cast(null as date) as review_decided_on,
        cast(coalesce(year_findings.n_findings, 0) as integer) as n_findings_as_ratee,
        cast(null as varchar) as finding_codes,
        years.annual_status,
        years.annual_score,
        years.annual_grade
    from years
    left join year_findings
        on years.rules_year = year_findings.rules_year and years.person_key = year_findings.person_key
),

unioned as (
    select * from quarter_rows
    union all by name
    select * from year_rows
)

select
    person_key,
    period_type,
    period,
    rules_year,
    unit_code,
    person_code,
    previous_unit_code,
    coalesce(period_type = 'quarter' and previous_unit_code is not null and previous_unit_code <> unit_code, false)
        as is_transfer,
    is_participant,
    is_scored,
    quarter_score,
    computed_grade,
    final_grade,
    is_reviewed,
    is_grade_changed,
    review_reason,
    review_decided_by,
    review_decided_on,
    n_findings_as_ratee,
    finding_codes,
    annual_status,
    annual_score,
    annual_grade
from unioned
