with source as (
    select * from {{ source('reference', 'units') }}
),

renamed as (
    select
        cast(unit_code as varchar) as unit_code,
        cast(unit_name as varchar) as unit_name,
        cast(level as varchar) as unit_level,
        cast(county as varchar) as county_name,
        cast(county_code as varchar) as county_code,
        cast(base_method as varchar) as base_method
    from source
)

select * from renamed
