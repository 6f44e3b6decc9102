-- A3 lenient_rater / A4 severe_rater (quality.md, "What a definition must survive"). A rater (tier, code in a
-- unit and quarter) is lenient or severe when it sits above or below the robust consensus across its
-- ratees, further than honest raters of its tier do:
--   residual r = composite − the ratee's leave-one-out median consensus (≥ min_other_raters others);
--   rater statistic m = the mean of its residuals winsorised at 1.5 σ around their median (σ below): as
--   efficient as a mean on well-behaved rows (variance 1.06·σ²/n, where the median's is 1.571·σ²/n, so a
--   rater on 3–4 ratees is judged on nearly all its evidence), while one wild row, an A8 matter, moves m by
--   at most 1.5 σ / n and cannot make a rater lenient;
--   pool = the raters of its tier tested in the city-quarter, or all tiers when the tier has fewer than
--   min_pool_raters of them (no spread is estimated from a handful of values);
--   empirical Bayes: m ~ N(μ, τ² + 1.06·σ²/n) for an honest rater with n ratees, where μ is the pool's
--   median of m, σ the robust within-rater spread of rows (1.4826 · median |r − the rater's median|), and
--   τ² the robust between-rater variance of m less the part the row noise explains, at least
--   min_rater_sd². Honest raters differ genuinely (τ), and few ratees widen the null instead of dropping
--   the rater; z = (m − μ) / sqrt(τ² + 1.06·σ²/n), one-sided p from the normal tail, Benjamini–Hochberg q
--   over all raters tested for the type in the quarter.
-- Reported when q ≤ max_q and |m − μ| ≥ min_effect points, or, where the ratees' consensus leaves less
-- room toward 100 (A3) or 0 (A4), ≥ min_headroom_share of that room (near the ceiling a lenient rater
-- cannot show 5 points). Near the ceiling the pool itself is compressed, so a generous rater of a
-- ceiling-heavy city is measured against the raters of that city, not against a fixed number of points.
-- Severity: the rules' severity at q ≤ strong_q, one step lower above.
-- The rater's extreme rows are evidence of this finding: A8 leaves out the rows of raters reported here.
with rules as (
    select * from {{ ref('int_rules') }}
),

ratings as (
    select
        ratings.quarter,
        ratings.rules_year,
        ratings.unit_code,
        ratings.rater_tier,
        ratings.rater_code,
        ratings.ratee_code,
        ratings.composite_score - ratings.consensus_score as residual,
        rules.q_max_score - ratings.consensus_score as room_up,
        ratings.consensus_score as room_down
    from {{ ref('int_quality_ratings') }} as ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where
        {{ in_selected_quarter('ratings.quarter') }}
        and not ratings.is_self_rating
        and ratings.consensus_score is not null
        and ratings.n_other_raters >= rules.q_consensus_min_other_raters
),

raters as (
    select
        quarter,
        rules_year,
        unit_code,
        rater_tier,
        rater_code,
        -- a rater rates a ratee once (stg_ratings is unique on quarter, unit, ratee, tier, rater): rows
        -- are ratees, and a plain count needs no set per rater
        count(*) as n_ratees,
        median(residual) as median_residual,
        median(room_up) as median_room_up,
        median(room_down) as median_room_down,
        -- the rater's residuals, kept with it: the spread and the winsorised mean below read them from
        -- here instead of joining every rating back to its rater (two joins over all ratings, one of
        -- which DuckDB planned as ratings × pools before the rater keys: 60 % of this model's time);
        -- sorted, so the winsorised mean adds them in the same order on every run (the explanation prints
        -- it to one decimal, and quarter-point scores put many means exactly on a .x5)
        list(residual order by residual) as residuals
    from ratings
    group by quarter, rules_year, unit_code, rater_tier, rater_code
),

configs as (
    select
        rules_year,
        'A3' as code,
        'lenient_rater' as type,
        q_a3_severity as rules_severity,
        q_a3_min_ratees as min_ratees,
        q_a3_max_q as max_q,
        q_a3_strong_q as strong_q,
        q_a3_min_rater_sd as min_rater_sd,
        q_a3_min_effect as min_effect,
        q_a3_min_headroom_share as min_headroom_share,
        1 as direction,
        q_mad_scale as mad_scale,
        q_consensus_min_pool_raters as min_pool_raters,
        rules_version
    from rules
    union all
    select
        rules_year,
        'A4' as code,
        'severe_rater' as type,
        q_a4_severity as rules_severity,
        q_a4_min_ratees as min_ratees,
        q_a4_max_q as max_q,
        q_a4_strong_q as strong_q,
        q_a4_min_rater_sd as min_rater_sd,
        q_a4_min_effect as min_effect,
        q_a4_min_headroom_share as min_headroom_share,
        -1 as direction,
        q_mad_scale as mad_scale,
        q_consensus_min_pool_raters as min_pool_raters,
        rules_version
    from rules
),

tested as (
    select
        configs.*,
        raters.quarter,
        raters.unit_code,
        raters.rater_tier,
        raters.rater_code,
        raters.n_ratees,
        raters.median_residual,
        raters.residuals,
        case when configs.direction = 1 then raters.median_room_up else raters.median_room_down end as room,
        count(*) over (partition by configs.code, raters.quarter, raters.rater_tier) as n_tier_raters
    from raters
    inner join configs
        on raters.rules_year = configs.rules_year
    where raters.n_ratees >= configs.min_ratees
),

-- Row spread within raters: |r − the rater's median| over the rows of the pool's raters (each tested
-- rater's rows, in its tier's pool and in '*'), unnested from the raters' lists.
deviations as (
    select
        code,
        quarter,
        rater_tier,
        mad_scale,
        abs(residual - median_residual) as deviation
    from (
        select
            code,
            quarter,
            rater_tier,
            mad_scale,
            median_residual,
            unnest(residuals) as residual
        from tested
    ) as rater_rows
),

pool_within as (
    select
        code,
        quarter,
        pool,
        any_value(mad_scale) * median(deviation) as sigma_within
    from (
        select
            code,
            quarter,
            rater_tier as pool,
            mad_scale,
            deviation
        from deviations
        union all
        select
            code,
            quarter,
            '*' as pool,
            mad_scale,
            deviation
        from deviations
    ) as pool_rows
    group by code, quarter, pool
),

-- The pool a rater is scored against: its tier's when that has ≥ min_pool_raters tested raters, else '*'.
assigned as (
    select
        tested.*,
        case when tested.n_tier_raters >= tested.min_pool_raters then tested.rater_tier else '*' end as scoring_pool
    from tested
),

-- m: the rater's residuals winsorised at 1.5 σ (its scoring pool's σ) around their median, averaged.
-- The rater's row is carried whole from here on (its residual list dropped at the mean): the pools and the
-- scores below read it as it is, where joining the means back onto the raters and their pool memberships
-- by five string keys was a third of this model's time.
clip_bounds as (
    select
        assigned.*,
        assigned.median_residual - 1.5 * pool_within.sigma_within as low,
        assigned.median_residual + 1.5 * pool_within.sigma_within as high
    from assigned
    inner join pool_within
        on
            assigned.code = pool_within.code
            and assigned.quarter = pool_within.quarter
            and assigned.scoring_pool = pool_within.pool
),

-- (the residual lists stop at the mean: carried on through the BH windows they held memory DuckDB
-- cannot spill, enough that a 16-city build ran out of it at 1GB)
winsorised as (
    select
        * exclude (residuals, low, high),
        list_avg(list_transform(residuals, lambda r: greatest(least(r, high), low))) as rater_mean
    from clip_bounds
),

-- Every scored rater belongs to the all-tier pool '*' and to its tier's pool; it is scored against its
-- tier's pool when that has ≥ min_pool_raters raters, else against '*'.
located as (
    select
        code,
        quarter,
        n_ratees,
        mad_scale,
        min_rater_sd,
        rater_mean,
        unnest([rater_tier, '*']) as pool
    from winsorised
),

pool_centres as (
    select
        code,
        quarter,
        pool,
        median(rater_mean) as centre,
        avg(1.0 / n_ratees) as mean_inverse_n,
        count(*) as n_pool_raters,
        -- a quarter has one rules year, so these are constant within the pool
        any_value(mad_scale) as mad_scale,
        any_value(min_rater_sd) as min_rater_sd
    from located
    group by code, quarter, pool
),

pool_between as (
    select
        located.code,
        located.quarter,
        located.pool,
        median(abs(located.rater_mean - pool_centres.centre)) as mad_between
    from located
    inner join pool_centres
        on
            located.code = pool_centres.code
            and located.quarter = pool_centres.quarter
            and located.pool = pool_centres.pool
    group by located.code, located.quarter, located.pool
),

-- 1.06: the variance of the winsorised mean relative to a plain mean's on normal rows (simulated,
-- 1.05–1.06 for 3–20 rows).
pools as (
    select
        pool_centres.*,
        pool_within.sigma_within,
        greatest(
            power(pool_centres.mad_scale * pool_between.mad_between, 2)
            - 1.06 * power(pool_within.sigma_within, 2) * pool_centres.mean_inverse_n,
            power(pool_centres.min_rater_sd, 2)
        ) as tau_squared
    from pool_centres
    inner join pool_between
        on
            pool_centres.code = pool_between.code
            and pool_centres.quarter = pool_between.quarter
            and pool_centres.pool = pool_between.pool
    inner join pool_within
        on
            pool_centres.code = pool_within.code
            and pool_centres.quarter = pool_within.quarter
            and pool_centres.pool = pool_within.pool
),

