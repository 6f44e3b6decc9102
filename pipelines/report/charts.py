"""Queries and charts shared by the analysis notebooks and the quarterly report.

Each section is a pair: a function returning the figures as a polars DataFrame (parameterised SQL over
the analyst schemas `marts` and `quality` only) and a function drawing it with plotly. The notebooks show
both, so an analyst can check every bar against its table.

plotly is imported by the drawing functions only: the report's fingerprint (fingerprint.py) runs the
queries in the pipeline's process, which draws nothing.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

if TYPE_CHECKING:
    import plotly.graph_objects as go

from pipelines import analysis as an
from pipelines.domain.constants import STATUS_LABELS

Con = duckdb.DuckDBPyConnection

FINDING_LABELS = {
    "A1": "自评打分",
    "A2": "直线式打分",
    "A3": "评议偏宽",
    "A4": "评议偏严",
    "A5": "打分无区分度",
    "A6": "串通打分",
    "A7": "互相抬分",
    "A8": "离群评分",
    "U1": "轮流坐庄",
    "U2": "考人考事脱节",
    "U3": "评议分虚高",
    "U4": "拟定等次博弈",
}
COMPLIANCE_METRICS = {
    "on_time_rate": "按时报送率",
    "staff_coverage_rate": "人人有指标率",
    "rating_coverage_rate": "评议覆盖率",
    "quota_compliance_rate": "好等次控制率",
    "grade_agreement_rate": "拟定等次一致率",
    "anomaly_term": "评议规范度",
}

_UNITS = """
    select u.unit_code, u.unit_name, u.unit_level, u.county_code, c.county_name
    from marts.dim_unit u join marts.dim_county c using (county_code)
"""


def county_order(con: Con) -> list[str]:
    """County names in code order (the municipal group 市直, …00, first)."""
    return an.query(con, "select county_name from marts.dim_county order by county_code")[
        "county_name"
    ].to_list()


# ---------------------------------------------------------------- headline figures


def headline(con: Con, quarter: str) -> dict[str, Any]:
    """The report's key figures for `quarter`."""
    units = an.query(
        con,
        """
        select count(*) as n_units,
               count(*) filter (where has_accepted_submission) as n_submitted,
               count(*) filter (where is_on_time) as n_on_time,
               sum(n_participants) as n_participants,
               sum(n_scored) as n_scored,
               sum(n_computed_good) as n_good,
               sum(n_participants_with_indicator) as n_with_indicator,
               sum(n_high_findings) as n_high_findings,
               count(*) filter (where is_quota_compliant = false) as n_units_over_quota
        from marts.fct_unit_quarter where quarter = ?
        """,
        [quarter],
    ).row(0, named=True)
    counties = an.query(
        con,
        """
        select county_name, compliance_index, county_rank from marts.fct_county_compliance
        where quarter = ? and county_rank is not null order by county_rank, county_code
        """,
        [quarter],
    )
    # The same findings as the findings chart: the quarter's and its year's (U1, U4).
    findings = an.query(
        con,
        """
        select count(*) as n, count(*) filter (where severity = 'high') as n_high
        from quality.fct_rating_findings where quarter = ? or (quarter is null and period = ?)
        """,
        [quarter, quarter[:4]],
    ).row(0, named=True)
    n_units, n_part, n_scored = units["n_units"], units["n_participants"] or 0, units["n_scored"] or 0
    return {
        **units,
        "n_findings": int(findings["n"]),
        "n_high_findings": int(findings["n_high"]),
        "submission_rate": units["n_submitted"] / n_units if n_units else None,
        "on_time_rate": units["n_on_time"] / n_units if n_units else None,
        "good_share": (units["n_good"] or 0) / n_scored if n_scored else None,
        "staff_coverage_rate": (units["n_with_indicator"] or 0) / n_part if n_part else None,
        "mean_compliance_index": counties["compliance_index"].mean() if counties.height else None,
        "best_county": _at_rank(counties, counties["county_rank"].min()) if counties.height else None,
        "worst_county": _at_rank(counties, counties["county_rank"].max()) if counties.height else None,
        "county_ranking": _ranking(counties),
    }


