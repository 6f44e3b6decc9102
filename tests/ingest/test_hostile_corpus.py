"""A corpus of hostile and broken resubmissions, landed together on a clean quarter and ingested in one
run: each is rejected with its exact Chinese reason (or accepted with its exact warning), the run
completes, every file has a receipt, and no other unit's data moves. Then the archive is replayed.

The first cases are the ones that used to stop the whole city (an integer outside 1–5 in 工作强度 or
工作难度 raised in the message formatting; a quantity of 1.7e308 overflowed the task weight later).
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.ingest import parse as parse_module
from pipelines.ingest import run as run_module
from pipelines.ingest import validate as validate_module
from pipelines.ingest.run import IngestReport
from tests.ingest.hostile import (
    Base,
    Text,
    accepted_rows_are_sane,
    cell_ref,
    copy_base,
    errors_of,
    every_file_has_a_receipt,
    first_sheet_part,
    ingest,
    items,
    landing_folder,
    ledger,
    new_submission,
    others_unchanged,
    plain_chinese,
    replace_part,
    set_cell,
    set_cell_xml,
    unit_unchanged,
    write_csv_set,
)

# The tests share a module-scoped fixture and read the session's hostile_base: keep them on one xdist
# worker with hostile_base's and noisy_quarter's other readers, so each is built once.
pytestmark = pytest.mark.xdist_group("ingested_quarters")

TASKS, RATINGS, INFO = "重点任务", "评议打分", "单位信息"
RESAVE = "请用Excel重新保存后报送"
FORMULA_REASON = "单元格含公式但没有保存计算结果：请在 Excel 中打开本文件、保存后重新报送"
FORMULA_LIKE = "以“=”“+”“-”或“@”开头，像表格公式；已按普通文字保存，导出时不会作为公式执行"
BILLION_LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>"
)


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Base, Path, str], None]  # (base, target file in the copy, unit): a CSV case writes
    # its set into the target's folder
    errors: tuple[str, ...]  # the exact error messages of the receipt, in order; () when accepted
    warning: str | None = None  # a warning message the receipt must carry (accepted cases)


def _cell(sheet: str, header: str, value: Any, row: int = 2) -> Callable[[Base, Path, str], None]:
    def write(base: Base, target: Path, unit: str) -> None:
        set_cell(base.books[unit], target, sheet, row, header, value)

    return write


def _xml(sheet: str, header: str, cell: str, row: int = 2) -> Callable[[Base, Path, str], None]:
    def write(base: Base, target: Path, unit: str) -> None:
        ref = cell_ref(base.books[unit], sheet, row, header)
        set_cell_xml(base.books[unit], target, sheet, ref, cell.format(ref=ref))

    return write


def _billion_laughs(base: Base, target: Path, unit: str) -> None:
    book = base.books[unit]
    part = first_sheet_part(book, RATINGS)

    def inflate(data: bytes) -> bytes:
        body = data.split(b"?>", 1)[1]  # keep the root element, put the DTD in front of it
        return BILLION_LAUGHS + body.replace(b"<sheetData>", b"<sheetData><!-- &lol9; -->", 1)

    replace_part(book, target, part, inflate)


def _truncated(base: Base, target: Path, unit: str) -> None:
    data = base.books[unit].read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _csv_long_cell(base: Base, target: Path, unit: str) -> None:
    write_csv_set(base.books[unit], target.parent, {(TASKS, 2, "任务名称"): "长" * 300_000})


def _csv_bad_utf8(base: Base, target: Path, unit: str) -> None:
    write_csv_set(base.books[unit], target.parent)
    path = target.parent / f"{TASKS}.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + b"\xff\xfe\xfd")


def _at(sheet: str, header: str, row: int = 2) -> str:
    return f"「{sheet}」表第{row}行「{header}」"


CASES = (
    Case(
        "intensity_6",
        _cell(TASKS, "工作强度", 6),
        (f"{_at(TASKS, '工作强度')}的值“6”超出范围（应在1至5之间）",),
    ),
    Case(
        "difficulty_0",
        _cell(TASKS, "工作难度", 0),
        (f"{_at(TASKS, '工作难度')}的值“0”超出范围（应在1至5之间）",),
    ),
    Case(
        "intensity_negative",
        _cell(TASKS, "工作强度", -3),
        (f"{_at(TASKS, '工作强度')}的值“-3”超出范围（应在1至5之间）",),
    ),
    Case(
        "quantity_1.7e308",
        _cell(TASKS, "任务数量", 1.7e308),
        (f"{_at(TASKS, '任务数量')}的值“1.7e+308”超出范围（应在0.001至1000之间）",),
    ),
    Case(
        "quantity_1001",
        _cell(TASKS, "任务数量", 1001),
        (f"{_at(TASKS, '任务数量')}的值“1001”超出范围（应在0.001至1000之间）",),
    ),
    Case(
        "quantity_denormal",
        _cell(TASKS, "任务数量", 5e-324),
        # calamine renders the smallest subnormal as 0; rejected either way
        (f"{_at(TASKS, '任务数量')}的值“0”超出范围（应在0.001至1000之间）",),
    ),
    Case(
        "score_nan",
        _xml(RATINGS, "强度", '<c r="{ref}" t="n"><v>NaN</v></c>'),
        (f"{_at(RATINGS, '强度')}的值“NaN”不是数字",),
    ),
    Case(
        "score_inf",
        _xml(RATINGS, "成效", '<c r="{ref}" t="n"><v>inf</v></c>'),
        (f"{_at(RATINGS, '成效')}的值“inf”不是数字",),
    ),
    Case("score_nan_text", _cell(RATINGS, "数量", "NaN"), (f"{_at(RATINGS, '数量')}的值“NaN”不是数字",)),
    Case(
        "formula_without_value", _cell(RATINGS, "成效", "=D2*2"), (f"{_at(RATINGS, '成效')}{FORMULA_REASON}",)
    ),
    Case(
        "formula_in_optional_cell",
        _cell(TASKS, "协办人", '=CONCAT("P","001")'),
        (f"{_at(TASKS, '协办人')}{FORMULA_REASON}",),
    ),
    Case(
        "error_cell",
        _cell(RATINGS, "措施", "#DIV/0!"),
        (f"{_at(RATINGS, '措施')}的值“#DIV/0!”是Excel错误值，请改正公式或直接填写数值",),
    ),
    Case(
        "csv_300000_char_cell",
        _csv_long_cell,
        (
            f"文件无法读取（「{TASKS}.csv」第2行附近有单元格超过131072个字符，"
            "不是正常的报送内容，请检查后重新报送）",
        ),
    ),
    Case("csv_bad_utf8", _csv_bad_utf8, ("文件无法读取（文件以UTF-8标记开头，但内容不是有效的UTF-8）",)),
    Case(
        "billion_laughs",
        _billion_laughs,
        (f"文件含有Excel不会生成的XML实体声明，可能是恶意构造的文件，已拒收；{RESAVE}",),
    ),
    Case("truncated_zip", _truncated, (f"文件无法读取（文件不完整或已损坏，可能上传时被截断；{RESAVE}）",)),
    Case(
        "code_like_formula",
        _cell(TASKS, "任务编号", Text("=1+1")),
        (f"{_at(TASKS, '任务编号')}的值“=1+1”不是有效编号",),
    ),
)
HYPERLINK = '=HYPERLINK("http://evil.example/x","点击查看")'
ACCEPTED = (
    Case(
        "hyperlink_text",
        _cell(TASKS, "任务名称", Text(HYPERLINK)),
        (),
        f"{_at(TASKS, '任务名称')}的值“{HYPERLINK}”{FORMULA_LIKE}",
    ),
    Case(
        "control_characters",
        _cell(TASKS, "目标要求", "按期\x07完成\x1b"),
        (),
        f"{_at(TASKS, '目标要求')}的值“按期␇完成␛”含不可见的控制字符，已删除后按“按期完成”处理",
    ),
)


@dataclass
class Corpus:
    root: Path
    report: IngestReport
    ids: dict[str, str]  # case name -> submission id
    units: dict[str, str]  # case name -> unit


@pytest.fixture(scope="module")
def corpus(hostile_base: Base, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Every case in one run: rejected cases spread over four units (CSV sets each in a unit of their
    own, since a folder's CSV files are one delivery), the two accepted ones in a unit each."""
    root = copy_base(hostile_base, tmp_path_factory.mktemp("corpus") / "data")
    units = hostile_base.units
    csv_units = {"csv_300000_char_cell": units[2], "csv_bad_utf8": units[3]}
    placed: dict[str, str] = {}
    for k, case in enumerate(CASES):
        placed[case.name] = csv_units.get(case.name, units[k % 2])
    for case, unit in zip(ACCEPTED, units[4:], strict=True):
        placed[case.name] = unit
    for case in (*CASES, *ACCEPTED):
        case.write(
            hostile_base, landing_folder(root, placed[case.name]) / f"{case.name}.xlsx", placed[case.name]
        )
    report = ingest(root)
    rows = ledger(root)
    ids = {}
    for name, unit in placed.items():
        mine = rows.filter(pl.col("unit_code") == unit)
        match = (
            mine.filter(pl.col("format") == "csv")
            if name in csv_units
            else mine.filter(pl.col("file_name") == f"{name}.xlsx")
        )
        assert match.height == 1, (name, match)
        ids[name] = match.item(0, "submission_id")
    return Corpus(root, report, ids, placed)


