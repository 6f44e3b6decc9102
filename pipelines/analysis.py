"""What the analysts' notebooks share: the published warehouse opened read-only, parameterised queries,
and plotting defaults that render Chinese labels and work offline.

    from pipelines import analysis as an
    con = an.connect()                      # $ASSESSMENT_WAREHOUSE or <data dir>/warehouse/assessment.duckdb
    q = an.resolve_quarter(con, None)       # None → the latest quarter in the warehouse
    df = an.query(con, "select * from marts.fct_county_compliance where quarter = ?", [q])
    an.setup_plotting()                     # plotly template + offline renderer (plotly.js embedded once)

Only the analyst-facing schemas `marts` and `quality` (fct_/dim_ tables) are read; staging and
intermediate models are not part of the published file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import duckdb
import polars as pl

from pipelines.domain.constants import QUARTER_GRADE_ORDER
from pipelines.paths import warehouse_dir

if TYPE_CHECKING:
    # Only for the annotations: `query(..., kind="pandas")` gets its frame from DuckDB, which imports
    # pandas then. Importing it here cost every user of this module ~0.2 s, the report step's
    # fingerprint included, which reads polars frames only.
    import pandas as pd

WAREHOUSE_ENV = "ASSESSMENT_WAREHOUSE"
PUBLISHED_NAME = "assessment.duckdb"

FONT_FAMILY = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, SimHei, sans-serif"
TEMPLATE_NAME = "assessment"
RENDERER_NAME = "assessment_offline"

GRADES = QUARTER_GRADE_ORDER
GRADE_COLORS = dict(zip(GRADES, ("#1a9850", "#91cf60", "#fee08b", "#d73027", "#bdbdbd"), strict=True))
LEVELS = ("市直", "县直", "乡镇")
STATUS_COLORS = {"按时报送": "#1a9850", "逾期报送": "#fdae61", "被退回": "#d73027", "未报送": "#969696"}
SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}
TOP_QUOTA = 0.40  # rules.md §4 default; the per-unit cap in the marts is the authority

_QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")

Params = Sequence[Any] | dict[str, Any] | None


class WarehouseNotFoundError(FileNotFoundError):
    """The published warehouse file does not exist yet."""


def warehouse_path() -> Path:
    """$ASSESSMENT_WAREHOUSE if set, else <data dir>/warehouse/assessment.duckdb."""
    explicit = os.environ.get(WAREHOUSE_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return warehouse_dir() / PUBLISHED_NAME


def connect(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse (never blocks the pipeline's runs)."""
    file = Path(path).expanduser() if path else warehouse_path()
    if not file.is_file():
        raise WarehouseNotFoundError(
            f"找不到已发布的考核数仓文件：{file}。请先运行 `make demo`（或 "
            "`uv run python -m pipelines.ops run --all`）生成数据，或用环境变量 "
            f"{WAREHOUSE_ENV} 指定文件。\n"
            f"The published warehouse {file} does not exist: run `make demo` first, or point "
            f"{WAREHOUSE_ENV} at a warehouse file."
        )
    return duckdb.connect(str(file), read_only=True)


@overload
def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Params = None, *, kind: Literal["polars"] = "polars"
) -> pl.DataFrame: ...


@overload
def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Params = None, *, kind: Literal["pandas"]
) -> pd.DataFrame: ...


def query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Params = None,
    *,
    kind: Literal["polars", "pandas"] = "polars",
) -> pl.DataFrame | pd.DataFrame:
    """Run `sql` with `params` bound (`?` or `$name` placeholders; never format values into SQL)."""
    relation = con.sql(sql, params=params)
    if relation is None:
        raise ValueError("query() runs statements that return rows")
    return relation.df() if kind == "pandas" else relation.pl()


def quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Quarters present in the warehouse, oldest first."""
    rows = con.execute("select distinct quarter from marts.fct_unit_quarter order by quarter").fetchall()
    return [r[0] for r in rows]


def latest_quarter(con: duckdb.DuckDBPyConnection) -> str:
    """The most recent quarter in the warehouse."""
    found = quarters(con)
    if not found:
        raise ValueError("数仓中没有任何季度的数据 / the warehouse holds no quarter yet")
    return found[-1]


def resolve_quarter(con: duckdb.DuckDBPyConnection, quarter: str | None) -> str:
    """`quarter` checked against the warehouse; None means the latest quarter."""
    if quarter is None:
        return latest_quarter(con)
    key = str(quarter).strip().upper()
    if not _QUARTER_RE.match(key):
        raise ValueError(f"季度格式应为 2025Q3 / a quarter looks like 2025Q3, got {quarter!r}")
    available = quarters(con)
    if key not in available:
        raise ValueError(
            f"数仓中没有 {key} 的数据 / {key} is not in the warehouse; available: {', '.join(available)}"
        )
    return key


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (optional tables such as marts.fct_person_tier_score)."""
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()  # fetch everything: DuckDB refuses new work while a result is unfinished
    return bool(rows and rows[0][0])


def quarter_label(quarter: str) -> str:
    """2025Q3 → 2025年第3季度."""
    return f"{quarter[:4]}年第{quarter[-1]}季度"


def pct(value: float | None, digits: int = 1) -> str:
    """0.953 → '95.3%'; None → '—'."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


EMPTY_CHART = "本期没有可画的数据（没有已受理的报送，或这一项没有记录），此图从略。"


def has_data(fig: Any) -> bool:
    """Whether a plotly figure shows any value: a trace with a finite value on its value axis (x for a
    horizontal bar or a histogram, else y). Categories alone, or only NaN bars, show nothing."""
    for trace in fig.data:
        horizontal = getattr(trace, "orientation", None) == "h"
        values = trace.x if horizontal or getattr(trace, "y", None) is None else trace.y
        if values is not None and any(v is not None and v == v for v in values):  # v == v: not NaN
            return True
    return False


def show(fig: Any, when_empty: str = EMPTY_CHART) -> None:
    """Show `fig`, or say in one sentence why there is nothing to show: an empty chart with axes and a
    title (a quarter whose files were all rejected) tells the reader nothing."""
    if has_data(fig):
        fig.show()
        return
    from IPython.display import Markdown, display

    display(Markdown(when_empty))


def setup_plotting() -> None:
    """Register the project template (Chinese-capable fonts) and an offline notebook renderer.

    The renderer embeds plotly.js once, inline, in the first figure's output and writes every figure
    as HTML without any CDN script (no MathJax either), so a notebook exported with nbconvert opens
    offline. In JupyterLab the plotly mimetype is offered as well and preferred.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.font = {"family": FONT_FAMILY, "size": 13}
    template.layout.title = {"font": {"family": FONT_FAMILY, "size": 16}, "x": 0.01, "xanchor": "left"}
    template.layout.legend = {"font": {"family": FONT_FAMILY}}
    template.layout.hoverlabel = {"font": {"family": FONT_FAMILY}}
    template.layout.margin = {"l": 60, "r": 30, "t": 60, "b": 50}
    pio.templates[TEMPLATE_NAME] = template
    pio.templates.default = TEMPLATE_NAME
    if RENDERER_NAME not in pio.renderers:
        pio.renderers[RENDERER_NAME] = _offline_renderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER_NAME}"


def _offline_renderer() -> Any:
    from plotly.io import to_html
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        """plotly's `notebook` renderer (plotly.js embedded once) without the MathJax CDN script."""

        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
            html = to_html(
                fig_dict,
                config=self.config,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=480,
                validate=False,
            )
            return {"text/html": html}

    return OfflineNotebookRenderer(connected=False, config={"displaylogo": False, "responsive": True})
