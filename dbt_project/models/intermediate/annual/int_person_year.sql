-- One row per person (person_key) and assessment year with a Q4 submission (rules.md §5) who took part
-- in the assessment in at least one quarter of the year (leaders and others never assessed get no
-- annual result, rather than an "insufficient" one): the person
-- belongs to the unit that submitted them in Q4; quarters scored in other units count. With fewer than
-- min_scored_quarters (3) scored quarters the result is insufficient. regular_avg = mean Q;
-- r = the unit's declared regular share (default 0.6; below min_regular_share it is a breach and the
-- minimum is used); annual = r·regular_avg + (1 − r)·year_end, or regular_avg alone when the
-- year-end score is missing (flagged).
with persons as (
    select * from {{ ref('int_quarter_persons') }}
),

quarter_scores as (
    select * from {{ ref('int_person_quarter_scores') }}
),

unit_info as (
    select * from {{ ref('stg_unit_info') }}
),

year_end as (
    select * from {{ ref('stg_year_end') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

-- Review decisions (复核) applied by the Organization Department: the annual result counts the final
-- quarter grade (the computed grade stays as it is in fct_person_quarter).
applied_reviews as (
    select
        quarter,
        unit_code,
        person_code,
        new_grade
    from {{ ref('int_quarter_grade_reviews') }}
    where review_status = 'applied'
),

person_quarters as (
    select
        persons.rules_year,
        persons.person_key,
        persons.quarter,
        persons.is_participant,
        quarter_scores.quarter_score,
        coalesce(applied_reviews.new_grade, quarter_scores.computed_grade) as computed_grade,
        coalesce(quarter_scores.is_scored, false) as is_scored
    from persons
    left join quarter_scores
        on
            persons.quarter = quarter_scores.quarter
            and persons.unit_code = quarter_scores.unit_code
            and persons.person_code = quarter_scores.person_code
    left join applied_reviews
        on
            persons.quarter = applied_reviews.quarter
            and persons.unit_code = applied_reviews.unit_code
            and persons.person_code = applied_reviews.person_code
),

quarter_summary as (
    select
        rules_year,
        person_key,
        count(distinct quarter) as n_quarters_present,
        count(distinct case when is_participant then quarter end) as n_participating_quarters,
        count(case when is_scored then 1 end) as n_scored_quarters,
        avg(case when is_scored then quarter_score end) as regular_avg,
        count(case when is_scored and computed_grade = '好' then 1 end) as n_good,
        count(case when is_scored and computed_grade = '较好' then 1 end) as n_fairly_good,
        count(case when is_scored and computed_grade = '一般' then 1 end) as n_average,
        count(case when is_scored and computed_grade = '较差' then 1 end) as n_poor
    from person_quarters
    group by rules_year, person_key
),

q4_members as (
    select
        rules_year,
        person_key,
        quarter as q4_quarter,
        unit_code as annual_unit_code,
        person_code as annual_person_code
    from persons
    where {{ quarter_number('quarter') }} = 4
),

results as (
    select
        q4_members.rules_year,
        q4_members.person_key,
        q4_members.annual_unit_code,
        q4_members.annual_person_code,
        quarter_summary.n_quarters_present,
        quarter_summary.n_scored_quarters,
        quarter_summary.n_good,
        quarter_summary.n_fairly_good,
        quarter_summary.n_average,
        quarter_summary.n_poor,
        quarter_summary.regular_avg,
        year_end.year_end_score,
        year_end.year_end_score is null as is_year_end_missing,
        unit_info.declared_regular_share,
        case
            when unit_info.declared_regular_share is null then rules.default_regular_share
            when unit_info.declared_regular_share < rules.min_regular_share then rules.min_regular_share
            else unit_info.declared_regular_share
        end as applied_regular_share,
        coalesce(unit_info.declared_regular_share < rules.min_regular_share, false) as is_regular_share_breach,
        quarter_summary.n_scored_quarters >= rules.min_scored_quarters as has_enough_quarters
    from q4_members
    inner join rules
        on q4_members.rules_year = rules.rules_year
    inner join quarter_summary
        on
            q4_members.rules_year = quarter_summary.rules_year
            and q4_members.person_key = quarter_summary.person_key
    left join unit_info
        on
            q4_members.q4_quarter = unit_info.quarter
            and q4_members.annual_unit_code = unit_info.unit_code
    left join year_end
        on
            q4_members.q4_quarter = year_end.quarter
            and q4_members.annual_unit_code = year_end.unit_code
            and q4_members.annual_person_code = year_end.person_code
    where quarter_summary.n_participating_quarters > 0
),

final as (
    select
        rules_year,
        person_key,
        annual_unit_code,
        annual_person_code,
        cast(n_quarters_present as integer) as n_quarters_present,
        cast(n_scored_quarters as integer) as n_scored_quarters,
        cast(n_good as integer) as n_good,
        cast(n_fairly_good as integer) as n_fairly_good,
        cast(n_average as integer) as n_average,
        cast(n_poor as integer) as n_poor,
        cast(regular_avg as double) as regular_avg,
        year_end_score,
        is_year_end_missing,
        declared_regular_share,
        cast(applied_regular_share as double) as applied_regular_share,
        is_regular_share_breach,
        case when has_enough_quarters then 'scored' else 'insufficient' end as annual_status,
        cast(
            case
                when not has_enough_quarters then null
                when year_end_score is null then regular_avg
                else applied_regular_share * regular_avg + (1 - applied_regular_share) * year_end_score
            end as double
        ) as annual_score
    from results
)

select * from final
