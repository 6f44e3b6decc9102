"""What the published city shows of the privacy protections: IDs typed into free text masked everywhere,
the demo key recorded in release.json and shown on the report."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.domain.national_id import MASK, find_ids
from pipelines.publish.audit import no_national_ids
from pipelines.publish.warehouse import layout, read_manifest
from pipelines.report.render import DEMO_BANNER, made_with_demo_key, with_demo_banner
from tests.publish.plant import GLUED_TEXT, PLANTED_IDS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published_city")]
QUARTER = "2025Q4"


def _files(city: Path) -> list[Path]:
    lay = layout(city / "warehouse")
    return [lay.published.resolve(), *sorted(lay.counties.resolve().glob("*.duckdb"))]


def test_ids_typed_into_free_text_reach_no_published_file(published_city: Path) -> None:
    files = _files(published_city)
    masked_rank = GLUED_TEXT.replace(PLANTED_IDS[0], MASK)
    seen_in = []
    for path in files:
        assert no_national_ids(path) == [], path.name
        with duckdb.connect(str(path), read_only=True) as con:
            ranks = [r[0] for r in con.execute("select rank_title from marts.fct_person_quarter").fetchall()]
            has_dim = con.execute(
                "select count(*) from information_schema.tables where table_name = 'dim_person'"
            ).fetchone()[0]
            titles = (
                [r[0] for r in con.execute("select last_rank_title from marts.dim_person").fetchall()]
                if has_dim
                else [masked_rank]  # dim_person has no unit column: not in county files
            )
        assert not [v for v in ranks + titles if v and find_ids(v)]
        if masked_rank in ranks:
            seen_in.append(path.name)
            assert masked_rank in titles
    # The masked title is there (not dropped): in the city file and in its county's file.
    assert files[0].name in seen_in and len(seen_in) == 2


def test_the_unit_got_a_warning_and_its_data_counts(published_city: Path) -> None:
    receipts = "".join(
        p.read_text(encoding="utf-8") for p in (published_city / "receipts" / QUARTER).rglob("*.html")
    )
    assert "文本中的身份证号已隐去" in receipts
    for nid in PLANTED_IDS:
        assert nid not in receipts


def test_release_json_and_the_report_say_the_demo_key_was_used(published_city: Path) -> None:
    lay = layout(published_city / "warehouse")
    assert read_manifest(lay.current.resolve())["demo_key"] is True
    assert made_with_demo_key(lay.published)
    report = published_city / "reports" / QUARTER / f"report-{QUARTER}.html"
    html = report.read_text(encoding="utf-8")
    assert DEMO_BANNER in html


def test_the_banner_goes_first_in_the_body_and_only_for_demo_releases(tmp_path: Path) -> None:
    html = with_demo_banner("<html><head></head><body class='x'><h1>报告</h1></body></html>")
    assert html.index("demo-key-banner") > html.index("<body") and html.index("demo-key-banner") < html.index(
        "<h1>"
    )
    release = tmp_path / "release"
    release.mkdir()
    (release / "release.json").write_text('{"demo_key": false}', encoding="utf-8")
    (release / "assessment.duckdb").touch()
    assert not made_with_demo_key(release / "assessment.duckdb")
