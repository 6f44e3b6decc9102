-- U1 grade_rotation (轮流坐庄) tested per unit-year, for years whose four quarters are all present
-- (docs/quality.md, "Unit-level findings"). The rotation is looked for where it happens, among the people
-- who stayed: the participants of the unit with an evaluation score in all four quarters (n_stayers).
--  * Rating ranks: the largest of the Spearman correlations of the stayers' S_eval over Q1→Q2, Q2→Q3,
--    Q3→Q4 (not Q, which carries the persistent task score): rotation keeps every pair low. The null is
--    what an honest unit of this size shows in this city this year: Fisher z against the median over the
--    unit-years tested, variance 1.06 / (n − 3) plus the between-unit variance τ² (as for U2). p = Φ(z).
--  * 好 turnover: how many stayers held the top at some point, over how many a random draw of the same
--    quarterly 好 counts would reach, n · (1 − Π(1 − g_q / n)); for the computed grades, the unit's proposed
--    grades and the top of the ratings (the g_q stayers rated highest, S_eval) separately, the largest
--    kept: rotation turns over ratings, proposed grades and 好, and the computed grade carries the
--    persistent task score, which can keep 好 with the same people while the ratings go round (in a city
--    whose quotas are full a random draw already reaches most stayers). Honest units keep rewarding the
--    same people (ratio well below 1).
-- A finding needs the rank test's BH q value (over the year's unit-years) ≤ max_q, the largest pair's
-- Spearman ≤ max_spearman, and turnover ≥ min_top_turnover.
with persons as (
    select * from {{ ref('fct_person_quarter') }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

complete_years as (
    select {{ quarter_year('quarter') }} as rules_year
    from persons
    group by {{ quarter_year('quarter') }}
    having count(distinct {{ quarter_number('quarter') }}) = 4
),

rated as (
    select
        unit_code,
        person_key,
        eval_score,
        computed_grade,
        proposed_grade,
        {{ quarter_year('quarter') }} as rules_year,
        {{ quarter_number('quarter') }} as quarter_no
    from persons
    where is_participant and eval_score is not null
),

stayer_keys as (
    select
        rated.rules_year,
        rated.unit_code,
        rated.person_key
    from rated
    where rated.rules_year in (select complete_years.rules_year from complete_years)
    group by rated.rules_year, rated.unit_code, rated.person_key
    having count(distinct rated.quarter_no) = 4
),

stayers as (
    select
        rated.*,
        {{ average_rank('rated.eval_score', 'rated.rules_year, rated.unit_code, rated.quarter_no') }} as eval_rank,
        -- the last place a tie group of S_eval occupies from the top: a group counts as rated on top only
        -- when all of it fits within the quarter's 好 count (a crowd tied at the ceiling is not a turn)
        rank()
            over (
                partition by rated.rules_year, rated.unit_code, rated.quarter_no order by rated.eval_score desc
            )
        + count(*) over (partition by rated.rules_year, rated.unit_code, rated.quarter_no, rated.eval_score)
        - 1 as eval_last_place
    from rated
    inner join stayer_keys
        on
            rated.rules_year = stayer_keys.rules_year
            and rated.unit_code = stayer_keys.unit_code
            and rated.person_key = stayer_keys.person_key
),

consecutive as (
    select
        earlier.rules_year,
        earlier.unit_code,
        earlier.quarter_no,
        corr(earlier.eval_rank, later.eval_rank) as spearman
    from stayers as earlier
    inner join stayers as later
        on
            earlier.rules_year = later.rules_year
            and earlier.unit_code = later.unit_code
            and earlier.person_key = later.person_key
            and later.quarter_no = earlier.quarter_no + 1
    group by earlier.rules_year, earlier.unit_code, earlier.quarter_no
),

persistence as (
    -- The most persistent of the three consecutive pairs: a rotation keeps every pair low all year, while
    -- one disrupted quarter (say, a quarter rated by seniority) lowers only the two pairs around it. All
    -- three pairs must be informative (ranks not all tied, corr not NaN).
    select
        rules_year,
        unit_code,
        max(spearman) as max_spearman_pair,
        avg(spearman) as mean_spearman
    from consecutive
    group by rules_year, unit_code
    having count(*) filter (where spearman is not null and not isnan(spearman)) = 3
),

quarter_tops as (
    select
        rules_year,
        unit_code,
        quarter_no,
        count(*) as n_stayers,
        count(*) filter (where computed_grade = '好') as computed_tops,
        count(*) filter (where proposed_grade = '好') as proposed_tops,
        count(proposed_grade) as n_proposals
    from stayers
    group by rules_year, unit_code, quarter_no
),

expected_holders as (
    -- A random draw of g of n people each quarter reaches n · (1 − Π(1 − g_q / n)) distinct people.
    select
        rules_year,
        unit_code,
        any_value(n_stayers) as n_stayers,
        any_value(n_stayers) * (1.0 - product(1.0 - computed_tops / n_stayers)) as computed_expected,
        any_value(n_stayers) * (1.0 - product(1.0 - proposed_tops / n_stayers)) as proposed_expected,
        sum(computed_tops) as computed_awards,
        sum(proposed_tops) as proposed_awards,
        min(n_proposals) as min_proposals
    from quarter_tops
    group by rules_year, unit_code
),

holders as (
    select
        stayers.rules_year,
        stayers.unit_code,
        count(distinct stayers.person_key) filter (where stayers.computed_grade = '好') as computed_holders,
        count(distinct stayers.person_key) filter (where stayers.proposed_grade = '好') as proposed_holders,
        count(distinct stayers.person_key) filter (
            where stayers.eval_last_place <= quarter_tops.computed_tops
        ) as rated_top_holders
    from stayers
    inner join quarter_tops
        on
            stayers.rules_year = quarter_tops.rules_year
            and stayers.unit_code = quarter_tops.unit_code
            and stayers.quarter_no = quarter_tops.quarter_no
    group by stayers.rules_year, stayers.unit_code
),

unit_years as (
    select
        expected_holders.*,
        holders.computed_holders,
        holders.proposed_holders,
        persistence.mean_spearman,
        persistence.max_spearman_pair,
        greatest(
            holders.computed_holders / nullif(expected_holders.computed_expected, 0),
            case
                when expected_holders.min_proposals > 0
                    then holders.proposed_holders / nullif(expected_holders.proposed_expected, 0)
            end,
            -- the top of the ratings, with the computed 好 counts (so the same random-draw reference)
            holders.rated_top_holders / nullif(expected_holders.computed_expected, 0)
        ) as top_turnover,
        holders.rated_top_holders,
        {{ fisher_z('persistence.max_spearman_pair') }} as z_unit,
        -- the variance of one pair's z: conservative for the largest of three; τ absorbs the rest
        1.06 / (expected_holders.n_stayers - 3) as sampling_var,
        rules.q_u1_max_q as max_q,
        rules.q_u1_max_spearman as max_spearman,
        rules.q_u1_min_top_turnover as min_top_turnover,
        rules.q_u1_min_reference_units as min_reference_units
    from expected_holders
    inner join holders
        on expected_holders.rules_year = holders.rules_year and expected_holders.unit_code = holders.unit_code
    inner join persistence
        on
            expected_holders.rules_year = persistence.rules_year
            and expected_holders.unit_code = persistence.unit_code
    inner join rules
        on expected_holders.rules_year = rules.rules_year
    where expected_holders.n_stayers >= rules.q_u1_min_participants
),

null_centre as (
    select
        rules_year,
        count(*) as n_units,
        median(z_unit) as z_center
    from unit_years
    group by rules_year
),

null_spread as (
    {{ between_unit_sd('unit_years', 'null_centre', ['rules_year']) }}
),

scored as (
    select
        unit_years.*,
        null_centre.n_units,
        tanh(null_centre.z_center) as reference,
        (unit_years.z_unit - null_centre.z_center) / sqrt(unit_years.sampling_var + power(null_spread.tau, 2))
            as z_stat
    from unit_years
    inner join null_centre on unit_years.rules_year = null_centre.rules_year
    inner join null_spread on unit_years.rules_year = null_spread.rules_year
    where null_centre.n_units >= unit_years.min_reference_units
),

with_p as (
    select
        *,
        {{ normal_cdf('z_stat') }} as p_value
    from scored
),

ranked as (
    select
        *,
        {{ bh_rank_columns('p_value', 'rules_year', 'unit_code') }}
    from with_p
),

final as (
    select
        'U1' as code,
        rules_year,
        unit_code,
        n_stayers,
        mean_spearman,
        max_spearman_pair,
        reference,
        top_turnover,
        computed_holders,
        proposed_holders,
        rated_top_holders,
        computed_expected,
        proposed_expected,
        z_stat,
        p_value,
        {{ bh_q_value('p_value', 'rules_year', 'unit_code') }} as q_value,
        max_q,
        max_spearman,
        min_top_turnover,
        n_units
    from ranked
)

select
    final.*,
    final.q_value <= final.max_q
    and {{ comparable('final.max_spearman_pair') }} <= final.max_spearman
    and coalesce({{ comparable('final.top_turnover') }} >= final.min_top_turnover, false) as is_finding
from final
