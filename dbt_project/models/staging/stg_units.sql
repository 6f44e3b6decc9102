-- The registry is read by the path the run gives (macros/registry.sql), not through the source's
-- location, which dbt would fix when it parses; the source stays this model's declared input (lineage,
-- the Dagster asset unit_registry).
-- depends_on: {{ source('reference', 'units') }}
with source as (
    select * from {{ registry_relation() }}
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
