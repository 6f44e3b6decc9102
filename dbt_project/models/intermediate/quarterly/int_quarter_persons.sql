-- Every roster row of every current submission (participants and not), with what the scoring rules
-- need from the unit and the section: base method, section coefficient and section size.
with roster as (
    select * from {{ ref('stg_roster') }}
    where {{ in_selected_quarter() }}
),

sections as (
    select * from {{ ref('stg_sections') }}
    where {{ in_selected_quarter() }}
),

units as (
    select * from {{ ref('stg_units') }}
),

section_sizes as (
    select
        quarter,
        unit_code,
        section,
        count(*) as section_participants
    from roster
    where is_participant
    group by quarter, unit_code, section
),

final as (
    select
        roster.quarter,
        {{ quarter_year('roster.quarter') }} as rules_year,
        roster.unit_code,
        roster.person_code,
        roster.person_key,
        roster.section,
        roster.rank_title,
        roster.post_category,
        roster.is_section_head,
        roster.is_participant,
        roster.proposed_grade,
        units.base_method,
        sections.section_coefficient,
        cast(coalesce(section_sizes.section_participants, 0) as integer) as section_participants
    from roster
    left join units
        on roster.unit_code = units.unit_code
    left join sections
        on
            roster.quarter = sections.quarter
            and roster.unit_code = sections.unit_code
            and roster.section = sections.section
    left join section_sizes
        on
            roster.quarter = section_sizes.quarter
            and roster.unit_code = section_sizes.unit_code
            and roster.section = section_sizes.section
)

select * from final
