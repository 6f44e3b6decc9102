-- Rater-pair findings (quality.md; self-ratings excluded; a pair is ordered so that (tier, code) <
-- (tier_2, code_2)).
-- A6 collusion: ≥ min_shared_ratees shared ratees with identical (every dimension within one point)
-- five-score vectors for ≥ min_identical_share of them, at least min_identical_below_ceiling of those identical vectors below the
-- ceiling (two honest lenient raters both giving all 100 agree because they cannot go higher), and the
-- identical vectors below the ceiling improbable by chance: binomial tail against the city-quarter's rate
-- of identical below-ceiling vectors between any two raters of a shared ratee, BH q ≤ max_q over the pairs
-- tested. Severity: high at q ≤ strong_q, medium above.
-- A7 reciprocal_inflation: two peers (same tier) rating each other higher than each otherwise rates:
-- inflation specific to the pair, beyond each rater's own leniency (two honest lenient colleagues rate
-- each other high because they rate everybody high). Per direction, the pair-specific excess is the
-- residual on the partner (composite − robust consensus of the partner's other raters) less what the
-- rater's usual residual on its OTHER ratees predicts (leave-this-ratee-out median; upward as a share of
-- the room toward 100, so a rater giving everyone 100 is expected to give the partner 100). How sure: its
-- normal upper tail against the robust spread of the tier's pair-specific excesses (at the cap the tail
-- at the cap), the two directions combined by Fisher's method, BH over all mutual peer pairs of the
-- quarter. Reported at q ≤ max_q when each direction is also above at least min_rank_share of the
-- partner's other raters (≥ min_other_raters of them; ties count half) and at least min_points_floor
-- points above what the rater usually gives. Severity from q (strong_q).
-- The A6 counts of every rater pair come from int_quality_rater_pairs (unit-grain: a unit-scoped build
-- rewrites only the scoped units' pairs); what needs every unit of the city is computed here: the
-- city-quarter's rate of identical vectors, the binomial tails against it and the BH q values over every
-- pair tested, and for A7 the tier's robust centre and spread of pair-specific excesses and the BH q
-- values over every mutual peer pair.

with rules as (
    select * from {{ ref('int_rules') }}
),

ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }} and not is_self_rating
),

