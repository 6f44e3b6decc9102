with source as (
    select * from {{ source('raw', 'adjustments') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(item_no as bigint) as item_no,
        cast(person_code as varchar) as person_code,
        cast(points as double) as points,
        cast(reason as varchar) as reason
    from source
)

select * from renamed
