-- One row per rules year and rater tier (评议主体): its weight in S_eval and, for the tiers the rules
-- file lists under required_tiers, the coverage requirement (rules.md §3).
with parameters as (
    select * from {{ ref('stg_rules_parameters') }}
),

tier_weights as (
    select
        rules_year,
        parameter_member as rater_tier,
        value_number as tier_weight
    from parameters
    where parameter_scope = 'evaluation.tier_weights'
),

required_tiers as (
    select
        rules_year,
        parameter_member as rater_tier,
        max(case when parameter_name = 'min_raters' then value_number end) as required_min_raters,
        max(case when parameter_name = 'non_heads_only' then value_number end) as required_non_heads_only,
        max(case when parameter_name = 'min_section_participants' then value_number end)
            as required_min_section_participants
    from parameters
    where parameter_scope = 'evaluation.required_tiers'
    group by rules_year, parameter_member
),

final as (
    select
        tier_weights.rules_year,
        tier_weights.rater_tier,
        tier_weights.tier_weight,
        required_tiers.rater_tier is not null as is_required,
        cast(required_tiers.required_min_raters as integer) as required_min_raters,
        coalesce(required_tiers.required_non_heads_only = 1, false) as required_non_heads_only,
        cast(required_tiers.required_min_section_participants as integer) as required_min_section_participants
    from tier_weights
    left join required_tiers
        on
            tier_weights.rules_year = required_tiers.rules_year
            and tier_weights.rater_tier = required_tiers.rater_tier
)

select * from final
