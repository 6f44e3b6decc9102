-- One row per county-level division of the registry, and one per city for its municipal group 市直
-- (county_code …00). Compliance is reported and ranked at this grain.
with units as (
    select * from {{ ref('dim_unit') }}
),

final as (
    select
        county_code,
        max(county_name) as county_name,
        max(city_code) as city_code,
        max(case when is_municipal then 1 else 0 end) = 1 as is_municipal,
        cast(count(*) as integer) as n_units,
        cast(count(case when unit_level = '市直' then 1 end) as integer) as n_municipal_units,
        cast(count(case when unit_level = '县直' then 1 end) as integer) as n_county_units,
        cast(count(case when unit_level = '乡镇' then 1 end) as integer) as n_township_units
    from units
    group by county_code
)

select * from final
