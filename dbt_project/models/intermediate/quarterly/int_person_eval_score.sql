-- One row per participant (rules.md §3): S_eval = Σ w_tier·tier_score / Σ w_tier over the tiers present
-- (weights renormalised), null when the person has no usable rating; with the rating counts and
-- whether every required tier is covered.
with persons as (
    select * from {{ ref('int_quarter_persons') }}
    where {{ in_selected_quarter() }} and is_participant
),

tier_scores as (
    select * from {{ ref('int_person_tier_scores') }}
    where {{ in_selected_quarter() }}
),

coverage as (
    select * from {{ ref('int_person_tier_coverage') }}
    where {{ in_selected_quarter() }}
),

composites as (
    select * from {{ ref('int_rating_composites') }}
    where {{ in_selected_quarter() }}
),

evaluation as (
    select
        quarter,
        unit_code,
        person_code,
        count(*) as n_tiers,
        sum(n_raters) as n_usable_ratings,
        sum(tier_weight) as tier_weight_present,
        -- a weighted mean of 100s can come out a float ulp above 100 (a ceiling-heavy city hit it)
        least(100.0, sum(tier_weight * tier_score) / sum(tier_weight)) as eval_score
    from tier_scores
    group by quarter, unit_code, person_code
),

self_ratings as (
    select
        quarter,
        unit_code,
        ratee_code as person_code,
        count(*) as n_self_ratings
    from composites
    where is_self_rating
    group by quarter, unit_code, ratee_code
),

coverage_summary as (
    select
        quarter,
        unit_code,
        person_code,
        count(case when is_applicable then 1 end) as n_required_tiers,
        count(case when is_applicable and is_met then 1 end) as n_required_tiers_met,
        min(case when is_met then 1 else 0 end) = 1 as meets_required_tiers
    from coverage
    group by quarter, unit_code, person_code
),

final as (
    select
        persons.quarter,
        persons.rules_year,
        persons.unit_code,
        persons.person_code,
        cast(coalesce(evaluation.n_tiers, 0) as integer) as n_rating_tiers,
        cast(coalesce(evaluation.n_usable_ratings, 0) as integer) as n_usable_ratings,
        cast(coalesce(self_ratings.n_self_ratings, 0) as integer) as n_self_ratings,
        cast(evaluation.tier_weight_present as double) as tier_weight_present,
        cast(evaluation.eval_score as double) as eval_score,
        cast(coalesce(coverage_summary.n_required_tiers, 0) as integer) as n_required_tiers,
        cast(coalesce(coverage_summary.n_required_tiers_met, 0) as integer) as n_required_tiers_met,
        coalesce(coverage_summary.meets_required_tiers, true) as meets_required_tiers
    from persons
    left join evaluation
        on
            persons.quarter = evaluation.quarter
            and persons.unit_code = evaluation.unit_code
            and persons.person_code = evaluation.person_code
    left join self_ratings
        on
            persons.quarter = self_ratings.quarter
            and persons.unit_code = self_ratings.unit_code
            and persons.person_code = self_ratings.person_code
    left join coverage_summary
        on
            persons.quarter = coverage_summary.quarter
            and persons.unit_code = coverage_summary.unit_code
            and persons.person_code = coverage_summary.person_code
)

select * from final
