-- One row per fct_person_quarter row: the official computed grade next to the final grade after the
-- applied review decision (复核), if any. fct_person_quarter itself is never changed.
with persons as (
    select * from {{ ref('fct_person_quarter') }}
),

applied as (
    select * from {{ ref('int_quarter_grade_reviews') }}
    where review_status = 'applied'
),

final as (
    select
        persons.quarter,
        persons.rules_year,
        persons.unit_code,
        persons.person_code,
        persons.person_key,
        persons.is_participant,
        persons.is_scored,
        persons.quarter_score,
        persons.computed_grade,
        coalesce(applied.new_grade, persons.computed_grade) as final_grade,
        applied.person_code is not null as is_reviewed,
        coalesce(applied.new_grade is distinct from persons.computed_grade and applied.person_code is not null, false)
            as is_grade_changed,
        applied.reason as review_reason,
        applied.decided_by as review_decided_by,
        applied.decided_on as review_decided_on,
        applied.file_name as review_file_name
    from persons
    left join applied
        on
            persons.quarter = applied.quarter
            and persons.unit_code = applied.unit_code
            and persons.person_code = applied.person_code
)

select * from final
