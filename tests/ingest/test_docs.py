"""docs/ingestion.md documents every receipt kind the code can produce."""

from __future__ import annotations

from pipelines.ingest.issues import ISSUE_KINDS
from pipelines.paths import PROJECT_ROOT


def test_every_issue_kind_is_in_the_error_table() -> None:
    doc = (PROJECT_ROOT / "docs" / "ingestion.md").read_text(encoding="utf-8")
    for kind in ISSUE_KINDS.values():
        assert f"| `{kind.code}` | {kind.severity} | {kind.stage} | {kind.title} |" in doc, kind.code
