"""IDs typed into free text of a real workbook: accepted with a receipt warning, masked in the raw tables,
and the quarter's blocking ID check passes (the spaced one used to abort the whole quarter)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.domain.national_id import MASK, find_ids
from pipelines.domain.quarters import quarter_range
from pipelines.ingest import cache, free_text
from pipelines.ingest.free_text import CODE_TOKEN, mask_tables
from pipelines.ingest.pseudonym import ENV_VAR, load_key
from tests.conftest import make_city
from tests.ingest.conftest import data_dir
from tests.ingest.helpers import checks, materialize
from tests.publish.plant import GLUED_ID, PLANTED_IDS, SPACED_ID, plant_ids

# The tests share a module-scoped fixture: keep them on one xdist worker, so it is built once.
pytestmark = pytest.mark.xdist_group(__name__)

QUARTER = "2025Q3"


@pytest.fixture(scope="module")
def planted_quarter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    root = make_city(
        tmp_path_factory.mktemp("ids_in_text"),
        seed=3,
        units=6,
        clean=True,
        quarters=tuple(quarter_range(QUARTER)),
    )
    planted = plant_ids(root / "landing" / QUARTER)
    with data_dir(root):
        result = materialize(QUARTER)
    return root, planted, result


def test_the_quarter_completes_and_the_blocking_id_check_passes(planted_quarter: tuple) -> None:
    root, planted, result = planted_quarter
    assert result.success
    found = checks(result)
    assert found["no_clear_national_ids"].passed, found["no_clear_national_ids"].metadata
    status = pl.read_parquet(root / "raw" / "unit_status" / f"{QUARTER}.parquet")
    assert status.filter(pl.col("unit_code") == planted.unit_code).get_column("status").item() in (
        "on_time",
        "late",
    )


def test_the_receipt_warns_at_the_cell_without_quoting_the_id(planted_quarter: tuple) -> None:
    root, planted, _ = planted_quarter
    items = pl.read_parquet(root / "raw" / "receipt_items" / f"{QUARTER}.parquet").filter(
        (pl.col("unit_code") == planted.unit_code) & (pl.col("kind") == "national_id_in_text")
    )
    places = {(r["sheet"], r["excel_row"], r["column_header"]) for r in items.iter_rows(named=True)}
    assert ("人员名册", planted.roster_row, "职务职级") in places
    assert {("重点任务", "任务名称"), ("重点任务", "目标要求")} <= {(s, h) for s, _, h in places}
    assert all(r["severity"] == "warning" for r in items.iter_rows(named=True))
    assert all("任务编号" in m for m in items.filter(pl.col("sheet") == "重点任务").get_column("message"))
    receipts = list((root / "receipts" / QUARTER / planted.unit_code).glob("*.html"))
    html = "".join(p.read_text(encoding="utf-8") for p in receipts)
    assert "文本中的身份证号已隐去" in html and "已接收" in html
    for nid in PLANTED_IDS:
        assert nid not in html and nid[:6] + " " + nid[6:14] not in html
        assert not items.filter(pl.col("message").str.contains(nid[-8:])).height


def test_the_raw_tables_hold_the_text_masked(planted_quarter: tuple) -> None:
    root, _, _ = planted_quarter
    roster = pl.read_parquet(root / "raw" / "roster" / f"{QUARTER}.parquet")
    tasks = pl.read_parquet(root / "raw" / "tasks" / f"{QUARTER}.parquet")
    assert f"一级科员身份证{MASK}备注" in roster.get_column("rank").to_list()
    assert f"{MASK}的任务" in tasks.get_column("task_name").to_list()
    assert f"完成{MASK}" in tasks.get_column("target").to_list()
    for path in (root / "raw").glob(f"*/{QUARTER}.parquet"):
        frame = pl.read_parquet(path)
        for column, dtype in frame.schema.items():
            if dtype == pl.Utf8 and column != "submission_id":
                values = frame.get_column(column).drop_nulls().to_list()
                assert not [v for v in values if find_ids(v)], (path, column)
    # The restricted persons table keeps IDs from the ID column only (the planted ones are not people).
    persons = pl.read_parquet(next((root / "restricted").rglob(f"{QUARTER}.parquet")))
    assert GLUED_ID not in persons.get_column("national_id").to_list()
    assert SPACED_ID not in persons.get_column("national_id").to_list()


def test_an_id_typed_as_a_code_becomes_the_same_keyed_token_everywhere() -> None:
    key = load_key({ENV_VAR: "test-key-0123456789abcdefghijklmnopqrstuv"})
    tables = {
        "roster": pl.DataFrame({"person_code": [GLUED_ID, "P2"], "rank": ["科员", f"备注{SPACED_ID}"]}),
        "ratings": pl.DataFrame({"ratee_code": [GLUED_ID, "P2"], "rater_code": ["P2", GLUED_ID]}),
    }
    assert mask_tables(tables, key) == 4
    token = tables["roster"].get_column("person_code")[0]
    assert token.startswith(CODE_TOKEN) and GLUED_ID not in token
    assert (
        tables["ratings"].get_column("ratee_code")[0]
        == token
        == tables["ratings"].get_column("rater_code")[1]
    )
    assert tables["roster"].get_column("rank").to_list() == ["科员", f"备注{MASK}"]


def test_the_warnings_kept_with_the_cache_batch_are_those_found_in_its_tables(planted_quarter: tuple) -> None:
    # A run finds the warnings once, as it caches a batch; a batch cached before that has them found
    # from its typed tables at each assembly. Both must say the same, in the same order.
    root, _, _ = planted_quarter
    cache_root = cache.cache_root(root)
    metas = list(cache.final_metas(cache_root).values())
    kept, covered = cache.read_free_text(cache_root, metas)
    assert covered == {m.submission_id for m in metas}
    assert len(kept) == 1 and len(next(iter(kept.values()))) >= 3
    assert kept == free_text.find_in_submissions(cache_root, metas)