def _ranking(counties: pl.DataFrame) -> str | None:
    """The headline's ranking clause: first and last, or one clause when every county shares the rank
    (a probe's quarter with no accepted county unit named all seven "tied first" and "tied last")."""
    if not counties.height:
        return None
    first, last = counties["county_rank"].min(), counties["county_rank"].max()
    if first == last and counties.height > 1:
        return "各县(市区)指数相同，并列第一"
    if first == last:
        return f"{_at_rank(counties, first)}排名第一"
    return f"{_at_rank(counties, first)}排名第一，{_at_rank(counties, last)}排名末位"


def _at_rank(counties: pl.DataFrame, rank: Any) -> str:
    """The county at `rank`, or every county tied there ("无棣县、博兴县、邹平市并列"): with three at
    index 0.0, naming the last by code put one county last that shared the place with two others."""
    names = counties.filter(pl.col("county_rank") == rank)["county_name"].to_list()
    return names[0] if len(names) == 1 else "、".join(names) + "并列"


# ---------------------------------------------------------------- 1. submission status


def submission_by_county(con: Con, quarter: str) -> pl.DataFrame:
    """Units per county and submission status (按时/逾期/被退回/未报送) in `quarter`."""
    df = an.query(
        con,
        f"""
        with units as ({_UNITS})
        select units.county_code, units.county_name, f.submission_status, count(*) as n_units
        from marts.fct_unit_quarter f join units using (unit_code)
        where f.quarter = ?
        group by all order by units.county_code, f.submission_status
        """,
        [quarter],
    )
    return df.with_columns(
        pl.col("submission_status")
        .replace_strict(STATUS_LABELS, default=pl.col("submission_status"))
        .alias("status")
    )


def fig_submission_by_county(df: pl.DataFrame, order: list[str], quarter: str) -> go.Figure:
    import plotly.express as px

    fig = px.bar(
        df,
        y="county_name",
        x="n_units",
        color="status",
        orientation="h",
        color_discrete_map=an.STATUS_COLORS,
        category_orders={"county_name": order, "status": list(an.STATUS_COLORS)},
        labels={"county_name": "县(市区)", "n_units": "单位数", "status": "报送状态"},
        title=f"{an.quarter_label(quarter)} 各县(市区)报送情况",
    )
    fig.update_layout(barmode="stack", height=120 + 36 * len(order), legend_traceorder="normal")
    return fig


# ---------------------------------------------------------------- 2. grades and the 40% quota


def grades_by_group(con: Con, quarter: str, by: str) -> pl.DataFrame:
    """Participants per group (`unit_level` or `county_name`) and computed grade, with shares."""
    if by not in ("unit_level", "county_name"):
        raise ValueError(f"by must be unit_level or county_name, got {by!r}")
    df = an.query(
        con,
        f"""
        with units as ({_UNITS})
        select units.{by} as grp, min(units.county_code) as sort_key, p.computed_grade as grade,
               count(*) as n_persons
        from marts.fct_person_quarter p join units using (unit_code)
        where p.quarter = ? and p.is_participant
        group by all order by sort_key, grp, grade
        """,
        [quarter],
    )
    return df.with_columns((pl.col("n_persons") / pl.col("n_persons").sum().over("grp")).alias("share"))