def test_the_run_completes_and_every_file_has_a_receipt(corpus: Corpus) -> None:
    every_file_has_a_receipt(corpus.root, corpus.report)
    assert corpus.report.rejected == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_file_is_rejected_with_its_exact_chinese_reason(corpus: Corpus, case: Case) -> None:
    errors = errors_of(corpus.root, corpus.ids[case.name])
    assert [e["message"] for e in errors] == list(case.errors)
    assert all(plain_chinese(e) for e in errors), errors


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
def test_formula_like_text_and_control_characters_are_accepted_with_a_warning(
    corpus: Corpus, case: Case
) -> None:
    sid = corpus.ids[case.name]
    row = ledger(corpus.root).filter(pl.col("submission_id") == sid).to_dicts()[0]
    assert row["accepted"], errors_of(corpus.root, sid)
    warnings = items(corpus.root).filter((pl.col("submission_id") == sid) & (pl.col("severity") == "warning"))
    assert case.warning in warnings.get_column("message").to_list()
    accepted_rows_are_sane(corpus.root, corpus.units[case.name])


def test_the_formula_like_text_is_kept_as_text(corpus: Corpus) -> None:
    tasks = pl.read_parquet(corpus.root / "raw" / "tasks" / "2025Q3.parquet")
    assert HYPERLINK in tasks.get_column("task_name").to_list()


