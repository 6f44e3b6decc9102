with source as (
    select * from {{ source('raw', 'year_end') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(person_code as varchar) as person_code,
        cast(year_end_score as double) as year_end_score
    from source
)

select * from renamed
