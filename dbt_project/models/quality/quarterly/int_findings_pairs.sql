-- Rater-pair findings (quality.md; self-ratings excluded; a pair is ordered so that (tier, code) <
-- (tier_2, code_2)).
-- A6 collusion: ≥ min_shared_ratees shared ratees with identical (every dimension within one point)
-- five-score vectors for ≥ min_identical_share of them, at least min_identical_below_ceiling of those identical vectors below the
-- ceiling (two honest lenient raters both giving all 100 agree because they cannot go higher), and the
-- identical vectors below the ceiling improbable by chance: binomial tail against the city-quarter's rate
-- of identical below-ceiling vectors between any two raters of a shared ratee, BH q ≤ max_q over the pairs
-- tested. Severity: high at q ≤ strong_q, medium above.
-- A7 reciprocal_inflation: two peers (same tier) rating each other, each direction above at least
-- min_rank_share of the other raters of that ratee (≥ min_other_raters of them; ties count half) and above
-- the robust consensus by ≥ min_points_above points or, where the room toward 100 is smaller, by ≥
-- min_headroom_share of that room (a consensus of 97 leaves 3 points), never by less than min_points_floor. How sure: each direction's censored normal tail P(an honest row
-- reaches this far, or the cap), against the robust spread of the rows of that tier, combined by Fisher's
-- method, BH over all mutual peer pairs of the quarter; reported at q ≤ max_q (0.05: the pattern alone
-- fired on honest raters of a ceiling-heavy city), severity from it.
with rules as (
    select * from {{ ref('int_rules') }}
),

ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }} and not is_self_rating
),

shared as (
    select
        a.quarter,
        a.rules_year,
        a.unit_code,
        a.rater_tier,
        a.rater_code,
        b.rater_tier as rater_tier_2,
        b.rater_code as rater_code_2,
        -- A rater rates a ratee once (stg_ratings is unique on quarter, unit, ratee, tier, rater), so
        -- each joined row is one shared ratee: plain counts, which DuckDB can aggregate in bounded
        -- memory (count distinct kept a set per pair: 5.6 GB for a 16-city province).
        count(*) as n_shared,
        count(*) filter (where not (a.is_ceiling_vector and b.is_ceiling_vector)) as n_shared_below,
        -- "Identical" = every dimension within one point: copying and then changing a point here and
        -- there (the smallest edit on the score scale) is still a copy. Below the ceiling = neither
        -- vector is all-max (a copy of a 100-vector and two honest all-100 raters look the same).
        count(*) filter (where {{ within_one_point('a', 'b') }}) as n_identical,
        count(*) filter (
            where {{ within_one_point('a', 'b') }} and not (a.is_ceiling_vector or b.is_ceiling_vector)
        ) as n_identical_below
    from ratings as a
    inner join ratings as b
        on
            a.quarter = b.quarter
            and a.unit_code = b.unit_code
            and a.ratee_code = b.ratee_code
            and a.rater_code <> b.rater_code
            and (a.rater_tier < b.rater_tier or (a.rater_tier = b.rater_tier and a.rater_code < b.rater_code))
    group by a.quarter, a.rules_year, a.unit_code, a.rater_tier, a.rater_code, b.rater_tier, b.rater_code
),

identical_rates as (
    select
        quarter,
        sum(n_identical_below) / nullif(sum(n_shared_below), 0) as base_rate
    from shared
    group by quarter
),

pairs_tested as (
    select
        shared.*,
        shared.n_identical_below as k,
        shared.n_shared_below as n,
        coalesce(identical_rates.base_rate, 0) as p
    from shared
    inner join rules
        on shared.rules_year = rules.rules_year
    inner join identical_rates
        on shared.quarter = identical_rates.quarter
    where shared.n_shared >= rules.q_a6_min_shared_ratees
),

pairs_p as {{ binomial_upper_tail('pairs_tested', 'quarter, unit_code, rater_tier, rater_code, rater_tier_2, rater_code_2') }},

pairs_numbered as (
    select
        pairs_tested.*,
        pairs_p.p_value,
        {{ bh_inputs('pairs_p.p_value', 'pairs_tested.quarter') }}
    from pairs_tested
    inner join pairs_p
        on
            pairs_tested.quarter = pairs_p.quarter
            and pairs_tested.unit_code = pairs_p.unit_code
            and pairs_tested.rater_tier = pairs_p.rater_tier
            and pairs_tested.rater_code = pairs_p.rater_code
            and pairs_tested.rater_tier_2 = pairs_p.rater_tier_2
            and pairs_tested.rater_code_2 = pairs_p.rater_code_2
),

pairs_q as (
    select
        pairs_numbered.*,
        {{ bh_q('p_value', 'quarter') }} as q_value
    from pairs_numbered
),

collusion as (
    select
        {{ pair_finding_fields(
            'A6', 'collusion', 'shared', 'identical_share',
            value='shared.n_identical / shared.n_shared', threshold='rules.q_a6_min_identical_share',
            n='shared.n_shared',
            explanation="printf('评议人%s（%s）与%s（%s）对%d名共同被评议人中的%d名五项打分相同或每项相差不超过1分（其中%d名非满分，q=%.4f），疑似串通打分。', shared.rater_code, shared.rater_tier, shared.rater_code_2, shared.rater_tier_2, shared.n_shared, shared.n_identical, shared.n_identical_below, shared.q_value)",
            severity=severity_from_confidence('rules.q_a6_severity', 'shared.q_value', 'rules.q_a6_strong_q'),
            confidence='1 - shared.q_value'
        ) }}
    from pairs_q as shared
    inner join rules
        on shared.rules_year = rules.rules_year
    where
        shared.n_identical >= rules.q_a6_min_identical_share * shared.n_shared
        and shared.n_identical_below >= rules.q_a6_min_identical_below_ceiling
        and shared.q_value <= rules.q_a6_max_q
),

