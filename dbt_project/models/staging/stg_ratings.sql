with source as (
    select * from {{ source('raw', 'ratings') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(ratee_code as varchar) as ratee_code,
        cast(rater_tier as varchar) as rater_tier,
        cast(rater_code as varchar) as rater_code,
        cast(score_intensity as double) as score_intensity,
        cast(score_difficulty as double) as score_difficulty,
        cast(score_quantity as double) as score_quantity,
        cast(score_effect as double) as score_effect,
        cast(score_measures as double) as score_measures
    from source
)

select * from renamed
