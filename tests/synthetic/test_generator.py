"""The generator end to end: real workbooks on disk, read back with openpyxl and the csv module."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipelines.domain import national_id
from pipelines.domain.quarters import Quarter, quarter_range
from pipelines.domain.registry import load_registry
from pipelines.domain.template import DIMENSIONS, SHEETS, SHEETS_BY_TITLE
from pipelines.synthetic.__main__ import main
from pipelines.synthetic.city import LandingNotSyntheticError, pick_units
from pipelines.synthetic.noise import NoiseRates
from pipelines.synthetic.population import City
from pipelines.synthetic.rates import AnomalyRates, MessRates
from tests.conftest import make_city
from tests.support.readback import read_submission, read_xlsx

# The tests share a module-scoped fixture and the session's small_city: keep them on one xdist worker
# with the other module that uses small_city, so each is built once.
pytestmark = pytest.mark.xdist_group("small_city")

WEIGHTS = np.array([0.20, 0.20, 0.20, 0.25, 0.15])


def truth(data_dir: Path, quarter: str, name: str) -> list[dict[str, str]]:
    with (data_dir / "ground_truth" / quarter / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def accepted_files(data_dir: Path, quarter: str) -> dict[str, tuple[Path, str | None]]:
    """unit_code -> (unit folder, xlsx file name or None for CSV) of each unit's valid delivery."""
    out: dict[str, tuple[Path, str | None]] = {}
    for row in truth(data_dir, quarter, "submissions.csv"):
        if row["delivery"] != "0" and not row["breakage"]:
            folder = data_dir / "landing" / quarter / row["unit_code"]
            out[row["unit_code"]] = (folder, row["file_name"] or None)
    return out


def within(observed: int, n: int, rate: float, sigmas: float = 4.0) -> bool:
    """Binomial tolerance: |observed - n·rate| within `sigmas` standard deviations (plus one)."""
    sd = math.sqrt(n * rate * (1 - rate))
    return abs(observed - n * rate) <= sigmas * sd + 1


# -- the template ----------------------------------------------------------------------------------


def test_workbooks_follow_the_template(small_city: Path) -> None:
    for quarter in ("2025Q1", "2025Q4"):
        files = accepted_files(small_city, quarter)
        assert files
        for unit, (folder, name) in files.items():
            if name is None:
                titles = {p.stem for p in folder.glob("*.csv")}
                headers = {}
            else:
                sheets = read_xlsx(folder / name, max_row=1)  # the headers
                titles = set(sheets)
                headers = {t: [h for h in rows[0] if h is not None] for t, rows in sheets.items()}
            required = {s.title for s in SHEETS if s.required}
            assert required <= titles, (unit, titles)
            assert ("年度测评" in titles) == (quarter == "2025Q4"), unit
            assert titles <= {s.title for s in SHEETS}
            for title, hs in headers.items():
                sheet = SHEETS_BY_TITLE[title]
                must = {c.header for c in sheet.columns if c.required}
                assert must <= set(hs), (unit, title, must - set(hs))


def test_roster_ids_are_valid_and_match_ground_truth(small_city: Path) -> None:
    ids_by_pid: dict[str, set[str]] = defaultdict(set)
    for quarter in ("2025Q1", "2025Q2", "2025Q3", "2025Q4"):
        persons = {(r["unit_code"], r["person_code"]): r for r in truth(small_city, quarter, "persons.csv")}
        for r in persons.values():
            ids_by_pid[r["pid"]].add(r["national_id"])
        for unit, (folder, name) in accepted_files(small_city, quarter).items():
            roster = read_submission(folder, name, sheets={"roster"})["roster"]
            assert roster
            for row in roster:
                assert national_id.is_valid(row["national_id"]), (unit, row)
                assert persons[(unit, row["person_code"])]["national_id"] == row["national_id"]
    # A person keeps one national ID for life.
    assert all(len(ids) == 1 for ids in ids_by_pid.values())


