-- The annual grade of every person with an annual score (rules.md §5):
--   不称职    annual < 60, or 较差 in incompetent_min_poor_quarters (2) or more quarters
--   基本称职  annual < 70, or 较差 in basic_min_poor_quarters (1) or more quarters
--   优秀      candidates (annual ≥ 85, 好 in at least half of the scored quarters, no 一般 or 较差)
--             ranked by annual desc then person_code asc, at most max(1, floor(0.20·n)) per unit,
--             n = the unit's persons with an annual score
--   称职      everyone else, candidates beyond the cap included.
-- Insufficient persons have no grade.
with annual as (
    select * from {{ ref('int_person_year') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

classified as (
    select
        annual.*,
        case
            when annual.annual_score is null then null
            when
                {{ comparable('annual.annual_score') }} < rules.annual_basic_min
                or annual.n_poor >= rules.incompetent_min_poor_quarters then '不称职'
            when
                {{ comparable('annual.annual_score') }} < rules.annual_competent_min
                or annual.n_poor >= rules.basic_min_poor_quarters then '基本称职'
            when
                {{ comparable('annual.annual_score') }} >= rules.annual_excellent_min
                and annual.n_good + 1e-9 >= rules.excellent_min_top_share * annual.n_scored_quarters
                and annual.n_average = 0
                and annual.n_poor = 0 then 'candidate'
            else '称职'
        end as preliminary_grade,
        count(annual.annual_score) over (partition by annual.rules_year, annual.annual_unit_code)
            as n_annual_in_unit,
        rules.excellent_quota,
        rules.excellent_quota_min
    from annual
    inner join rules
        on annual.rules_year = rules.rules_year
),

ranked as (
    select
        *,
        greatest(excellent_quota_min, {{ quota_floor('excellent_quota * n_annual_in_unit') }}) as excellent_cap,
        case
            when preliminary_grade = 'candidate'
                then row_number() over (
                    partition by rules_year, annual_unit_code, preliminary_grade
                    order by {{ comparable('annual_score') }} desc, annual_person_code asc
                )
        end as excellent_rank
    from classified
),

final as (
    select
        rules_year,
        person_key,
        coalesce(preliminary_grade = 'candidate', false) as is_excellent_candidate,
        cast(excellent_rank as integer) as excellent_rank,
        cast(excellent_cap as integer) as excellent_cap,
        cast(n_annual_in_unit as integer) as n_annual_in_unit,
        case
            when preliminary_grade = 'candidate' and excellent_rank <= excellent_cap then '优秀'
            when preliminary_grade = 'candidate' then '称职'
            else preliminary_grade
        end as annual_grade
    from ranked
)

select * from final
