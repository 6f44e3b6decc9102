"""Results in use (一项结果综合性使用): the files the units, the counties and the cadre division receive.

`write_deliverables(quarter)` writes, under `data/deliverables/<quarter>/`, one workbook per unit for
公示 (units/), one HTML file of per-person notices per unit (notices/), one workbook per county
(counties/), the cadre division's restricted workbook (restricted/) and a receipt per review register
(reviews/). See docs/deliverables.md.

Nothing is imported here: the modules of this package import each other through it.
"""