def proposed_vs_computed_good(con: Con, quarter: str, by: str) -> pl.DataFrame:
    """Share of scored participants graded 好 (computed) and proposed 好 by the units, per group."""
    if by not in ("unit_level", "county_name"):
        raise ValueError(f"by must be unit_level or county_name, got {by!r}")
    return an.query(
        con,
        f"""
        with units as ({_UNITS})
        select units.{by} as grp, min(units.county_code) as sort_key,
               sum(f.n_scored) as n_scored,
               sum(f.n_computed_good) / nullif(sum(f.n_scored), 0) as computed_good_share,
               sum(f.n_proposed_good) / nullif(sum(f.n_proposals), 0) as proposed_good_share,
               count(*) filter (where f.is_quota_compliant = false) as n_units_over_quota,
               count(*) filter (where f.proposes_grades) as n_units_proposing
        from marts.fct_unit_quarter f join units using (unit_code)
        where f.quarter = ?
        group by all order by sort_key, grp
        """,
        [quarter],
    )


def fig_grade_shares(
    df: pl.DataFrame, order: list[str], title: str, quota: float = an.TOP_QUOTA
) -> go.Figure:
    import plotly.express as px

    fig = px.bar(
        df,
        x="grp",
        y="share",
        color="grade",
        color_discrete_map=an.GRADE_COLORS,
        category_orders={"grp": order, "grade": list(an.GRADES)},
        labels={"grp": "", "share": "占参加考核人数比例", "grade": "等次"},
        custom_data=["n_persons"],
        title=title,
    )
    fig.update_traces(hovertemplate="%{x} %{fullData.name}：%{y:.1%}（%{customdata[0]}人）<extra></extra>")
    fig.add_hline(
        y=quota,
        line_dash="dash",
        line_color="#333",
        annotation_text=f"“好”等次上限 {quota:.0%}",
        annotation_position="top left",
    )
    fig.update_layout(barmode="stack", yaxis_tickformat=".0%", height=460)
    return fig


def fig_good_vs_quota(
    df: pl.DataFrame, order: list[str], title: str, quota: float = an.TOP_QUOTA
) -> go.Figure:
    import plotly.express as px

    long = df.unpivot(
        index=["grp"],
        on=["computed_good_share", "proposed_good_share"],
        variable_name="kind",
        value_name="share",
    ).with_columns(
        pl.col("kind").replace_strict(
            {"computed_good_share": "核定“好”", "proposed_good_share": "单位拟定“好”"}
        )
    )
    fig = px.bar(
        long,
        x="grp",
        y="share",
        color="kind",
        barmode="group",
        category_orders={"grp": order},
        color_discrete_sequence=["#1a9850", "#fdae61"],
        labels={"grp": "", "share": "“好”等次占比", "kind": ""},
        title=title,
    )
    fig.add_hline(y=quota, line_dash="dash", line_color="#d73027", annotation_text=f"上限 {quota:.0%}")
    fig.update_layout(yaxis_tickformat=".0%", height=420)
    return fig


# ---------------------------------------------------------------- 3. county compliance


def compliance(con: Con) -> pl.DataFrame:
    """Every quarter's compliance metrics, index and rank per county (and 市直)."""
    return an.query(
        con,
        """
        select quarter, county_code, county_name, is_municipal, compliance_index, county_rank,
               submission_rate, on_time_rate, task_assignment_rate, staff_coverage_rate,
               rating_coverage_rate, quota_compliance_rate, grade_agreement_rate, anomaly_rate, anomaly_term
        from marts.fct_county_compliance order by quarter, county_code
        """,
    )


