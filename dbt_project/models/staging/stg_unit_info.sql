with source as (
    select * from {{ source('raw', 'unit_info') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(unit_name as varchar) as submitted_unit_name,
        cast(submitted_by as varchar) as submitted_by,
        cast(submitted_on as date) as submitted_on,
        cast(regular_share as double) as declared_regular_share
    from source
)

select * from renamed
