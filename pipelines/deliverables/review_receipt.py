"""The receipt (回执) of a review register: every row and what became of it, as escaped HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.deliverables.notice import environment
from pipelines.deliverables.unit import REVIEW_STATUS_ZH


def render_review_receipt(quarter: str, rows: Sequence[Mapping[str, Any]]) -> str:
    counts = {k: sum(1 for r in rows if r.get("review_status") == k) for k in REVIEW_STATUS_ZH}
    return (
        environment()
        .get_template("review_receipt.html.j2")
        .render(
            quarter=quarter,
            file_name=rows[0]["file_name"],
            sha256=rows[0]["file_sha256"] or "",
            rows=rows,
            counts=counts,
            status_zh=lambda s: REVIEW_STATUS_ZH.get(s or "", s or ""),
        )
    )


def write_review_receipt(path: Path, quarter: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_review_receipt(quarter, rows), encoding="utf-8")
    return path
