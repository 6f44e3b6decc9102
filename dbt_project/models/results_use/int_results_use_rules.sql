-- The [results_use] parameters of each rules year (pipelines/domain/rules.py ResultsUse), one row per
-- year. Read straight from the long rules table so int_rules keeps its shape; a rules table written
-- before the section existed falls back to the defaults of the specification.
with parameters as (
    select * from {{ ref('stg_rules_parameters') }}
    where parameter like 'results\_use\_%' escape '\'
),

years as (
    select distinct rules_year from {{ ref('stg_rules_parameters') }}
),

pivoted as (
    select
        years.rules_year,
        max(case when parameters.parameter = 'results_use_commendation_min_good_quarters' then parameters.value_number end)
            as commendation_min_good_quarters,
        max(case when parameters.parameter = 'results_use_commendation_max_poor_quarters' then parameters.value_number end)
            as commendation_max_poor_quarters,
        max(case when parameters.parameter = 'results_use_commendation_block_on_findings' then parameters.value_number end)
            as commendation_block_on_findings,
        max(case when parameters.parameter = 'results_use_excellent_streak_years' then parameters.value_number end)
            as excellent_streak_years,
        max(case when parameters.parameter = 'results_use_review_may_exceed_top_quota' then parameters.value_number end)
            as review_may_exceed_top_quota
    from years
    left join parameters on years.rules_year = parameters.rules_year
    group by years.rules_year
)

select
    rules_year,
    cast(coalesce(commendation_min_good_quarters, 3) as integer) as commendation_min_good_quarters,
    cast(coalesce(commendation_max_poor_quarters, 0) as integer) as commendation_max_poor_quarters,
    coalesce(commendation_block_on_findings, 1) = 1 as commendation_block_on_findings,
    cast(coalesce(excellent_streak_years, 3) as integer) as excellent_streak_years,
    coalesce(review_may_exceed_top_quota, 0) = 1 as review_may_exceed_top_quota
from pivoted
