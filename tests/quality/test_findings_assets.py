"""The Python quality assets' table builders and the benchmark's label reader on small hand-made data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.defs.quality.assets import ALL_TIERS, quarter_ratings, reliability_frame
from pipelines.quality.bench import read_labels


def _ratings(tmp: Path) -> None:
    rows = []
    for ratee, base in (("A", 90), ("B", 80), ("C", 70)):
        for rater, bump in (("R1", 0), ("R2", 2), ("R3", -1)):
            rows.append(
                {
                    "quarter": "2025Q1",
                    "unit_code": "U",
                    "ratee_code": ratee,
                    "rater_tier": "科室工作人员",
                    "rater_code": rater,
                    **{
                        d: float(base + bump)
                        for d in (
                            "score_intensity",
                            "score_difficulty",
                            "score_quantity",
                            "score_effect",
                            "score_measures",
                        )
                    },
                }
            )
    rows.append({**rows[0], "rater_code": "A"})  # a self-rating: excluded
    folder = tmp / "raw" / "ratings"
    folder.mkdir(parents=True)
    pl.DataFrame(rows).write_parquet(folder / "2025Q1.parquet")


def test_quarter_ratings_and_reliability(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    _ratings(tmp_path)
    ratings = quarter_ratings("2025Q1")
    assert ratings.height == 9  # the self-rating is gone
    # equal scores on every dimension: the composite is that score whatever the weights
    assert ratings.filter(pl.col("ratee_code") == "A", pl.col("rater_code") == "R2")["composite"][
        0
    ] == pytest.approx(92)
    table = reliability_frame(ratings)
    assert set(table["rater_tier"]) == {"科室工作人员", ALL_TIERS}
    overall = table.filter(pl.col("rater_tier") == ALL_TIERS).row(0, named=True)
    assert overall["n_ratees"] == 3 and overall["icc_1k"] > 0.9  # ratees differ far more than raters


def test_missing_quarter_gives_empty_ratings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    assert quarter_ratings("2025Q2").is_empty()


def test_read_labels_keeps_codes_as_strings(tmp_path: Path) -> None:
    for period in ("2025Q1", "2025"):
        folder = tmp_path / "ground_truth" / period
        folder.mkdir(parents=True)
        (folder / "anomalies.csv").write_text(
            "code,type,period,unit_code,rater_tier,rater_code,rater_tier_2,rater_code_2,ratee_code\n"
            f"A1,self_rating,{period},U,科室工作人员,P001,,,P001\n",
            encoding="utf-8",
        )
    labels = read_labels(tmp_path)
    assert labels.height == 2 and labels.schema["period"] == pl.String
    assert sorted(labels["period"].to_list()) == ["2025", "2025Q1"]
