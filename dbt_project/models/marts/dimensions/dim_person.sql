-- One row per person (pseudonymous person_key: no names or national IDs ever reach the warehouse):
-- when and where the person was last submitted and how many quarters they appear in.
with persons as (
    select * from {{ ref('int_quarter_persons') }}
),

ordered as (
    select
        *,
        row_number() over (partition by person_key order by quarter desc, unit_code desc) as recency
    from persons
),

spans as (
    select
        person_key,
        min(quarter) as first_quarter,
        max(quarter) as last_quarter,
        count(distinct quarter) as n_quarters,
        count(distinct unit_code) as n_units
    from persons
    group by person_key
),

final as (
    select
        spans.person_key,
        spans.first_quarter,
        spans.last_quarter,
        cast(spans.n_quarters as integer) as n_quarters,
        cast(spans.n_units as integer) as n_units,
        ordered.unit_code as last_unit_code,
        ordered.person_code as last_person_code,
        ordered.section as last_section,
        ordered.rank_title as last_rank_title,
        ordered.post_category as last_post_category,
        ordered.is_section_head as last_is_section_head
    from spans
    inner join ordered
        on
            spans.person_key = ordered.person_key
            and ordered.recency = 1
)

select * from final