scored as (
    select
        winsorised.*,
        pools.pool,
        pools.centre,
        pools.n_pool_raters,
        winsorised.rater_mean - pools.centre as effect,
        (winsorised.rater_mean - pools.centre)
        / sqrt(pools.tau_squared + 1.06 * power(pools.sigma_within, 2) / winsorised.n_ratees) as z_value
    from winsorised
    inner join pools
        on
            winsorised.code = pools.code
            and winsorised.quarter = pools.quarter
            and winsorised.scoring_pool = pools.pool
),

tailed as (
    select
        scored.*,
        {{ normal_upper_tail('direction_z') }} as p_value
    from (select
        *,
        direction * z_value as direction_z
    from scored) as scored
),

q_valued as (
    select
        numbered.*,
        least(numbered.min_effect, numbered.min_headroom_share * numbered.room) as min_points
    from {{ bh_q_values('tailed', 'p_value', ['code', 'quarter']) }} as numbered
),

final as (
    select
        {{ finding_fields(
            'code', 'type', severity_from_confidence('rules_severity', 'q_value', 'strong_q'),
            'quarter', 'quarter', 'rules_year', 'unit_code',
            rater_tier='rater_tier', rater_code='rater_code',
            metric="'rater_residual_vs_pool'", value='effect', threshold='direction * min_points',
            n='n_ratees',
            explanation="printf('评议人%s（%s）给%d名被评议人的分数比其他评议人的中位分普遍%s（稳健平均差%.1f分，同类评议人中z=%.1f，q=%.4f），评分明显偏%s，请复核。', rater_code, rater_tier, n_ratees, case when direction = 1 then '高' else '低' end, abs(rater_mean), z_value, q_value, case when direction = 1 then '宽' else '严' end)",
            rules_version='rules_version', confidence='1 - q_value'
        ) }}
    from q_valued
    where q_value <= max_q and {{ comparable('direction * effect') }} >= {{ comparable('min_points') }}
)

select * from final
