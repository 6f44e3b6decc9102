-- Commendation candidates (评先树优, 表扬奖励) per assessment year, by the [results_use] criteria of the
-- year's rules: final grade 好 (after review) in at least commendation_min_good_quarters quarters, at
-- most commendation_max_poor_quarters quarters 较差, and, when commendation_block_on_findings, no
-- quality finding naming the person as ratee in the year (findings are never closed in the warehouse,
-- so every finding counts as open). Counted over the quarters so far, whatever the unit: the list
-- is a running one during the year. The person is shown in their latest unit of the year.
with record as (
    select * from {{ ref('fct_person_record') }}
    where period_type = 'quarter'
),

rules as (
    select * from {{ ref('int_results_use_rules') }}
),

per_year as (
    select
        rules_year,
        person_key,
        cast(count(case when is_scored then 1 end) as integer) as n_scored_quarters,
        cast(count(case when is_scored and final_grade = '好' then 1 end) as integer) as n_good,
        cast(count(case when is_scored and final_grade = '较差' then 1 end) as integer) as n_poor,
        cast(count(case when is_grade_changed then 1 end) as integer) as n_reviewed_changes,
        cast(sum(n_findings_as_ratee) as integer) as n_findings_as_ratee,
        arg_max(unit_code, period) as latest_unit_code,
        arg_max(person_code, period) as latest_person_code,
        max(period) as latest_quarter
    from record
    group by rules_year, person_key
),

annual as (
    select
        rules_year,
        person_key,
        annual_grade
    from {{ ref('fct_person_year') }}
)

select
    per_year.*,
    annual.annual_grade,
    rules.commendation_min_good_quarters,
    rules.commendation_max_poor_quarters,
    rules.commendation_block_on_findings
from per_year
inner join rules on per_year.rules_year = rules.rules_year
left join annual on per_year.rules_year = annual.rules_year and per_year.person_key = annual.person_key
where
    per_year.n_good >= rules.commendation_min_good_quarters
    and per_year.n_poor <= rules.commendation_max_poor_quarters
    and (not rules.commendation_block_on_findings or per_year.n_findings_as_ratee = 0)