def test_ratings_cover_every_tier_with_about_a_dozen_raters(small_city: Path) -> None:
    tiers: Counter[str] = Counter()
    per_ratee: list[int] = []
    scores: list[float] = []
    for folder, name in accepted_files(small_city, "2025Q2").values():
        ratings = read_submission(folder, name, sheets={"ratings"})["ratings"]
        tiers.update(r["rater_tier"] for r in ratings)
        per_ratee += Counter(r["ratee_code"] for r in ratings).values()
        scores += [float(r[d]) for r in ratings for d in DIMENSIONS]
    assert set(tiers) == {"科室工作人员", "科室负责人", "分管领导", "服务对象", "亮晒评"}
    assert 9 <= float(np.median(per_ratee)) <= 15
    arr = np.array(scores)
    assert 0.75 <= float(np.mean((arr >= 80) & (arr <= 95))) <= 0.97  # the lenient skew
    assert float(arr.min()) >= 0 and float(arr.max()) <= 100


def test_honest_ratings_track_performance(clean_quarter: Path) -> None:
    """In a clean city, a person's mean rating agrees with their latent performance."""
    theta = {
        (r["unit_code"], r["person_code"]): float(r["theta"])
        for r in truth(clean_quarter, "2025Q3", "persons.csv")
    }
    xs, ys = [], []
    for unit, (folder, name) in accepted_files(clean_quarter, "2025Q3").items():
        by_ratee: dict[str, list[float]] = defaultdict(list)
        for r in read_submission(folder, name, sheets={"ratings"})["ratings"]:
            by_ratee[r["ratee_code"]].append(float(np.dot(WEIGHTS, [r[d] for d in DIMENSIONS])))
        for code, values in by_ratee.items():
            xs.append(theta[(unit, code)])
            ys.append(float(np.mean(values)))
    assert float(np.corrcoef(xs, ys)[0, 1]) > 0.5


def test_tasks_carry_work_for_most_people(small_city: Path) -> None:
    idle, participants = 0, 0
    for folder, name in accepted_files(small_city, "2025Q3").values():
        sub = read_submission(folder, name, sheets={"roster", "tasks"})
        people = {r["person_code"] for r in sub["roster"] if r["participates"]}
        carrying = set()
        for t in sub["tasks"]:
            assert 1 <= t["intensity"] <= 5 and 1 <= t["difficulty"] <= 5 and t["quantity"] > 0
            carrying |= {c for c in [t["lead_code"], *t["assist_codes"]] if c}
        participants += len(people)
        idle += len(people - carrying)
    assert 0 < idle / participants < 0.10


# -- population -------------------------------------------------------------------------------------


def test_city_size_turnover_and_transfers() -> None:
    city = City(load_registry(), seed=3)
    q1, q2 = Quarter(2025, 1), Quarter(2025, 2)
    before, after = city.snapshot(q1), city.snapshot(q2)
    participants = sum(not (m.is_leader or m.on_leave or m.new_hire) for ms in before.values() for m in ms)
    assert 15_000 <= participants <= 20_000
    unit_of_before = {m.pid: u for u, ms in before.items() for m in ms}
    unit_of_after = {m.pid: u for u, ms in after.items() for m in ms}
    moved = [p for p in unit_of_after if p in unit_of_before and unit_of_after[p] != unit_of_before[p]]
    left = set(unit_of_before) - set(unit_of_after)
    hired = set(unit_of_after) - set(unit_of_before)
    assert len(moved) > 50 and len(left) > 50 and len(hired) > 50
    nonparticipants = [
        m for ms in before.values() for m in ms if not m.is_leader and (m.on_leave or m.new_hire)
    ]
    assert 0 < len(nonparticipants) < 0.05 * participants
    # A transferred person keeps their identity (and so their national ID).
    assert all(city.people[p].national_id for p in moved)


