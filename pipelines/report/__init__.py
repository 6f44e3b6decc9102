"""The quarterly report for leadership: `pipelines.report.render.render_report(quarter, warehouse,
out_dir)` executes notebooks/quarterly_report.ipynb and writes a standalone HTML file.

Kept empty of imports: `fingerprint` and `render` import each other's package, and notebooks import
`pipelines.report.charts` without loading papermill's side of the package."""
