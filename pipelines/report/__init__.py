"""The quarterly report for leadership: `render_report(quarter, warehouse, out_dir)` executes
notebooks/quarterly_report.ipynb and writes a standalone HTML file (see render.py)."""

from pipelines.report.render import ReportError, render_report, report_path

__all__ = ["ReportError", "render_report", "report_path"]