def fig_compliance_ranking(df: pl.DataFrame, quarter: str) -> go.Figure:
    import plotly.graph_objects as go

    one = df.filter(pl.col("quarter") == quarter).sort("compliance_index", descending=False, nulls_last=False)
    labels = [
        f"{name}（第{rank}名）" if rank is not None else f"{name}（不排名）"
        for name, rank in zip(one["county_name"], one["county_rank"], strict=True)
    ]
    colors = ["#9e9e9e" if m else "#2c7fb8" for m in one["is_municipal"]]
    fig = go.Figure(
        go.Bar(
            x=one["compliance_index"].to_list(),
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{v:.1f}" if v is not None else "—" for v in one["compliance_index"]],
            textposition="outside",
            hovertemplate="%{y}：%{x:.1f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{an.quarter_label(quarter)} 县(市区)考核工作规范指数排名",
        xaxis={"title": "规范指数（0–100）", "range": [0, 105]},
        yaxis={"title": ""},
        height=140 + 36 * one.height,
    )
    return fig


def fig_compliance_trend(df: pl.DataFrame, order: list[str]) -> go.Figure:
    import plotly.express as px

    fig = px.line(
        df,
        x="quarter",
        y="compliance_index",
        color="county_name",
        markers=True,
        category_orders={"county_name": order},
        labels={"quarter": "季度", "compliance_index": "规范指数", "county_name": "县(市区)"},
        title="规范指数季度走势",
    )
    fig.update_xaxes(type="category")
    fig.update_layout(height=440)
    return fig


def fig_compliance_heatmap(df: pl.DataFrame, quarter: str) -> go.Figure:
    import plotly.graph_objects as go

    one = df.filter(pl.col("quarter") == quarter).sort("county_code")
    metrics = list(COMPLIANCE_METRICS)
    z = [[None if v is None else 100 * v for v in one[m].to_list()] for m in metrics]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=one["county_name"].to_list(),
            y=list(COMPLIANCE_METRICS.values()),
            colorscale="RdYlGn",
            zmin=50,
            zmax=100,
            text=[["—" if v is None else f"{v:.0f}" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="%{x} · %{y}：%{z:.1f}%<extra></extra>",
            colorbar={"title": "%"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=f"{an.quarter_label(quarter)} 规范指数各分项（%）", height=360)
    return fig


# ---------------------------------------------------------------- 4. tasks and coverage


def coverage_by_county(con: Con, quarter: str) -> pl.DataFrame:
    """Task assignment and "everyone has an indicator" coverage per county in `quarter`."""
    return an.query(
        con,
        """
        select county_code, county_name, n_tasks, n_tasks_assigned, n_participants,
               n_participants_with_indicator, n_participants - n_participants_with_indicator as n_without,
               task_assignment_rate, staff_coverage_rate, rating_coverage_rate
        from marts.fct_county_compliance where quarter = ? order by county_code
        """,
        [quarter],
    )


def fig_coverage(df: pl.DataFrame, quarter: str) -> go.Figure:
    import plotly.express as px

    long = df.unpivot(
        index=["county_name"],
        on=["task_assignment_rate", "staff_coverage_rate", "rating_coverage_rate"],
        variable_name="metric",
        value_name="rate",
    ).with_columns(
        pl.col("metric").replace_strict(
            {
                "task_assignment_rate": "任务分配率",
                "staff_coverage_rate": "人人有指标率",
                "rating_coverage_rate": "评议主体覆盖率",
            }
        )
    )
    fig = px.bar(
        long,
        x="county_name",
        y="rate",
        color="metric",
        barmode="group",
        labels={"county_name": "", "rate": "比例", "metric": ""},
        color_discrete_sequence=["#2c7fb8", "#41b6c4", "#a1dab4"],
        title=f"{an.quarter_label(quarter)} 任务分配与“人人头上有指标”覆盖",
    )
    low = max(0.0, min((v for v in long["rate"].to_list() if v is not None), default=0.0) - 0.05)
    fig.update_layout(yaxis={"tickformat": ".0%", "range": [low, 1.01]}, height=420)
    return fig


# ---------------------------------------------------------------- 5. rating findings


def findings_by_type(con: Con, quarter: str) -> pl.DataFrame:
    """Findings of the quarter (and of its year, U1/U4) per type and severity."""
    df = an.query(
        con,
        """
        select code, type, severity, count(*) as n_findings
        from quality.fct_rating_findings
        where quarter = ? or (quarter is null and period = ?)
        group by all order by code, type, severity
        """,
        [quarter, quarter[:4]],
    )
    return df.with_columns(
        (pl.col("code") + " " + pl.col("code").replace_strict(FINDING_LABELS, default=pl.col("type"))).alias(
            "label"
        ),
        pl.col("severity")
        .replace_strict(an.SEVERITY_LABELS, default=pl.col("severity"))
        .alias("severity_zh"),
    )


def fig_findings_by_type(df: pl.DataFrame, quarter: str) -> go.Figure:
    import plotly.express as px

    labels = df.sort("code")["label"].unique(maintain_order=True).to_list()
    fig = px.bar(
        df,
        x="n_findings",
        y="label",
        color="severity_zh",
        orientation="h",
        color_discrete_map={"高": "#d73027", "中": "#fdae61", "低": "#abd9e9"},
        category_orders={"severity_zh": ["高", "中", "低"], "label": labels},
        labels={"n_findings": "发现数", "label": "", "severity_zh": "严重程度"},
        title=f"{an.quarter_label(quarter)} 评议质量发现（按类型）",
    )
    fig.update_layout(height=140 + 34 * max(len(labels), 3))
    return fig


def units_for_review(con: Con, quarter: str, limit: int = 15) -> pl.DataFrame:
    """Units with findings in `quarter` (or its year), high-severity first: the review list."""
    return an.query(
        con,
        f"""
        with units as ({_UNITS}),
        f as (
            select * from quality.fct_rating_findings
            where quarter = ? or (quarter is null and period = ?)
        )
        select units.county_name, units.unit_name, units.unit_level, f.unit_code,
               count(*) filter (where f.severity = 'high') as n_high,
               count(*) filter (where f.severity = 'medium') as n_medium,
               count(*) filter (where f.severity = 'low') as n_low,
               string_agg(distinct f.code, '、' order by f.code) as codes,
               arg_max(f.explanation_zh, case f.severity when 'high' then 3 when 'medium' then 2 else 1 end)
                   as example
        from f join units using (unit_code)
        group by all
        order by n_high desc, n_medium desc, n_low desc, f.unit_code
        limit ?
        """,
        [quarter, quarter[:4], limit],
    )


def review_table(df: pl.DataFrame) -> Any:
    """The review list as a styled table (pandas Styler) with Chinese headers."""
    out = df.select(
        pl.col("county_name").alias("县(市区)"),
        pl.col("unit_name").alias("单位"),
        pl.col("unit_level").alias("层级"),
        pl.col("n_high").alias("高"),
        pl.col("n_medium").alias("中"),
        pl.col("n_low").alias("低"),
        pl.col("codes").alias("发现类型"),
        pl.col("example").alias("典型说明"),
    )
    return styled(out)


def styled(df: pl.DataFrame, formats: dict[str, str] | None = None) -> Any:
    """A compact pandas Styler without the index, for notebooks and the exported report."""
    styler = df.to_pandas().style.hide(axis="index")
    # Text units typed (sections, task names, explanations) is escaped: Styler does not escape by default.
    styler = styler.format(formats or None, na_rep="—", escape="html")
    return styler.set_table_styles(
        [
            {"selector": "th", "props": [("text-align", "left"), ("background", "#f0f0f0")]},
            {"selector": "td", "props": [("text-align", "left"), ("padding", "2px 8px")]},
            {"selector": "th, td", "props": [("white-space", "nowrap")]},
            {"selector": "td:last-child", "props": [("white-space", "normal")]},
        ]
    )


def headline_cards(items: list[tuple[str, str, str]]) -> str:
    """Key figures as a row of cards (label, value, note), plain HTML that exports as it is."""
    cards = "".join(
        '<div style="flex:1 1 140px;border:1px solid #ddd;border-top:4px solid #b71c1c;border-radius:4px;'
        'padding:10px 14px;background:#fff">'
        f'<div style="color:#555;font-size:13px">{html.escape(label)}</div>'
        f'<div style="font-size:26px;font-weight:600;margin:4px 0">{html.escape(value)}</div>'
        f'<div style="color:#777;font-size:12px">{html.escape(note)}</div></div>'
        for label, value, note in items
    )
    return f'<div style="display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px">{cards}</div>'
