-- One row per participant and required rater tier (rules.md §3, 评价主体多元化): does the tier apply to
-- the person (not a head, if the requirement is for non-heads only; section big enough) and does the
-- person have enough usable raters in it? 分管领导 ≥ 1 for everyone, 科室负责人 ≥ 1 for non-heads and
-- 科室工作人员 ≥ 3 where the section has at least 4 participants, by default.
with persons as (
    select * from {{ ref('int_quarter_persons') }}
    where {{ in_selected_quarter() }} and is_participant
),

tier_scores as (
    select * from {{ ref('int_person_tier_scores') }}
    where {{ in_selected_quarter() }}
),

required_tiers as (
    select * from {{ ref('int_rules_tiers') }}
    where is_required
),

final as (
    select
        persons.quarter,
        persons.rules_year,
        persons.unit_code,
        persons.person_code,
        required_tiers.rater_tier,
        required_tiers.required_min_raters,
        (not required_tiers.required_non_heads_only or not persons.is_section_head)
        and persons.section_participants >= required_tiers.required_min_section_participants as is_applicable,
        cast(coalesce(tier_scores.n_raters, 0) as integer) as n_raters,
        not (
            (not required_tiers.required_non_heads_only or not persons.is_section_head)
            and persons.section_participants >= required_tiers.required_min_section_participants
        )
        or coalesce(tier_scores.n_raters, 0) >= required_tiers.required_min_raters as is_met
    from persons
    inner join required_tiers
        on persons.rules_year = required_tiers.rules_year
    left join tier_scores
        on
            persons.quarter = tier_scores.quarter
            and persons.unit_code = tier_scores.unit_code
            and persons.person_code = tier_scores.person_code
            and required_tiers.rater_tier = tier_scores.rater_tier
)

select * from final
