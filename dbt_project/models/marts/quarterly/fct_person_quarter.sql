-- One row per person in a unit's current submission and quarter: the whole scoring chain of rules.md
-- §1–4 from task volume to the graded result, next to the unit's proposed grade, with the rules version
-- that produced it. Non-participants are listed with null scores and no grade.
with persons as (
    select * from {{ ref('int_quarter_persons') }}
    where {{ in_selected_quarter() }}
),

base_scores as (
    select * from {{ ref('int_person_base_score') }}
    where {{ in_selected_quarter() }}
),

eval_scores as (
    select * from {{ ref('int_person_eval_score') }}
    where {{ in_selected_quarter() }}
),

quarter_scores as (
    select * from {{ ref('int_person_quarter_scores') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

final as (
    select
        persons.quarter,
        persons.rules_year,
        persons.unit_code,
        persons.person_code,
        persons.person_key,
        persons.section,
        persons.rank_title,
        persons.post_category,
        persons.is_section_head,
        persons.is_participant,
        persons.base_method,
        persons.section_participants,
        base_scores.n_tasks,
        base_scores.planned_points,
        base_scores.earned_points,
        base_scores.has_indicator,
        base_scores.completion_rate,
        base_scores.unit_median_planned_points,
        base_scores.section_median_planned_points,
        base_scores.relative_workload,
        base_scores.section_relative_workload,
        base_scores.section_coefficient,
        base_scores.peer_group,
        base_scores.peer_group_size,
        base_scores.peer_percent_rank,
        base_scores.task_score,
        eval_scores.n_rating_tiers,
        eval_scores.n_usable_ratings,
        eval_scores.n_self_ratings,
        eval_scores.tier_weight_present,
        eval_scores.eval_score,
        eval_scores.n_required_tiers,
        eval_scores.n_required_tiers_met,
        eval_scores.meets_required_tiers,
        quarter_scores.n_adjustments,
        quarter_scores.adjustment_points_raw,
        quarter_scores.adjustment_points,
        quarter_scores.quarter_score,
        coalesce(quarter_scores.is_scored, false) as is_scored,
        quarter_scores.score_band,
        quarter_scores.top_quota_cap,
        quarter_scores.top_band_rank,
        quarter_scores.is_quota_demoted,
        quarter_scores.computed_grade,
        persons.proposed_grade,
        case
            when persons.proposed_grade is not null and persons.is_participant
                then persons.proposed_grade = quarter_scores.computed_grade
        end as is_grade_agreed,
        rules.rules_version,
        rules.rules_fingerprint
    from persons
    inner join rules
        on persons.rules_year = rules.rules_year
    left join base_scores
        on
            persons.quarter = base_scores.quarter
            and persons.unit_code = base_scores.unit_code
            and persons.person_code = base_scores.person_code
    left join eval_scores
        on
            persons.quarter = eval_scores.quarter
            and persons.unit_code = eval_scores.unit_code
            and persons.person_code = eval_scores.person_code
    left join quarter_scores
        on
            persons.quarter = quarter_scores.quarter
            and persons.unit_code = quarter_scores.unit_code
            and persons.person_code = quarter_scores.person_code
)

select * from final
