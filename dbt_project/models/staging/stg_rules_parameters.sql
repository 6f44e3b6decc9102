with source as (
    select * from {{ source('raw', 'rules') }}
),

renamed as (
    select
        cast(rules_year as integer) as rules_year,
        cast(rules_version as varchar) as rules_version,
        cast(rules_fingerprint as varchar) as rules_fingerprint,
        cast(parameter as varchar) as parameter,
        cast(scope as varchar) as parameter_scope,
        cast(member as varchar) as parameter_member,
        cast(name as varchar) as parameter_name,
        cast(value_number as double) as value_number,
        cast(value_text as varchar) as value_text
    from source
)

select * from renamed
