-- One row per participant: the base score S_task (rules.md §2) by the unit's base method.
--   uniform              100·C
--   workload_weighted    min(100, 100·C·(floor + slope·min(V, cap)))
--   section_coefficient  min(100, 100·C·k_section·(floor + slope·min(V_s, cap)))   (k missing → 1.0)
--   category_peer        floor_score + span·percent_rank(E) in the peer group: participants with T > 0
--                        of the same post_category, or all of the unit's when that group is smaller
--                        than min_group_size; a group of one gets 100·C
-- and S_task = 0 whenever T = 0. percent_rank is SQL's ((rank − 1)/(n − 1), ties share the lowest rank),
-- ranked on E rounded to 9 decimals so sums that differ only by floating-point noise tie.
with volumes as (
    select * from {{ ref('int_person_task_volume') }}
    where {{ in_selected_quarter() }}
),

rules as (
    select * from {{ ref('int_rules') }}
),

working as (
    select
        quarter,
        unit_code,
        person_code,
        count(*) over (partition by quarter, unit_code, post_category) as category_group_size,
        count(*) over (partition by quarter, unit_code) as unit_group_size,
        percent_rank() over (
            partition by quarter, unit_code, post_category order by round(earned_points, 9)
        ) as category_percent_rank,
        percent_rank() over (
            partition by quarter, unit_code order by round(earned_points, 9)
        ) as unit_percent_rank
    from volumes
    where planned_points > 0 and base_method = 'category_peer'
),

peer_groups as (
    select
        working.quarter,
        working.unit_code,
        working.person_code,
        case
            when working.category_group_size >= rules.peer_min_group_size then 'post_category' else 'unit'
        end as peer_group,
        case
            when working.category_group_size >= rules.peer_min_group_size then working.category_group_size
            else working.unit_group_size
        end as peer_group_size,
        case
            when working.category_group_size >= rules.peer_min_group_size then working.category_percent_rank
            else working.unit_percent_rank
        end as peer_percent_rank
    from working
    inner join rules
        on {{ quarter_year('working.quarter') }} = rules.rules_year
),

scored as (
    select
        volumes.*,
        peer_groups.peer_group,
        peer_groups.peer_group_size,
        peer_groups.peer_percent_rank,
        case
            when volumes.planned_points <= 0 then 0.0
            when volumes.base_method = 'uniform'
                then 100 * volumes.completion_rate
            when volumes.base_method = 'workload_weighted'
                then least(
                    100.0,
                    100 * volumes.completion_rate
                    * (rules.workload_floor + rules.workload_slope * least(volumes.relative_workload, rules.workload_cap))
                )
            when volumes.base_method = 'section_coefficient'
                then least(
                    100.0,
                    100 * volumes.completion_rate * coalesce(volumes.section_coefficient, 1.0)
                    * (
                        rules.section_floor
                        + rules.section_slope * least(volumes.section_relative_workload, rules.section_workload_cap)
                    )
                )
            when volumes.base_method = 'category_peer' and peer_groups.peer_group_size = 1
                then 100 * volumes.completion_rate
            when volumes.base_method = 'category_peer'
                then rules.peer_floor_score + rules.peer_span * peer_groups.peer_percent_rank
        end as task_score
    from volumes
    inner join rules
        on volumes.rules_year = rules.rules_year
    left join peer_groups
        on
            volumes.quarter = peer_groups.quarter
            and volumes.unit_code = peer_groups.unit_code
            and volumes.person_code = peer_groups.person_code
),

final as (
    select
        quarter,
        rules_year,
        unit_code,
        person_code,
        base_method,
        n_tasks,
        planned_points,
        earned_points,
        has_indicator,
        completion_rate,
        unit_median_planned_points,
        section_median_planned_points,
        relative_workload,
        section_relative_workload,
        section_coefficient,
        peer_group,
        cast(peer_group_size as integer) as peer_group_size,
        cast(peer_percent_rank as double) as peer_percent_rank,
        cast(task_score as double) as task_score
    from scored
)

select * from final
