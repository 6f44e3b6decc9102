-- One row per participant (rules.md §4): A = Σ adjustments clipped to [adjustment_min, adjustment_max],
-- Q = clip(task_weight·S_task + eval_weight·S_eval + A, 0, 100) when the person has an S_eval, the
-- score band (好 ≥ 90, 较好 ≥ 80, 一般 ≥ 60, else 较差) and the graded result: at most
-- cap = max(top_quota_min, floor(top_quota·n)) 好 per unit (n = scored participants), ranked by Q desc,
-- S_eval desc, person_code asc, the rest of the band becoming 较好. No S_eval: grade 未评定.
-- Bands and ranks compare scores rounded to 1e-9 (macro comparable), never floating-point noise.
with base_scores as (
    select * from {{ ref('int_person_base_score') }}
    where {{ in_selected_quarter() }}
),

eval_scores as (
    select * from {{ ref('int_person_eval_score') }}
    where {{ in_selected_quarter() }}
),

adjustments as (
    select * from {{ ref('stg_adjustments') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

adjustment_totals as (
    select
        quarter,
        unit_code,
        person_code,
        count(*) as n_adjustments,
        sum(points) as adjustment_points_raw
    from adjustments
    group by quarter, unit_code, person_code
),

scores as (
    select
        base_scores.quarter,
        base_scores.rules_year,
        base_scores.unit_code,
        base_scores.person_code,
        base_scores.task_score,
        eval_scores.eval_score,
        cast(coalesce(adjustment_totals.n_adjustments, 0) as integer) as n_adjustments,
        cast(coalesce(adjustment_totals.adjustment_points_raw, 0) as double) as adjustment_points_raw,
        {{ clip('coalesce(adjustment_totals.adjustment_points_raw, 0)', 'rules.adjustment_min', 'rules.adjustment_max') }}
            as adjustment_points,
        case
            when eval_scores.eval_score is not null
                then {{ clip(
                    'rules.task_weight * base_scores.task_score + rules.eval_weight * eval_scores.eval_score'
                    ~ ' + ' ~ clip('coalesce(adjustment_totals.adjustment_points_raw, 0)', 'rules.adjustment_min', 'rules.adjustment_max'),
                    '0.0', '100.0') }}
        end as quarter_score,
        rules.band_good_min,
        rules.band_fairly_good_min,
        rules.band_average_min,
        rules.top_quota,
        rules.top_quota_min
    from base_scores
    inner join rules
        on base_scores.rules_year = rules.rules_year
    left join eval_scores
        on
            base_scores.quarter = eval_scores.quarter
            and base_scores.unit_code = eval_scores.unit_code
            and base_scores.person_code = eval_scores.person_code
    left join adjustment_totals
        on
            base_scores.quarter = adjustment_totals.quarter
            and base_scores.unit_code = adjustment_totals.unit_code
            and base_scores.person_code = adjustment_totals.person_code
),

banded as (
    select
        *,
        case
            when quarter_score is null then null
            when {{ comparable('quarter_score') }} >= band_good_min then '好'
            when {{ comparable('quarter_score') }} >= band_fairly_good_min then '较好'
            when {{ comparable('quarter_score') }} >= band_average_min then '一般'
            else '较差'
        end as score_band,
        count(quarter_score) over (partition by quarter, unit_code) as n_scored_in_unit
    from scores
),

ranked as (
    select
        *,
        greatest(top_quota_min, {{ quota_floor('top_quota * n_scored_in_unit') }}) as top_quota_cap,
        case
            when score_band = '好'
                then row_number() over (
                    partition by quarter, unit_code, score_band
                    order by {{ comparable('quarter_score') }} desc, {{ comparable('eval_score') }} desc, person_code asc
                )
        end as top_band_rank
    from banded
),

final as (
    select
        quarter,
        rules_year,
        unit_code,
        person_code,
        task_score,
        eval_score,
        n_adjustments,
        adjustment_points_raw,
        cast(adjustment_points as double) as adjustment_points,
        cast(quarter_score as double) as quarter_score,
        quarter_score is not null as is_scored,
        score_band,
        cast(n_scored_in_unit as integer) as n_scored_in_unit,
        cast(top_quota_cap as integer) as top_quota_cap,
        cast(top_band_rank as integer) as top_band_rank,
        coalesce(score_band = '好' and top_band_rank > top_quota_cap, false) as is_quota_demoted,
        case
            when quarter_score is null then '未评定'
            when score_band = '好' and top_band_rank > top_quota_cap then '较好'
            else score_band
        end as computed_grade
    from ranked
)

select * from final
