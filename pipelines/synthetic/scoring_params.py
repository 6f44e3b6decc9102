"""Map a year's rules file onto the generator's self-scoring parameters."""

from __future__ import annotations

from functools import cache

from pipelines.domain.rules import Rules, load_rules
from pipelines.synthetic.self_scoring import ScoringParams


def scoring_params(rules: Rules) -> ScoringParams:
    tv, bs, ev, qu = rules.task_volume, rules.base_score, rules.evaluation, rules.quarterly
    return ScoringParams(
        intensity_step=tv.intensity_step,
        difficulty_step=tv.difficulty_step,
        lead_share=tv.lead_share,
        completion=dict(tv.completion),
        workload_floor=bs.workload_weighted.floor,
        workload_slope=bs.workload_weighted.slope,
        workload_cap=bs.workload_weighted.workload_cap,
        peer_min_group=bs.category_peer.min_group_size,
        dimension_weights=dict(ev.dimension_weights),
        tier_weights=dict(ev.tier_weights),
        trim_min_raters=ev.trim_min_raters,
        task_weight=qu.task_weight,
        eval_weight=qu.eval_weight,
        adjustment_min=qu.adjustment_min,
        adjustment_max=qu.adjustment_max,
        bands=tuple(sorted(qu.bands.items(), key=lambda kv: -kv[1])),
        top_quota=qu.top_quota,
    )


@cache
def rules_for_year(year: int) -> Rules:
    """The committed rules of a year, read once per process."""
    return load_rules(year)
