-- S_eval next to the rater-severity-adjusted S_eval_fair per person and quarter (quality.md; analytics,
-- not the official grade), from the Python asset quality/fair_scores.
with fair as (
    select * from {{ quality_analytics('fair_scores', [
        ('quarter', 'varchar'), ('unit_code', 'varchar'), ('ratee_code', 'varchar'), ('n_ratings', 'integer'),
        ('s_eval', 'double'), ('s_eval_fair', 'double'), ('fair_minus_official', 'double')]) }} as f
)

select * from fair