-- A7 -------------------------------------------------------------------------------------------------
peer_rows as (
    select
        ratings.*,
        ratings.composite_score - ratings.consensus_score as excess,
        rules.q_max_score - ratings.consensus_score as room
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where ratings.consensus_score is not null and ratings.n_other_raters >= rules.q_consensus_min_other_raters
),

-- The robust spread of rows around their consensus, per quarter and tier (the peers' own tier).
row_centres as (
    select
        quarter,
        rater_tier,
        median(excess) as centre
    from peer_rows
    group by quarter, rater_tier
),

row_spreads as (
    select
        peer_rows.quarter,
        peer_rows.rater_tier,
        row_centres.centre,
        median(abs(peer_rows.excess - row_centres.centre)) as mad_excess
    from peer_rows
    inner join row_centres
        on peer_rows.quarter = row_centres.quarter and peer_rows.rater_tier = row_centres.rater_tier
    group by peer_rows.quarter, peer_rows.rater_tier, row_centres.centre
),

directions as (
    select
        peer_rows.*,
        -- at the cap the row shows only the room, so P(an honest row reaches the cap) is the tail at it
        {{ normal_upper_tail('z_excess') }} as p_direction
    from (
        select
            peer_rows.*,
            (peer_rows.excess - row_spreads.centre) / nullif(rules.q_mad_scale * row_spreads.mad_excess, 0) as z_excess
        from peer_rows
        inner join row_spreads
            on peer_rows.quarter = row_spreads.quarter and peer_rows.rater_tier = row_spreads.rater_tier
        inner join rules
            on peer_rows.rules_year = rules.rules_year
    ) as peer_rows
),

mutual as (
    select
        a.quarter,
        a.rules_year,
        a.unit_code,
        a.rater_tier,
        a.rater_code,
        b.rater_tier as rater_tier_2,
        b.rater_code as rater_code_2,
        a.excess as excess_1,
        b.excess as excess_2,
        a.room as room_1,
        b.room as room_2,
        (a.n_others_below + 0.5 * a.n_others_tied) / a.n_other_raters as rank_share_1,
        (b.n_others_below + 0.5 * b.n_others_tied) / b.n_other_raters as rank_share_2,
        -- Fisher's method for two p values: P(U1·U2 ≤ t) = t·(1 − ln t)
        greatest(coalesce(a.p_direction, 1.0) * coalesce(b.p_direction, 1.0), 1e-300) as t
    from directions as a
    inner join directions as b
        on
            a.quarter = b.quarter
            and a.unit_code = b.unit_code
            and a.rater_code = b.ratee_code
            and a.ratee_code = b.rater_code
            and a.rater_tier = b.rater_tier
            and a.rater_code < b.rater_code
),

mutual_numbered as (
    select
        mutual.*,
        least(1.0, mutual.t * (1 - ln(mutual.t))) as p_value,
        {{ bh_inputs('least(1.0, t * (1 - ln(t)))', 'quarter') }}
    from mutual
),

mutual_q as (
    select
        mutual_numbered.*,
        {{ bh_q('p_value', 'quarter') }} as q_value
    from mutual_numbered
),

reciprocal_inflation as (
    select
        {{ pair_finding_fields(
            'A7', 'reciprocal_inflation', 'reciprocal', 'min_points_above_consensus',
            value='least(reciprocal.excess_1, reciprocal.excess_2)',
            threshold='greatest(rules.q_a7_min_points_floor, least(rules.q_a7_min_points_above, rules.q_a7_min_headroom_share * greatest(reciprocal.room_1, reciprocal.room_2)))',
            n='2',
            explanation="printf('%s与%s（%s）互评均高于对方绝大多数其他评议人，比中位分分别高%.1f分、%.1f分（可上升空间%.1f分、%.1f分，q=%.4f），疑似互相抬分。', reciprocal.rater_code, reciprocal.rater_code_2, reciprocal.rater_tier, reciprocal.excess_1, reciprocal.excess_2, reciprocal.room_1, reciprocal.room_2, reciprocal.q_value)",
            severity=severity_from_confidence('rules.q_a7_severity', 'reciprocal.q_value', 'rules.q_a7_strong_q'),
            confidence='1 - reciprocal.q_value'
        ) }}
    from mutual_q as reciprocal
    inner join rules
        on reciprocal.rules_year = rules.rules_year
    where
        reciprocal.rank_share_1 >= rules.q_a7_min_rank_share
        and reciprocal.rank_share_2 >= rules.q_a7_min_rank_share
        and reciprocal.excess_1 >= greatest(
            rules.q_a7_min_points_floor,
            least(rules.q_a7_min_points_above, rules.q_a7_min_headroom_share * reciprocal.room_1)
        )
        and reciprocal.excess_2 >= greatest(
            rules.q_a7_min_points_floor,
            least(rules.q_a7_min_points_above, rules.q_a7_min_headroom_share * reciprocal.room_2)
        )
        and reciprocal.q_value <= rules.q_a7_max_q
)

select * from collusion
union all
select * from reciprocal_inflation
