-- One row per county (and 市直) and assessment year: the quarters' compliance indices summarised, and
-- regular_share_compliance = units whose Q4 submission declares a regular share of at least
-- min_regular_share (0.6), or none (the default 0.6 then applies), / registry units. A unit without an
-- accepted Q4 submission counts as non-compliant; before Q4 is in, the rate is null.
with county_quarters as (
    select * from {{ ref('fct_county_compliance') }}
),

unit_quarters as (
    select * from {{ ref('fct_unit_quarter') }}
),

counties as (
    select * from {{ ref('dim_county') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

quarter_summary as (
    select
        rules_year,
        county_code,
        count(*) as n_quarters,
        avg(compliance_index) as mean_compliance_index,
        min(compliance_index) as min_compliance_index,
        max(compliance_index) as max_compliance_index
    from county_quarters
    group by rules_year, county_code
),

regular_share as (
    select
        unit_quarters.rules_year,
        unit_quarters.county_code,
        count(*) as n_units,
        count(
            case
                when
                    unit_quarters.has_accepted_submission
                    and coalesce(unit_quarters.declared_regular_share >= rules.min_regular_share, true)
                    then 1
            end
        ) as n_units_regular_share_compliant,
        count(
            case when unit_quarters.declared_regular_share < rules.min_regular_share then 1 end
        ) as n_units_regular_share_breach
    from unit_quarters
    inner join rules
        on unit_quarters.rules_year = rules.rules_year
    where {{ quarter_number('unit_quarters.quarter') }} = 4
    group by unit_quarters.rules_year, unit_quarters.county_code
),

final as (
    select
        quarter_summary.rules_year,
        quarter_summary.county_code,
        counties.county_name,
        counties.city_code,
        counties.is_municipal,
        cast(quarter_summary.n_quarters as integer) as n_quarters,
        cast(quarter_summary.mean_compliance_index as double) as mean_compliance_index,
        cast(quarter_summary.min_compliance_index as double) as min_compliance_index,
        cast(quarter_summary.max_compliance_index as double) as max_compliance_index,
        cast(regular_share.n_units as integer) as n_units_q4,
        cast(regular_share.n_units_regular_share_compliant as integer) as n_units_regular_share_compliant,
        cast(regular_share.n_units_regular_share_breach as integer) as n_units_regular_share_breach,
        {{ safe_ratio('regular_share.n_units_regular_share_compliant', 'regular_share.n_units') }}
            as regular_share_compliance,
        cast(
            case
                when not counties.is_municipal and quarter_summary.mean_compliance_index is not null
                    then rank() over (
                        partition by
                            quarter_summary.rules_year,
                            counties.city_code,
                            counties.is_municipal,
                            quarter_summary.mean_compliance_index is null
                        order by {{ comparable('quarter_summary.mean_compliance_index') }} desc
                    )
            end as integer
        ) as county_rank,
        rules.rules_version,
        rules.rules_fingerprint
    from quarter_summary
    inner join counties
        on quarter_summary.county_code = counties.county_code
    inner join rules
        on quarter_summary.rules_year = rules.rules_year
    left join regular_share
        on
            quarter_summary.rules_year = regular_share.rules_year
            and quarter_summary.county_code = regular_share.county_code
)

select * from final