def _state(snapshot: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    return {code: [dict(vars(m)) for m in members] for code, members in snapshot.items()}


def test_a_quarters_staff_stays_as_it_was_while_later_quarters_are_simulated() -> None:
    """Snapshots share member objects (population.py): simulating on must never change a past quarter,
    and asking for the quarters out of order must give what asking in order gives."""
    city = City(load_registry(), seed=3)
    q1, q4 = Quarter(2023, 1), Quarter(2025, 4)
    early = _state(city.snapshot(q1))
    later = _state(city.snapshot(q4))
    assert _state(city.snapshot(q1)) == early
    # members changed over the years: on leave, off probation, new section heads, new people
    assert early != later
    fresh = City(load_registry(), seed=3)
    assert _state(fresh.snapshot(q4)) == later and _state(fresh.snapshot(q1)) == early


# -- determinism ------------------------------------------------------------------------------------


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((root / "landing").rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    """Identical bytes and mtimes in-process and in a fresh interpreter with another hash seed."""
    opts: dict[str, Any] = {"seed": 5, "units": 6, "quarters": (Quarter(2025, 4),), "workers": 1}
    a = _files(make_city(tmp_path / "a", **opts))
    cli = [
        sys.executable,
        "-m",
        "pipelines.synthetic",
        "--quarters",
        "2025Q4",
        "--units",
        "6",
        "--workers",
        "2",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [*cli, "--seed", "5", "--data-dir", str(tmp_path / "b")], env=env, check=True, capture_output=True
    )
    c = _files(make_city(tmp_path / "c", **{**opts, "seed": 6}))
    b = _files(tmp_path / "b")
    assert a and a == b
    assert a != c


def test_a_unit_is_the_same_in_a_subset_run(tmp_path: Path, small_city: Path) -> None:
    code = sorted(accepted_files(small_city, "2025Q3"))[0]
    alone = make_city(tmp_path / "alone", seed=11, units=(code,), quarters=(Quarter(2025, 3),))
    mine = {p.name: p.read_bytes() for p in (alone / "landing" / "2025Q3" / code).iterdir()}
    theirs = {p.name: p.read_bytes() for p in (small_city / "landing" / "2025Q3" / code).iterdir()}
    assert mine == theirs


def test_units_sample_spreads_over_methods_and_levels() -> None:
    picked = pick_units(load_registry(), 10)
    assert picked.height == 10
    assert set(picked["base_method"]) == {
        "uniform",
        "workload_weighted",
        "section_coefficient",
        "category_peer",
    }
    assert set(picked["level"]) == {"市直", "县直", "乡镇"}


# -- mess -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def messy_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every unit of the city, one quarter, few people (mess rates are per unit, not per person)."""
    return make_city(tmp_path_factory.mktemp("messy"), seed=21, scale=0.15, quarters=(Quarter(2025, 3),))


def test_mess_rates_match_settings(messy_city: Path) -> None:
    rates = MessRates()
    deadline = Quarter(2025, 3).deadline()
    landing = messy_city / "landing" / "2025Q3"
    units = load_registry()["unit_code"].to_list()
    present = {p.name for p in landing.iterdir() if p.is_dir() and any(p.iterdir())}
    missing = [u for u in units if u not in present]
    assert within(len(missing), 500, rates.missing)
    first_arrivals, csv_units, multi_file = {}, [], []
    for unit in sorted(present):
        files = sorted((landing / unit).iterdir(), key=lambda p: p.stat().st_mtime)
        first_arrivals[unit] = datetime.fromtimestamp(files[0].stat().st_mtime, tz=deadline.tzinfo)
        if any(p.suffix == ".csv" for p in files):
            csv_units.append(unit)
        elif len(files) > 1:
            multi_file.append(unit)
    late = [u for u, t in first_arrivals.items() if t > deadline]
    assert within(len(late), len(present), rates.late)
    assert within(
        len(csv_units), len(present), rates.csv * (1 - rates.rejected_only - rates.broken_then_corrected)
    )
    assert within(len(multi_file), len(present), rates.broken_then_corrected)
    # The filesystem agrees with the ground truth.
    rows = truth(messy_city, "2025Q3", "submissions.csv")
    assert {r["unit_code"] for r in rows if r["expected_status"] == "missing"} == set(missing)
    assert sum(r["breakage"] != "" for r in rows) >= len(multi_file)


def test_csv_submissions_are_really_gb18030(messy_city: Path) -> None:
    rows = [r for r in truth(messy_city, "2025Q3", "submissions.csv") if r["format"] == "csv"]
    assert any(r["encoding"] == "gb18030" for r in rows)
    for r in rows:
        for path in (messy_city / "landing" / "2025Q3" / r["unit_code"]).glob("*.csv"):
            data = path.read_bytes()
            if r["encoding"] == "gb18030":
                data.decode("gb18030")
                with pytest.raises(UnicodeDecodeError):
                    data.decode("utf-8")
            else:
                data.decode("utf-8")


def test_noise_rates_match_settings(messy_city: Path) -> None:
    import json

    counts = json.loads((messy_city / "ground_truth" / "2025Q3" / "noise.json").read_text(encoding="utf-8"))
    settings = NoiseRates()
    for kind in ("fullwidth", "stray_space", "number_as_text", "date_variant", "bool_variant"):
        c = counts[kind]
        assert c["eligible"] > 500, kind
        assert within(c["applied"], c["eligible"], getattr(settings, kind)), (kind, c)


def test_broken_files_carry_their_defect(messy_city: Path) -> None:
    broken = [r for r in truth(messy_city, "2025Q3", "submissions.csv") if r["breakage"]]
    assert broken
    for r in broken:
        path = messy_city / "landing" / "2025Q3" / r["unit_code"] / r["file_name"]
        assert path.exists()
        if r["breakage"] in ("truncated_file", "not_a_workbook"):
            with pytest.raises(Exception):  # noqa: B017 - any reader error proves it is unreadable
                read_xlsx(path)
        elif r["breakage"] == "invalid_national_id":
            roster = read_submission(path.parent, path.name, sheets={"roster"})["roster"]
            assert not all(national_id.is_valid(p["national_id"]) for p in roster)


# -- anomalies --------------------------------------------------------------------------------------


LOUD = AnomalyRates(
    self_rating=0.02,
    straight_lining=0.03,
    lenient_rater=0.03,
    severe_rater=0.03,
    no_discrimination=0.03,
    collusion=0.3,
    reciprocal_inflation=0.3,
    outlier_rating=0.004,
    grade_rotation=0.0,
    rating_work_decoupling=0.0,
    score_inflation=0.0,
    proposed_grade_gaming=0.0,
)


@pytest.fixture(scope="module")
def loud_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(
        tmp_path_factory.mktemp("loud"),
        seed=5,
        units=60,
        quarters=(Quarter(2025, 2),),
        anomalies=LOUD,
        mess=MessRates(missing=0, rejected_only=0, broken_then_corrected=0),
    )


def _ratings(data_dir: Path, quarter: str) -> dict[str, list[dict[str, Any]]]:
    return {
        u: read_submission(f, n, sheets={"ratings"})["ratings"]
        for u, (f, n) in accepted_files(data_dir, quarter).items()
    }


def test_rater_anomaly_rates_match_settings(loud_city: Path) -> None:
    ratings = _ratings(loud_city, "2025Q2")
    labels = Counter(r["type"] for r in truth(loud_city, "2025Q2", "anomalies.csv"))
    eligible3 = eligible5 = 0
    participants = 0
    for rows in ratings.values():
        ratees: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in rows:
            if r["rater_code"] != r["ratee_code"]:
                ratees[(r["rater_tier"], r["rater_code"])].add(r["ratee_code"])
        eligible3 += sum(len(s) >= 3 for s in ratees.values())
        eligible5 += sum(len(s) >= 5 for s in ratees.values())
        participants += len({r["ratee_code"] for r in rows})
    # Each rater draws one uniform number; the first four rater types take consecutive slices of it.
    # Severe raters may target as few as 3 colleagues (quality.md, "Small numbers").
    assert within(labels["straight_lining"], eligible3, LOUD.straight_lining)
    assert within(labels["severe_rater"], eligible3, LOUD.severe_rater)
    for kind in ("lenient_rater", "no_discrimination"):
        assert within(labels[kind], eligible5, getattr(LOUD, kind)), kind
    assert within(labels["self_rating"], participants, LOUD.self_rating)
    assert 0 < labels["collusion"] <= 60 and 0 < labels["reciprocal_inflation"] <= 60


def vec(row: dict[str, Any]) -> tuple[float, ...]:
    return tuple(row[d] for d in DIMENSIONS)


def comp(row: dict[str, Any]) -> float:
    return float(np.dot(WEIGHTS, vec(row)))


def test_labels_point_at_real_behaviour(loud_city: Path) -> None:
    ratings = _ratings(loud_city, "2025Q2")
    labels = truth(loud_city, "2025Q2", "anomalies.csv")
    assert {lb["code"] for lb in labels} >= {"A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"}
    # Consensus as an honest panel sees it: other injected raters of the unit are left out, so one
    # label's check does not depend on how many others the loud rates put into the same unit.
    injected = {(lb["unit_code"], lb["rater_tier"], lb["rater_code"]) for lb in labels if lb["code"] != "A8"}
    injected |= {
        (lb["unit_code"], lb["rater_tier_2"], lb["rater_code_2"]) for lb in labels if lb["rater_code_2"]
    }
    for lb in labels:
        unit_rows = ratings[lb["unit_code"]]
        rows = [
            r
            for r in unit_rows
            if (lb["unit_code"], r["rater_tier"], r["rater_code"]) not in injected
            or r["rater_code"] == lb["rater_code"]
            or r["rater_code"] == lb["rater_code_2"]
        ]
        ratees = {r["ratee_code"] for r in rows}
        mine = [
            r for r in rows if r["rater_code"] == lb["rater_code"] and r["rater_tier"] == lb["rater_tier"]
        ]
        assert mine, lb

        def consensus(ratee: str, exclude: str, rows: list[dict[str, Any]] = rows) -> float:
            others = [
                comp(r) for r in rows if r["ratee_code"] == ratee and r["rater_code"] not in (exclude, ratee)
            ]
            return float(np.mean(others))

        code = lb["code"]
        if code == "A1":
            assert any(r["ratee_code"] == r["rater_code"] == lb["ratee_code"] for r in rows)
        elif code == "A2":
            assert len({r["ratee_code"] for r in mine}) >= 3
            assert all(len(set(vec(r))) == 1 for r in mine)
        elif code == "A3":
            # A lenient rater takes 65–95 % of the room between its own honest score and 100 on every
            # row (per-row wobble), so it sits above the ratees' consensus by a large share of the room
            # left there; its own honest temperament (sd 2) keeps only what the share leaves of it.
            cons = np.array([consensus(r["ratee_code"], lb["rater_code"]) for r in mine])
            rise = np.array([comp(r) for r in mine]) - cons
            room = 100 - cons
            assert np.median(room) >= 8, (lb, room)  # raters with no room are not made lenient
            assert np.mean(rise) >= 0.4 * np.mean(room), (lb, rise, room)
            assert np.mean(rise > 0) >= 0.8, (lb, rise)
            # one behaviour per label: its rows keep their profile across dimensions (not straight-lined)
            assert sum(len(set(vec(r))) == 1 and max(vec(r)) < 100 for r in mine) <= 1, (lb, mine)
        elif code == "A4":
            residual = np.mean([comp(r) - consensus(r["ratee_code"], lb["rater_code"]) for r in mine])
            # A severe rater's temperament is −9…−16 points instead of its own honest one (sd 2), so it
            # sits well under its colleagues on every ratee (wobble 1.5, row noise 2).
            assert residual < -6, (lb, residual)
        elif code == "A5":
            assert np.std([comp(r) for r in mine]) < 1.0
        elif code == "A6":
            other = {
                r["ratee_code"]: vec(r)
                for r in rows
                if r["rater_code"] == lb["rater_code_2"] and r["rater_tier"] == lb["rater_tier_2"]
            }
            shared = [r for r in mine if r["ratee_code"] in other]
            assert len(shared) >= 5
            # Copied outright or near-identically (a point changed here and there).
            near = [
                max(abs(x - y) for x, y in zip(vec(r), other[r["ratee_code"]], strict=True)) for r in shared
            ]
            assert sum(d <= 1 for d in near) >= 0.8 * len(shared)
        elif code == "A7":
            a, b = lb["rater_code"], lb["rater_code_2"]
            ab = next(r for r in rows if r["rater_code"] == a and r["ratee_code"] == b)
            ba = next(r for r in rows if r["rater_code"] == b and r["ratee_code"] == a)
            # Each lifts the other by 55–85% of the room between the consensus and 100.
            for row, ratee, rater in ((ab, b, a), (ba, a, b)):
                cons = consensus(ratee, rater)
                assert comp(row) - cons >= 0.4 * (100 - cons), (lb, comp(row), cons)
        elif code == "A8":
            row = next(r for r in mine if r["ratee_code"] == lb["ratee_code"])
            assert abs(comp(row) - consensus(lb["ratee_code"], lb["rater_code"])) >= 25
        assert lb["ratee_code"] in ("", *ratees)


def test_unit_level_labels(small_city: Path) -> None:
    """U2/U3 per quarter and U1/U4 for the full year point at units that exist and are big enough."""
    codes = set(pick_units(load_registry(), 24)["unit_code"])
    year = truth(small_city, "2025", "anomalies.csv")
    for lb in year:
        assert lb["code"] in ("U1", "U4") and lb["unit_code"] in codes and lb["period"] == "2025"
    for q in quarter_range("2025Q1..2025Q4"):
        for lb in truth(small_city, q.key, "anomalies.csv"):
            assert lb["unit_code"] in codes and lb["period"] == q.key


def test_clean_city_has_no_mess(clean_quarter: Path) -> None:
    rows = truth(clean_quarter, "2025Q3", "submissions.csv")
    assert {r["expected_status"] for r in rows} == {"on_time"}
    assert {r["format"] for r in rows} == {"xlsx"} and not any(r["breakage"] for r in rows)
    assert truth(clean_quarter, "2025Q3", "anomalies.csv") == []
    import json

    noise = json.loads((clean_quarter / "ground_truth" / "2025Q3" / "noise.json").read_text(encoding="utf-8"))
    assert all(v["applied"] == 0 for v in noise.values())
    for folder, name in accepted_files(clean_quarter, "2025Q3").values():
        for title, rows_ in read_xlsx(folder / name).items():
            for row in rows_:
                assert not any(isinstance(v, str) and any("０" <= ch <= "９" for ch in v) for v in row), title


# -- the command line -------------------------------------------------------------------------------


def test_cli_generates_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quarters", "2026Q1", "--units", "3", "--scale", "0.3", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "generated 1 quarter(s)" in out.out
    assert "2026Q1: 3 units" in out.err  # progress goes to stderr
    assert len([p for p in (tmp_path / "landing" / "2026Q1").iterdir() if p.is_dir()]) <= 3
    assert (tmp_path / "ground_truth" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quarters", "2025Q5"], "not a quarter"),
        (["--set", "late=2"], "between 0 and 1"),
        (["--set", "nonsense=0.1"], "unknown rate"),
        (["--cities", "17"], "--cities"),
        (["--units", "371699-X-001"], "unknown unit codes"),
    ],
)
def test_cli_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_generator_never_overwrites_real_landing_data(tmp_path: Path) -> None:
    real = tmp_path / "landing" / "2025Q3" / "371602-X-001"
    real.mkdir(parents=True)
    (real / "submission.xlsx").write_bytes(b"a real unit's file")
    with pytest.raises(LandingNotSyntheticError):
        make_city(tmp_path, units=2, quarters=(Quarter(2025, 3),))
    assert (real / "submission.xlsx").read_bytes() == b"a real unit's file"


def test_province_has_distinct_codes(tmp_path: Path) -> None:
    make_city(tmp_path, cities=2, units=8, scale=0.2, quarters=(Quarter(2025, 3),))
    registry = pl.read_csv(tmp_path / "registry" / "units.csv")
    assert registry.height == 1000 and registry["unit_code"].n_unique() == 1000
    folders = [p.name for p in (tmp_path / "landing" / "2025Q3").iterdir() if p.is_dir()]
    assert {code[:4] for code in folders} >= {"3716"} and all(
        code in set(registry["unit_code"]) for code in folders
    )


def test_file_mtimes_are_arrival_times(small_city: Path) -> None:
    for r in truth(small_city, "2025Q1", "submissions.csv"):
        if r["delivery"] == "0" or r["format"] == "csv":
            continue
        path = small_city / "landing" / "2025Q1" / r["unit_code"] / r["file_name"]
        assert path.stat().st_mtime == datetime.fromisoformat(r["arrival"]).timestamp()
