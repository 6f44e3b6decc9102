{#- One row per rules year with every scalar parameter as a typed, ASCII-named column. The pairs below
    map the rules file's keys (Rules.dbt_vars()) to column names; the Chinese-keyed mappings (tier
    weights, completion factors) are long tables: int_rules_tiers and int_rules_completion. -#}
{%- set numeric_parameters = [
    ('calendar_deadline_days_after_quarter_end', 'deadline_days_after_quarter_end'),
    ('task_volume_intensity_step', 'intensity_step'),
    ('task_volume_difficulty_step', 'difficulty_step'),
    ('task_volume_lead_share', 'lead_share'),
    ('task_volume_assist_share', 'assist_share'),
    ('base_score_workload_weighted_floor', 'workload_floor'),
    ('base_score_workload_weighted_slope', 'workload_slope'),
    ('base_score_workload_weighted_workload_cap', 'workload_cap'),
    ('base_score_section_coefficient_floor', 'section_floor'),
    ('base_score_section_coefficient_slope', 'section_slope'),
    ('base_score_section_coefficient_workload_cap', 'section_workload_cap'),
    ('base_score_section_coefficient_coefficient_min', 'section_coefficient_min'),
    ('base_score_section_coefficient_coefficient_max', 'section_coefficient_max'),
    ('base_score_category_peer_min_group_size', 'peer_min_group_size'),
    ('base_score_category_peer_floor_score', 'peer_floor_score'),
    ('base_score_category_peer_span', 'peer_span'),
    ('evaluation_trim_min_raters', 'trim_min_raters'),
    ('evaluation_dimension_weights_score_intensity', 'weight_intensity'),
    ('evaluation_dimension_weights_score_difficulty', 'weight_difficulty'),
    ('evaluation_dimension_weights_score_quantity', 'weight_quantity'),
    ('evaluation_dimension_weights_score_effect', 'weight_effect'),
    ('evaluation_dimension_weights_score_measures', 'weight_measures'),
    ('quarterly_task_weight', 'task_weight'),
    ('quarterly_eval_weight', 'eval_weight'),
    ('quarterly_adjustment_min', 'adjustment_min'),
    ('quarterly_adjustment_max', 'adjustment_max'),
    ('quarterly_top_quota', 'top_quota'),
    ('quarterly_top_quota_min', 'top_quota_min'),
    ('quarterly_bands_好', 'band_good_min'),
    ('quarterly_bands_较好', 'band_fairly_good_min'),
    ('quarterly_bands_一般', 'band_average_min'),
    ('annual_min_scored_quarters', 'min_scored_quarters'),
    ('annual_default_regular_share', 'default_regular_share'),
    ('annual_min_regular_share', 'min_regular_share'),
    ('annual_excellent_quota', 'excellent_quota'),
    ('annual_excellent_quota_min', 'excellent_quota_min'),
    ('annual_excellent_min_top_share', 'excellent_min_top_share'),
    ('annual_basic_min_poor_quarters', 'basic_min_poor_quarters'),
    ('annual_incompetent_min_poor_quarters', 'incompetent_min_poor_quarters'),
    ('annual_thresholds_优秀', 'annual_excellent_min'),
    ('annual_thresholds_称职', 'annual_competent_min'),
    ('annual_thresholds_基本称职', 'annual_basic_min'),
    ('compliance_anomaly_rate_scale', 'anomaly_rate_scale'),
    ('compliance_weights_on_time_rate', 'weight_on_time_rate'),
    ('compliance_weights_staff_coverage_rate', 'weight_staff_coverage_rate'),
    ('compliance_weights_rating_coverage_rate', 'weight_rating_coverage_rate'),
    ('compliance_weights_quota_compliance_rate', 'weight_quota_compliance_rate'),
    ('compliance_weights_grade_agreement_rate', 'weight_grade_agreement_rate'),
    ('compliance_weights_anomaly_rate', 'weight_anomaly_rate'),
    ('quality_mad_scale', 'q_mad_scale'),
    ('quality_consensus_min_other_raters', 'q_consensus_min_other_raters'),
    ('quality_consensus_min_pool_raters', 'q_consensus_min_pool_raters'),
    ('quality_consensus_max_score', 'q_max_score'),
    ('quality_straight_lining_min_identical_share', 'q_a2_min_identical_share'),
    ('quality_straight_lining_min_ratees', 'q_a2_min_ratees'),
    ('quality_straight_lining_strong_q', 'q_a2_strong_q'),
    ('quality_lenient_rater_min_ratees', 'q_a3_min_ratees'),
    ('quality_lenient_rater_max_q', 'q_a3_max_q'),
    ('quality_lenient_rater_strong_q', 'q_a3_strong_q'),
    ('quality_lenient_rater_min_rater_sd', 'q_a3_min_rater_sd'),
    ('quality_lenient_rater_min_effect', 'q_a3_min_effect'),
    ('quality_lenient_rater_min_headroom_share', 'q_a3_min_headroom_share'),
    ('quality_severe_rater_min_ratees', 'q_a4_min_ratees'),
    ('quality_severe_rater_max_q', 'q_a4_max_q'),
    ('quality_severe_rater_strong_q', 'q_a4_strong_q'),
    ('quality_severe_rater_min_rater_sd', 'q_a4_min_rater_sd'),
    ('quality_severe_rater_min_effect', 'q_a4_min_effect'),
    ('quality_severe_rater_min_headroom_share', 'q_a4_min_headroom_share'),
    ('quality_no_discrimination_min_ratees', 'q_a5_min_ratees'),
    ('quality_no_discrimination_max_std_ratio', 'q_a5_max_std_ratio'),
    ('quality_no_discrimination_min_reference_std', 'q_a5_min_reference_std'),
    ('quality_no_discrimination_max_ceiling_share', 'q_a5_max_ceiling_share'),
    ('quality_no_discrimination_max_q', 'q_a5_max_q'),
    ('quality_no_discrimination_strong_q', 'q_a5_strong_q'),
    ('quality_collusion_min_shared_ratees', 'q_a6_min_shared_ratees'),
    ('quality_collusion_min_identical_share', 'q_a6_min_identical_share'),
    ('quality_collusion_min_identical_below_ceiling', 'q_a6_min_identical_below_ceiling'),
    ('quality_collusion_max_q', 'q_a6_max_q'),
    ('quality_collusion_strong_q', 'q_a6_strong_q'),
    ('quality_reciprocal_inflation_min_points_floor', 'q_a7_min_points_floor'),
    ('quality_reciprocal_inflation_min_rank_share', 'q_a7_min_rank_share'),
    ('quality_reciprocal_inflation_max_q', 'q_a7_max_q'),
    ('quality_reciprocal_inflation_strong_q', 'q_a7_strong_q'),
    ('quality_outlier_rating_min_distance', 'q_a8_min_distance'),
    ('quality_outlier_rating_min_other_raters', 'q_a8_min_other_raters'),
    ('quality_outlier_rating_max_q', 'q_a8_max_q'),
    ('quality_grade_rotation_min_participants', 'q_u1_min_participants'),
    ('quality_grade_rotation_max_spearman', 'q_u1_max_spearman'),
    ('quality_grade_rotation_max_q', 'q_u1_max_q'),
    ('quality_grade_rotation_min_top_turnover', 'q_u1_min_top_turnover'),
    ('quality_grade_rotation_min_reference_units', 'q_u1_min_reference_units'),
    ('quality_rating_work_decoupling_min_participants', 'q_u2_min_participants'),
    ('quality_rating_work_decoupling_max_spearman', 'q_u2_max_spearman'),
    ('quality_rating_work_decoupling_max_q', 'q_u2_max_q'),
    ('quality_rating_work_decoupling_min_reference_units', 'q_u2_min_reference_units'),
    ('quality_score_inflation_max_q', 'q_u3_max_q'),
    ('quality_score_inflation_min_excess_points', 'q_u3_min_excess_points'),
    ('quality_score_inflation_min_headroom_share', 'q_u3_min_headroom_share'),
    ('quality_score_inflation_prior_units', 'q_u3_prior_units'),
    ('quality_score_inflation_min_reference_units', 'q_u3_min_reference_units'),
    ('quality_proposed_grade_gaming_max_agreement', 'q_u4_max_agreement'),
] -%}
{%- set integer_columns = [
    'deadline_days_after_quarter_end', 'peer_min_group_size', 'trim_min_raters', 'top_quota_min',
    'min_scored_quarters', 'excellent_quota_min', 'basic_min_poor_quarters', 'incompetent_min_poor_quarters',
    'q_consensus_min_other_raters', 'q_consensus_min_pool_raters',
    'q_a2_min_ratees', 'q_a3_min_ratees', 'q_a4_min_ratees', 'q_a5_min_ratees', 'q_a6_min_shared_ratees',
    'q_a6_min_identical_below_ceiling', 'q_a8_min_other_raters', 'q_u1_min_participants', 'q_u2_min_participants',
    'q_u1_min_reference_units', 'q_u2_min_reference_units', 'q_u3_prior_units', 'q_u3_min_reference_units',
] -%}
{%- set text_parameters = [
    ('calendar_timezone', 'calendar_timezone'),
    ('compliance_anomaly_severity', 'anomaly_severity'),
    ('quality_self_rating_severity', 'q_a1_severity'),
    ('quality_straight_lining_severity', 'q_a2_severity'),
    ('quality_lenient_rater_severity', 'q_a3_severity'),
    ('quality_severe_rater_severity', 'q_a4_severity'),
    ('quality_no_discrimination_severity', 'q_a5_severity'),
    ('quality_collusion_severity', 'q_a6_severity'),
    ('quality_reciprocal_inflation_severity', 'q_a7_severity'),
    ('quality_outlier_rating_severity', 'q_a8_severity'),
    ('quality_grade_rotation_severity', 'q_u1_severity'),
    ('quality_rating_work_decoupling_severity', 'q_u2_severity'),
    ('quality_score_inflation_severity', 'q_u3_severity'),
    ('quality_proposed_grade_gaming_severity', 'q_u4_severity'),
] -%}

with parameters as (
    select * from {{ ref('stg_rules_parameters') }}
),

pivoted as (
    select
        rules_year,
        max(rules_version) as rules_version,
        max(rules_fingerprint) as rules_fingerprint,
        {%- for parameter, column in numeric_parameters %}
        max(case when parameter = '{{ parameter }}' then value_number end) as {{ column }},
        {%- endfor %}
        {%- for parameter, column in text_parameters %}
        max(case when parameter = '{{ parameter }}' then value_text end) as {{ column }},
        {%- endfor %}
        count(*) as n_parameters
    from parameters
    group by rules_year
),

typed as (
    select
        rules_year,
        rules_version,
        rules_fingerprint,
        {%- for _, column in numeric_parameters %}
        cast({{ column }} as {{ 'integer' if column in integer_columns else 'double' }}) as {{ column }},
        {%- endfor %}
        {%- for _, column in text_parameters %}
        {{ column }},
        {%- endfor %}
        n_parameters
    from pivoted
)

select * from typed
