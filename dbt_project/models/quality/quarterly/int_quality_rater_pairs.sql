{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_selected_quarters() }}",
    tags=['unit_grain'],
) }}
-- Every pair of raters of a unit and quarter who share at least one ratee (self-ratings excluded; a pair
-- is ordered so that (tier, code) < (tier_2, code_2); one person rating a ratee in two tiers is not a
-- pair with itself), with the counts A6 collusion is judged on (int_findings_pairs): shared ratees, those
-- where not both vectors are all-max, those with identical vectors (every dimension within one point),
-- and those identical below the ceiling. Unit-grain (tag unit_grain): every count is within one unit, so
-- a unit-scoped build rewrites only the scoped units' pairs, and int_findings_pairs takes the city-wide
-- rate of identical vectors and the tests' q values from this table instead of joining every rating of
-- the city with every other rating of its ratee again.
-- Built after int_findings_leniency, never beside it: the pair self-join and the leniency model are the
-- heaviest quality SQL and, run side by side under a DuckDB memory cap, each spills and they thrash (16
-- cities: 100-215 s together against 3-25 s one after the other; docs/benchmark.md). It reads nothing
-- from it.
-- depends_on: {{ ref('int_findings_leniency') }}

with ratings as (
    select * from {{ ref('int_quality_ratings') }}
    where {{ in_selected_quarter() }} and not is_self_rating
),

-- Integer keys for the pair self-join: a rater (quarter, unit, tier, code) numbered in that order, so
-- a.rater_key < b.rater_key is exactly the pair order (tier, code) < (tier_2, code_2) within a unit, and
-- person_key says whether two raters are the same person (rated the ratee in two tiers). Joining on one
-- integer and grouping by two, instead of three and seven strings, halved the pair count's time.
rater_keys as (
    select
        quarter,
        rules_year,
        unit_code,
        rater_tier,
        rater_code,
        row_number() over (order by quarter, unit_code, rater_tier, rater_code) as rater_key,
        dense_rank() over (order by quarter, unit_code, rater_code) as person_key
    from ratings
    -- a quarter has one rules year: grouping by it too keeps it for the pair rows
    group by quarter, rules_year, unit_code, rater_tier, rater_code
),

ratee_keys as (
    select
        quarter,
        unit_code,
        ratee_code,
        row_number() over (order by quarter, unit_code, ratee_code) as ratee_key
    from ratings
    group by quarter, unit_code, ratee_code
),

keyed as (
    select
        ratee_keys.ratee_key,
        rater_keys.rater_key,
        rater_keys.person_key,
        ratings.is_ceiling_vector,
        ratings.score_intensity,
        ratings.score_difficulty,
        ratings.score_quantity,
        ratings.score_effect,
        ratings.score_measures
    from ratings
    inner join rater_keys
        on
            ratings.quarter = rater_keys.quarter
            and ratings.unit_code = rater_keys.unit_code
            and ratings.rater_tier = rater_keys.rater_tier
            and ratings.rater_code = rater_keys.rater_code
    inner join ratee_keys
        on
            ratings.quarter = ratee_keys.quarter
            and ratings.unit_code = ratee_keys.unit_code
            and ratings.ratee_code = ratee_keys.ratee_code
),

shared_keys as (
    select
        a.rater_key,
        b.rater_key as rater_key_2,
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
    from keyed as a
    inner join keyed as b
        on
            a.ratee_key = b.ratee_key
            and a.rater_key < b.rater_key
            and a.person_key <> b.person_key
    group by a.rater_key, b.rater_key
),

final as (
    select
        a.quarter,
        a.rules_year,
        a.unit_code,
        a.rater_tier,
        a.rater_code,
        b.rater_tier as rater_tier_2,
        b.rater_code as rater_code_2,
        shared_keys.n_shared,
        shared_keys.n_shared_below,
        shared_keys.n_identical,
        shared_keys.n_identical_below
    from shared_keys
    inner join rater_keys as a
        on shared_keys.rater_key = a.rater_key
    inner join rater_keys as b
        on shared_keys.rater_key_2 = b.rater_key
)

select * from final
