-- Persons whose annual grade was 优秀 in excellent_streak_years (default 3) consecutive assessment years
-- ending in rules_year (national rules record a 三等功 for that). One row per person and qualifying
-- year: a fourth consecutive 优秀 gives another row with streak_years 4.
with excellent as (
    select
        rules_year,
        person_key,
        annual_unit_code,
        annual_person_code
    from {{ ref('fct_person_year') }}
    where annual_grade = '优秀'
),

islands as (
    select
        *,
        rules_year - row_number() over (partition by person_key order by rules_year) as island
    from excellent
),

streaks as (
    select
        *,
        cast(row_number() over (partition by person_key, island order by rules_year) as integer) as streak_years,
        min(rules_year) over (partition by person_key, island) as first_year
    from islands
),

rules as (
    select * from {{ ref('int_results_use_rules') }}
)

select
    streaks.rules_year,
    streaks.person_key,
    streaks.annual_unit_code,
    streaks.annual_person_code,
    streaks.first_year,
    streaks.streak_years,
    rules.excellent_streak_years
from streaks
inner join rules on streaks.rules_year = rules.rules_year
where streaks.streak_years >= rules.excellent_streak_years
