"""The submission template issued by the Organization Department (submission-format.md).

One place names every sheet, header and allowed value, so the generator writes exactly what
ingestion reads and a template change is a one-file edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Re-exported: the template's allowed values are the domain vocabularies (pipelines.domain.constants).
from pipelines.domain.constants import (  # noqa: F401
    ANNUAL_GRADES,
    DIMENSIONS,
    NAMED_TIERS,
    QUARTER_GRADES,
    RATER_TIERS,
)


class Kind(StrEnum):
    """How a cell is typed and normalised."""

    TEXT = "text"
    CODE = "code"  # identifiers: trimmed, full-width folded, never numeric
    DATE = "date"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    ENUM = "enum"
    QUARTER = "quarter"
    SHARE = "share"  # 60% or 0.6
    CODE_LIST = "code_list"  # lead/assist codes separated by 、，,; or spaces


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    kind: Kind
    required: bool = True  # must the column exist in the sheet
    nullable: bool = False  # may a cell be blank
    allowed: tuple[str, ...] = ()
    min_value: float | None = None  # numeric kinds: every one has both bounds (tests enforce it)
    max_value: float | None = None


@dataclass(frozen=True)
class Sheet:
    name: str  # English table name
    title: str  # Chinese sheet name, also the CSV file stem
    columns: tuple[Column, ...]
    required: bool = True  # must the sheet exist

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)

    def column(self, field: str) -> Column:
        for c in self.columns:
            if c.field == field:
                return c
        raise KeyError(f"{self.name} has no field {field!r}")


LEVELS = ("市直", "县直", "乡镇")
LEVEL_LETTER = {"市直": "S", "县直": "X", "乡镇": "Z"}
BASE_METHODS = ("uniform", "workload_weighted", "section_coefficient", "category_peer")
POST_CATEGORIES = ("综合管理", "行政执法", "专业技术")
TASK_SOURCES = ("市委重点任务", '"83"工程', "单位年度重点", "临时交办")
TASK_STATUSES = ("已完成", "按进度推进", "滞后", "未启动")

# Spellings a unit may use for a yes/no cell; anything else is an error.
TRUE_WORDS = ("是", "Y", "y", "YES", "Yes", "yes", "1", "√", "TRUE", "True", "true")
FALSE_WORDS = ("否", "N", "n", "NO", "No", "no", "0", "×", "FALSE", "False", "false")

UNIT_INFO = Sheet(
    "unit_info",
    "单位信息",
    (
        Column("unit_code", "单位代码", Kind.CODE),
        Column("unit_name", "单位名称", Kind.TEXT),
        Column("quarter", "考核季度", Kind.QUARTER),
        Column("submitted_by", "填报人", Kind.TEXT),
        Column("submitted_on", "填报日期", Kind.DATE),
        Column(
            "regular_share",
            "平时考核占比",
            Kind.SHARE,
            required=False,
            nullable=True,
            min_value=0.0,
            max_value=1.0,
        ),
    ),
)

ROSTER = Sheet(
    "roster",
    "人员名册",
    (
        Column("person_code", "人员编号", Kind.CODE),
        Column("name", "姓名", Kind.TEXT),
        Column("national_id", "身份证号", Kind.CODE),
        Column("section", "科室", Kind.TEXT),
        Column("rank", "职务职级", Kind.TEXT),
        Column("post_category", "岗位类别", Kind.ENUM, allowed=POST_CATEGORIES),
        Column("is_section_head", "是否科室负责人", Kind.BOOL),
        Column("participates", "是否参加考核", Kind.BOOL),
        Column(
            "proposed_grade", "拟定等次", Kind.ENUM, required=False, nullable=True, allowed=QUARTER_GRADES
        ),
    ),
)

SECTIONS = Sheet(
    "sections",
    "科室",
    (
        Column("section", "科室名称", Kind.TEXT),
        Column(
            "section_coefficient",
            "科室系数",
            Kind.NUMBER,
            required=False,
            nullable=True,
            min_value=0.8,
            max_value=1.2,
        ),
        Column("leader_code", "分管领导", Kind.CODE),
    ),
)

TASKS = Sheet(
    "tasks",
    "重点任务",
    (
        Column("task_code", "任务编号", Kind.CODE),
        Column("task_name", "任务名称", Kind.TEXT),
        Column("task_source", "任务来源", Kind.ENUM, allowed=TASK_SOURCES),
        Column("target", "目标要求", Kind.TEXT),
        Column("deadline", "节点时限", Kind.DATE),
        Column("lead_code", "主办人", Kind.CODE, nullable=True),
        Column("assist_codes", "协办人", Kind.CODE_LIST, nullable=True),
        Column("intensity", "工作强度", Kind.INT, min_value=1, max_value=5),
        Column("difficulty", "工作难度", Kind.INT, min_value=1, max_value=5),
        # > 0 and ≤ 1000 work units (submission-format.md); below 0.001 is as implausible as above 1000
        # and would let one task's weight dwarf the rest of its unit by hundreds of orders of magnitude.
        Column("quantity", "任务数量", Kind.NUMBER, min_value=0.001, max_value=1000.0),
        Column("status", "完成情况", Kind.ENUM, allowed=TASK_STATUSES),
    ),
)

_SCORE = {"min_value": 0.0, "max_value": 100.0}
RATINGS = Sheet(
    "ratings",
    "评议打分",
    (
        Column("ratee_code", "被评议人编号", Kind.CODE),
        Column("rater_tier", "评议主体", Kind.ENUM, allowed=RATER_TIERS),
        Column("rater_code", "评议人编号", Kind.CODE),
        Column("score_intensity", "强度", Kind.NUMBER, **_SCORE),
        Column("score_difficulty", "难度", Kind.NUMBER, **_SCORE),
        Column("score_quantity", "数量", Kind.NUMBER, **_SCORE),
        Column("score_effect", "成效", Kind.NUMBER, **_SCORE),
        Column("score_measures", "措施", Kind.NUMBER, **_SCORE),
    ),
)

ADJUSTMENTS = Sheet(
    "adjustments",
    "加减分",
    (
        Column("person_code", "人员编号", Kind.CODE),
        Column("points", "分值", Kind.NUMBER, min_value=-10.0, max_value=5.0),
        Column("reason", "事由", Kind.TEXT),
    ),
    required=False,
)

YEAR_END = Sheet(
    "year_end",
    "年度测评",
    (
        Column("person_code", "人员编号", Kind.CODE),
        Column("year_end_score", "年度测评得分", Kind.NUMBER, **_SCORE),
    ),
    required=False,  # filled in the fourth quarter only (the year-end 年度测评)
)

SHEETS: tuple[Sheet, ...] = (UNIT_INFO, ROSTER, SECTIONS, TASKS, RATINGS, ADJUSTMENTS, YEAR_END)
SHEETS_BY_NAME = {s.name: s for s in SHEETS}
SHEETS_BY_TITLE = {s.title: s for s in SHEETS}