def test_no_unit_loses_or_changes_data_through_a_rejected_file(corpus: Corpus, hostile_base: Base) -> None:
    changed = {corpus.units[c.name] for c in ACCEPTED}
    for unit in set(hostile_base.units) - changed:
        unit_unchanged(hostile_base, corpus.root, unit)
    status = pl.read_parquet(corpus.root / "raw" / "unit_status" / "2025Q3.parquet")
    before = pl.read_parquet(hostile_base.root / "raw" / "unit_status" / "2025Q3.parquet")
    kept = ["unit_code", "status", "current_submission_id", "first_accepted_at"]
    assert (
        status.filter(~pl.col("unit_code").is_in(list(changed)))
        .select(kept)
        .sort("unit_code")
        .equals(before.filter(~pl.col("unit_code").is_in(list(changed))).select(kept).sort("unit_code"))
    )


def test_a_replay_of_the_archive_rejects_them_again_and_does_not_crash(
    corpus: Corpus, hostile_base: Base, tmp_path: Path
) -> None:
    """The landing area emptied of the hostile files: the archive still holds them, the cache is cold
    (another namespace is not needed: the cache is dropped), and every verdict comes back the same."""
    root = shutil.copytree(corpus.root, tmp_path / "replay", symlinks=True)
    for path in (root / "landing" / "2025Q3").glob("*/*"):
        if path.suffix == ".csv" or path.stem in corpus.ids:
            path.unlink()
    shutil.rmtree(root / "ingest_cache")
    report = ingest(root)
    every_file_has_a_receipt(root, report)
    before = items(corpus.root).drop("quarter").sort("submission_id", "message")
    after = items(root).drop("quarter").sort("submission_id", "message")
    assert after.select("submission_id", "severity", "message").equals(
        before.select("submission_id", "severity", "message")
    )
    for unit in set(hostile_base.units) - {corpus.units[c.name] for c in ACCEPTED}:
        unit_unchanged(hostile_base, root, unit)


def test_in_isolated_worker_processes_the_verdicts_are_the_same(hostile_base: Base, tmp_path: Path) -> None:
    """The corpus runs inline; the same files through real parse workers (results pickled back)."""
    root = copy_base(hostile_base, tmp_path / "data")
    unit = hostile_base.units[0]
    picked = [
        c for c in CASES if c.name in ("intensity_6", "formula_without_value", "billion_laughs", "score_nan")
    ]
    for case in picked:
        case.write(hostile_base, landing_folder(root, unit) / f"{case.name}.xlsx", unit)
    report = ingest(root, workers=1)
    every_file_has_a_receipt(root, report)
    rows = ledger(root)
    for case in picked:
        sid = rows.filter(pl.col("file_name") == f"{case.name}.xlsx").item(0, "submission_id")
        assert [e["message"] for e in errors_of(root, sid)] == list(case.errors), case.name
    unit_unchanged(hostile_base, root, unit)
    others_unchanged(hostile_base, root, unit)


