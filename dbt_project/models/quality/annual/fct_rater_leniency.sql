-- Each rater's leniency s_r (facets model composite = μ + θ_p + s_r + ε, per unit and quarter; quality.md)
-- from the Python asset quality/leniency.
with leniency as (
    select * from {{ quality_analytics('leniency', [
        ('quarter', 'varchar'), ('unit_code', 'varchar'), ('rater_tier', 'varchar'), ('rater_code', 'varchar'),
        ('component', 'integer'), ('n_ratings', 'integer'), ('n_ratees', 'integer'), ('leniency', 'double'),
        ('leniency_se', 'double')]) }} as l
)

select * from leniency
