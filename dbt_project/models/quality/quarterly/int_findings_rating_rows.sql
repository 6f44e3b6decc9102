-- Rating-row findings (quality.md): A1 self_rating (rater_code = ratee_code) and A8 outlier_rating
-- (composite ≥ min_distance points from the ratee's consensus resting on ≥ min_other_raters other raters).
with ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

self_ratings as (
    select
        {{ finding_fields(
            "'A1'", "'self_rating'", 'rules.q_a1_severity', 'ratings.quarter', 'ratings.quarter',
            'ratings.rules_year', 'ratings.unit_code',
            rater_tier='ratings.rater_tier', rater_code='ratings.rater_code', ratee_code='ratings.ratee_code',
            metric="'composite_score'", value='ratings.composite_score', n='1',
            explanation="printf('评议人%s（%s）给自己打分（综合分%.1f），自评不计入评议分，请核实并提醒单位。', ratings.rater_code, ratings.rater_tier, ratings.composite_score)",
            rules_version='rules.rules_version'
        ) }}
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where ratings.is_self_rating
),

outliers as (
    select
        {{ finding_fields(
            "'A8'", "'outlier_rating'", 'rules.q_a8_severity', 'ratings.quarter', 'ratings.quarter',
            'ratings.rules_year', 'ratings.unit_code',
            rater_tier='ratings.rater_tier', rater_code='ratings.rater_code', ratee_code='ratings.ratee_code',
            metric="'distance_from_consensus'", value='ratings.composite_score - ratings.consensus_score',
            threshold='rules.q_a8_min_distance', n='ratings.n_other_raters',
            explanation="printf('评议人%s（%s）给%s的综合分%.1f，与其他%d名评议人的平均分%.1f相差%.1f分，属离群评分，请核实。', ratings.rater_code, ratings.rater_tier, ratings.ratee_code, ratings.composite_score, ratings.n_other_raters, ratings.consensus_score, ratings.composite_score - ratings.consensus_score)",
            rules_version='rules.rules_version'
        ) }}
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where {{ is_outlier_rating('ratings', 'rules') }}
)

select * from self_ratings
union all
select * from outliers