# -- an unexpected exception becomes the file's incident ---------------------------------------------

INCIDENT = re.compile(r"^系统处理本文件时出错（事件编号 (E[0-9A-F]{10})）")
MARKER = "触发故障"  # 填报人 of the file the injected fault picks


def _marked(base: Base, root: Path) -> str:
    unit = base.units[0]
    set_cell(base.books[unit], landing_folder(root, unit) / "更正.xlsx", INFO, 2, "填报人", MARKER)
    return unit


def _fault_on_marker(original: Callable[..., Any], pick: Callable[..., bool]) -> Callable[..., Any]:
    def faulty(*args: Any, **kwargs: Any) -> Any:
        if pick(*args, **kwargs):
            raise ZeroDivisionError("injected fault")
        return original(*args, **kwargs)

    return faulty


def _has_marker_sheets(sheets: dict[str, Any]) -> bool:
    info = sheets.get("unit_info")
    return info is not None and MARKER in info.frame.get_column("submitted_by").to_list()


def _has_marker_batches(batches: list[Any]) -> bool:
    return any(
        b.sheet == "unit_info" and MARKER in b.frame.get_column("submitted_by").to_list() for b in batches
    )


def _has_marker_parts(parts_by_sheet: dict[str, list[tuple[int, Any]]]) -> bool:
    return any(
        MARKER in parsed.columns.get("submitted_by", []) for _, parsed in parts_by_sheet.get("unit_info", [])
    )


def _stacking_fails_on_marker(mp: pytest.MonkeyPatch) -> None:
    """Stacking the sheets raises whenever the marked file is among them (the batch and its own)."""
    for module in (run_module, validate_module):
        mp.setattr(module, "stack", _fault_on_marker(module.stack, _has_marker_parts))


STAGES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "parse": lambda mp: mp.setattr(
        parse_module, "check_submission", _fault_on_marker(parse_module.check_submission, _has_marker_sheets)
    ),
    "validate": lambda mp: mp.setattr(
        run_module, "check_batches", _fault_on_marker(run_module.check_batches, _has_marker_batches)
    ),
    "stack": _stacking_fails_on_marker,
}


@pytest.mark.parametrize("stage", ["parse", "validate", "stack"])
def test_an_exception_while_handling_one_file_rejects_only_that_file(
    hostile_base: Base, tmp_path: Path, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_base(hostile_base, tmp_path / "data")
    unit = _marked(hostile_base, root)
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.ERROR):
        STAGES[stage](mp)
        report = ingest(root)
        every_file_has_a_receipt(root, report)
        row = new_submission(hostile_base, root)
        assert not row["accepted"]
        (error,) = errors_of(root, row["submission_id"])
        incident = INCIDENT.match(error["message"])
        assert incident, error["message"]
        assert incident.group(1) in caplog.text and "ZeroDivisionError: injected fault" in caplog.text
        unit_unchanged(hostile_base, root, unit)
        others_unchanged(hostile_base, root, unit)
        # A replay with the fault still there: rejected again, under the same incident id.
        ingest(root)
        assert [e["message"] for e in errors_of(root, row["submission_id"])] == [error["message"]]
    # The fault gone (a fixed release): the file is retried, not left rejected for good.
    ingest(root)
    assert ledger(root).filter(pl.col("submission_id") == row["submission_id"]).item(0, "accepted")


def test_an_exception_in_the_folder_checks_rejects_only_that_file(
    hostile_base: Base, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_base(hostile_base, tmp_path / "data")
    unit = hostile_base.units[1]
    original = validate_module.check_context

    def faulty(facts: Any, folder: str, *args: Any) -> Any:
        if folder == unit:
            raise KeyError("injected fault")
        return original(facts, folder, *args)

    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.ERROR):
        mp.setattr(validate_module, "check_context", faulty)
        report = ingest(root)
    every_file_has_a_receipt(root, report)
    rejected = ledger(root).filter(~pl.col("accepted"))
    assert rejected.get_column("unit_code").to_list() == [unit]
    (error,) = errors_of(root, rejected.item(0, "submission_id"))
    incident = INCIDENT.match(error["message"])
    assert incident and incident.group(1) in caplog.text
    others_unchanged(hostile_base, root, unit)
