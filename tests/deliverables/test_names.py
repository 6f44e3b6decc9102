"""Names printed in the units' deliverables (公示) come from the restricted persons table, IDs masked."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def test_a_name_with_an_id_glued_to_it_is_printed_masked(tmp_path: Path) -> None:
    """Names go to the units' 公示 workbooks and notices: a probe's 李博110101，19900307，1145 went out."""
    from pipelines.deliverables.source import names
    from pipelines.domain.national_id import MASK

    folder = tmp_path / "restricted" / "persons"
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "unit_code": ["371602-X-001"] * 3,
            "person_code": ["P001", "P002", "P003"],
            "name": ["李博110101，19900307，1145", "胡安110101\u200d19900307\u200d1081", "张三"],
            "national_id": ["x", "y", "z"],
        }
    ).write_parquet(folder / "2025Q3.parquet")
    shown = dict(names(tmp_path, "2025Q3").select("person_code", "name").iter_rows())
    assert shown == {"P001": f"李博{MASK}", "P002": f"胡安{MASK}", "P003": "张三"}
