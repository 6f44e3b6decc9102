with source as (
    select * from {{ source('raw', 'roster') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(person_code as varchar) as person_code,
        cast(person_key as varchar) as person_key,
        cast(section as varchar) as section,
        cast(rank as varchar) as rank_title,
        cast(post_category as varchar) as post_category,
        cast(is_section_head as boolean) as is_section_head,
        cast(participates as boolean) as is_participant,
        cast(proposed_grade as varchar) as proposed_grade
    from source
)

select * from renamed
