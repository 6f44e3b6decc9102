-- Reliability of each unit's rating process (quality.md): ICC(1,1), ICC(1,k0) and Krippendorff's interval
-- alpha per unit, quarter and rater tier, and over all tiers (rater_tier = '全部'), from the Python asset
-- quality/reliability. NaN (undefined) statistics are null here.
with reliability as (
    select * from {{ quality_analytics('reliability', [
        ('quarter', 'varchar'), ('unit_code', 'varchar'), ('rater_tier', 'varchar'), ('n_ratees', 'integer'),
        ('n_ratings', 'integer'), ('k0', 'double'), ('icc_1_1', 'double'), ('icc_1k', 'double'),
        ('alpha_interval', 'double')]) }} as r
)

select
    quarter,
    unit_code,
    rater_tier,
    n_ratees,
    n_ratings,
    case when isnan(k0) then null else k0 end as k0,
    case when isnan(icc_1_1) then null else icc_1_1 end as icc_1_1,
    case when isnan(icc_1k) then null else icc_1k end as icc_1k,
    case when isnan(alpha_interval) then null else alpha_interval end as alpha_interval
from reliability