shared as (
    select * from {{ ref('int_quality_rater_pairs') }}
    where {{ in_selected_quarter() }}
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

-- The tail is a function of (k, n, p): summed once per distinct triple, joined back on it.
pairs_tails as {{ binomial_upper_tails('pairs_tested') }},

pairs_p as (
    select
        pairs_tested.*,
        pairs_tails.p_value
    from pairs_tested
    inner join pairs_tails
        on
            pairs_tested.k = pairs_tails.k
            and pairs_tested.n = pairs_tails.n
            and pairs_tested.p = pairs_tails.p
),

pairs_q as (
    select * from {{ bh_q_values('pairs_p', 'p_value', ['quarter']) }} as pairs_numbered
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
        shared.n_identical >= {{ comparable('rules.q_a6_min_identical_share * shared.n_shared') }}
        and shared.n_identical_below >= rules.q_a6_min_identical_below_ceiling
        and shared.q_value <= rules.q_a6_max_q
),

-- A7 -------------------------------------------------------------------------------------------------
peer_rows as (
    select
        ratings.*,
        ratings.composite_score - ratings.consensus_score as excess,
        rules.q_max_score - ratings.consensus_score as room,
        -- the share of the room toward the maximum the row used (the room floored at one point, so a
        -- consensus at the maximum does not divide by zero)
        (ratings.composite_score - ratings.consensus_score)
        / greatest(rules.q_max_score - ratings.consensus_score, 1.0) as room_share
    from ratings
    inner join rules
        on ratings.rules_year = rules.rules_year
    where ratings.consensus_score is not null and ratings.n_other_raters >= rules.q_consensus_min_other_raters
),

-- The few order statistics of each rater's rows that its leave-this-ratee-out medians below need (one
-- pass per rater instead of a self-join; see loo_median_from_stats).
rater_lists as (
    select
        quarter,
        unit_code,
        rater_tier,
        rater_code,
        n_rows,
        sorted_excess[n_rows // 2] as excess_1,
        sorted_excess[n_rows // 2 + 1] as excess_2,
        sorted_excess[n_rows // 2 + 2] as excess_3,
        sorted_room_share[n_rows // 2] as share_1,
        sorted_room_share[n_rows // 2 + 1] as share_2,
        sorted_room_share[n_rows // 2 + 2] as share_3
    from (
        select
            quarter,
            unit_code,
            rater_tier,
            rater_code,
            count(*) as n_rows,
            list_sort(list(excess)) as sorted_excess,
            list_sort(list(room_share)) as sorted_room_share
        from peer_rows
        group by quarter, unit_code, rater_tier, rater_code
    ) as rater_rows
),

-- The rater's usual residual on its OTHER ratees (robust, leave-this-ratee-out), and what it predicts
-- for this ratee. Upward it is read as a share of the room (a lenient rater who gives everyone 100 uses
-- all the room everywhere, so a 100 to the partner is expected of it, however much room the partner
-- had); downward, where the room is not the limit, in points.
usual as (
    select
        peer_rows.*,
        rater_lists.n_rows - 1 as n_rater_others,
        {{ loo_median_from_stats(
            'peer_rows.excess', 'rater_lists.n_rows - 1',
            'rater_lists.excess_1', 'rater_lists.excess_2', 'rater_lists.excess_3'
        ) }} as usual_excess,
        {{ loo_median_from_stats(
            'peer_rows.room_share', 'rater_lists.n_rows - 1',
            'rater_lists.share_1', 'rater_lists.share_2', 'rater_lists.share_3'
        ) }} as usual_room_share
    from peer_rows
    inner join rater_lists
        on
            peer_rows.quarter = rater_lists.quarter
            and peer_rows.unit_code = rater_lists.unit_code
            and peer_rows.rater_tier = rater_lists.rater_tier
            and peer_rows.rater_code = rater_lists.rater_code
),

-- Pair-specific excess = the residual on this ratee less what the rater's usual residual predicts; its
-- spread grows with the noise of that usual value (a median of n values: variance factor π/2 / n), so it
-- is compared in units of sqrt(1 + 1.571 / n).
specific as (
    select
        usual.*,
        usual.excess - case
            when usual.usual_room_share > 0 then usual.usual_room_share * usual.room
            else usual.usual_excess
        end as specific_excess,
        case when usual.n_rater_others >= 1 then sqrt(1 + 1.571 / usual.n_rater_others) end as specific_scale
    from usual
),

-- Robust centre and spread per quarter and tier (the peers' own tier): of the scaled pair-specific
-- excess, and of the plain residual for raters with no other ratee (whose usual residual is unknown).
specific_centres as (
    select
        quarter,
        rater_tier,
        median(specific_excess / specific_scale) as centre_specific,
        median(excess) as centre_excess
    from specific
    group by quarter, rater_tier
),

specific_spreads as (
    select
        specific.quarter,
        specific.rater_tier,
        specific_centres.centre_specific,
        specific_centres.centre_excess,
        median(abs(specific.specific_excess / specific.specific_scale - specific_centres.centre_specific))
            as mad_specific,
        median(abs(specific.excess - specific_centres.centre_excess)) as mad_excess
    from specific
    inner join specific_centres
        on specific.quarter = specific_centres.quarter and specific.rater_tier = specific_centres.rater_tier
    group by
        specific.quarter, specific.rater_tier, specific_centres.centre_specific, specific_centres.centre_excess
),

directions as (
    select
        specific.*,
        -- P(an honest row is at least this far above what its rater usually gives). At the cap the row
        -- shows only the room, so this is the tail at the cap: a 100 against an expected 97 shows little.
        {{ normal_upper_tail('z_specific') }} as p_direction
    from (
        select
            specific.*,
            case
                when specific.specific_scale is not null
                    then
                        (specific.specific_excess / specific.specific_scale - specific_spreads.centre_specific)
                        / nullif(rules.q_mad_scale * specific_spreads.mad_specific, 0)
                -- no other ratee: the rater's own leniency cannot be told apart, so the row is compared
                -- with the spread of all rows (leniency and noise)
                else
                    (specific.excess - specific_spreads.centre_excess)
                    / nullif(rules.q_mad_scale * specific_spreads.mad_excess, 0)
            end as z_specific
        from specific
        inner join specific_spreads
            on specific.quarter = specific_spreads.quarter and specific.rater_tier = specific_spreads.rater_tier
        inner join rules
            on specific.rules_year = rules.rules_year
    ) as specific
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
        coalesce(a.specific_excess, a.excess) as specific_1,
        coalesce(b.specific_excess, b.excess) as specific_2,
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

mutual_p as (
    select
        mutual.*,
        least(1.0, mutual.t * (1 - ln(mutual.t))) as p_value
    from mutual
),

mutual_q as (
    select * from {{ bh_q_values('mutual_p', 'p_value', ['quarter']) }} as mutual_numbered
),

reciprocal_inflation as (
    select
        {{ pair_finding_fields(
            'A7', 'reciprocal_inflation', 'reciprocal', 'min_pair_specific_excess',
            value='least(reciprocal.specific_1, reciprocal.specific_2)',
            threshold='rules.q_a7_min_points_floor',
            n='2',
            explanation="printf('%s与%s（%s）互评均高于对方绝大多数其他评议人，扣除各自对其他人的一贯打分高低后仍分别多给%.1f分、%.1f分（比中位分高%.1f分、%.1f分，q=%.4f），疑似互相抬分。', reciprocal.rater_code, reciprocal.rater_code_2, reciprocal.rater_tier, reciprocal.specific_1, reciprocal.specific_2, reciprocal.excess_1, reciprocal.excess_2, reciprocal.q_value)",
            severity=severity_from_confidence('rules.q_a7_severity', 'reciprocal.q_value', 'rules.q_a7_strong_q'),
            confidence='1 - reciprocal.q_value'
        ) }}
    from mutual_q as reciprocal
    inner join rules
        on reciprocal.rules_year = rules.rules_year
    where
        {{ comparable('reciprocal.rank_share_1') }} >= rules.q_a7_min_rank_share
        and {{ comparable('reciprocal.rank_share_2') }} >= rules.q_a7_min_rank_share
        and {{ comparable('reciprocal.specific_1') }} >= rules.q_a7_min_points_floor
        and {{ comparable('reciprocal.specific_2') }} >= rules.q_a7_min_points_floor
        and reciprocal.q_value <= rules.q_a7_max_q
)

select * from collusion
union all
select * from reciprocal_inflation
