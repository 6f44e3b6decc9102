"""The domain's fixed vocabularies and their display orders, in one place.

The warehouse writes these values (dbt_project/models), the submission template and rules files use
them (pipelines.domain.template, pipelines.domain.rules), and summaries, charts and notebooks order
their tables by them. Order matters: best grade first, submission statuses from on time to missing,
rater tiers as in the template's rating sheet.
"""

from __future__ import annotations

from typing import Final

# Submission status of a unit in a quarter (the ingestion ledger, marts.fct_unit_quarter).
SUBMISSION_STATUSES: Final = ("on_time", "late", "rejected", "missing")
STATUS_LABELS: Final = {"on_time": "按时报送", "late": "逾期报送", "rejected": "被退回", "missing": "未报送"}

# Quarterly grades (rules.md §4), best first; a person without a quarter score is 未评定.
QUARTER_GRADES: Final = ("好", "较好", "一般", "较差")
UNGRADED: Final = "未评定"
QUARTER_GRADE_ORDER: Final = (*QUARTER_GRADES, UNGRADED)

# Annual grades (rules.md §5), best first; too few scored quarters gives annual_status 'insufficient'.
ANNUAL_GRADES: Final = ("优秀", "称职", "基本称职", "不称职")
INSUFFICIENT: Final = "insufficient"
ANNUAL_GRADE_ORDER: Final = (*ANNUAL_GRADES, INSUFFICIENT)

# Rater tiers (评价主体) in the template's order. The first three rate with roster person codes, the last
# two under anonymous codes. Reliability tables use 全部 for all tiers pooled.
RATER_TIERS: Final = ("科室工作人员", "科室负责人", "分管领导", "服务对象", "亮晒评")
NAMED_TIERS: Final = RATER_TIERS[:3]
ALL_TIERS: Final = "全部"

# The five rating dimensions (rules.md §3), as raw/ratings columns.
DIMENSIONS: Final = (
    "score_intensity",
    "score_difficulty",
    "score_quantity",
    "score_effect",
    "score_measures",
)
