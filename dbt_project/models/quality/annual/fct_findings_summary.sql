-- Finding counts by period (quarter key, or the year for U1/U4), county, unit, type and severity.
with findings as (
    select * from {{ ref('fct_rating_findings') }}
),

final as (
    select
        period,
        quarter,
        year,
        county_code,
        unit_code,
        code,
        type,
        severity,
        cast(count(*) as integer) as n_findings
    from findings
    group by period, quarter, year, county_code, unit_code, code, type, severity
)

select * from final
