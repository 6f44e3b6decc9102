-- One row per registry unit (单位名册): level, county and the base-score method the unit must use.
with units as (
    select * from {{ ref('stg_units') }}
),

final as (
    select
        unit_code,
        unit_name,
        unit_level,
        county_code,
        county_name,
        substring(county_code, 1, 4) || '00' as city_code,
        county_name = '市直' as is_municipal,
        base_method
    from units
)

select * from final
