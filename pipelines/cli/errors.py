"""Operator mistakes, found before anything runs, as one-line messages with an exit code.

Exit codes: 2 a wrong argument (quarter, path, release name); 3 the environment refuses (landing
folder missing, warehouse locked by another process, another run writing); 1 a run that failed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from pipelines.domain.quarters import parse_quarter, quarter_range
from pipelines.paths import landing_dir, quarter_keys, rules_dir, rules_years
from pipelines.publish.warehouse import layout

USAGE = 2
ENVIRONMENT = 3
FAILED = 1


class RunFailedError(Exception):
    """A Dagster run of the command failed; the message says which step and where the log is.
    `published`: a new release went out before the failure (a later step, the report, failed)."""

    def __init__(self, message: str, published: bool = False) -> None:
        super().__init__(message)
        self.published = published


class WarehouseLockedError(Exception):
    """DuckDB refused a warehouse file because another process holds its lock."""


class UserError(Exception):
    """A mistake the operator can fix; `str()` is the whole message, on one line."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the parts contained
        self.code = code


INTERRUPTED = 130  # Ctrl-C, as a shell reports a process stopped by SIGINT


def stopped_or_refused(exc: BaseException) -> UserError | None:
    """Ctrl-C, or the file system refusing a path the operator can look at (a folder where a file
    belongs, a permission), as the one line and exit code every command gives (`assessment`, the
    benchmark, the receiving sweep); None for anything else: a bug, shown whole."""
    if isinstance(exc, KeyboardInterrupt):
        return UserError("已中断 interrupted", INTERRUPTED)
    if isinstance(exc, OSError) and exc.filename is not None:
        return UserError(f"文件系统错误 file system error: {exc.strerror}: {exc.filename}", ENVIRONMENT)
    return None


def known_quarters_text() -> str:
    keys = quarter_keys()
    return f"{keys[0]}..{keys[-1]}" if keys else "none"


def check_quarter(text: str) -> str:
    """The canonical key of a quarter the pipeline knows (a rules file covers its year)."""
    try:
        quarter = parse_quarter(text)
    except ValueError:
        raise UserError(f"季度格式不对 malformed quarter {text!r}: expected e.g. 2025Q3, 2025-Q3") from None
    return _known(quarter.key, quarter.year)


def _known(key: str, year: int) -> str:
    if key not in quarter_keys():
        raise UserError(
            f"没有 {year} 年的规则文件 no rules file for {year} ({rules_dir() / f'{year}.toml'}); "
            f"可运行的季度 known quarters: {known_quarters_text()}"
        )
    return key


def check_quarters(spec: str) -> list[str]:
    """`2025Q1..2025Q4`, a comma list or one quarter, each known."""
    parts = re.split(r"\.\.|,", spec)
    for part in parts:
        if part.strip():
            check_quarter(part)
    try:
        quarters = quarter_range(spec)
    except ValueError as exc:
        raise UserError(f"季度范围不对 bad quarter range {spec!r}: {exc}") from None
    if not quarters:
        raise UserError(f"没有季度 no quarter in {spec!r}")
    return [_known(q.key, q.year) for q in quarters]


def check_year(text: str) -> int:
    if not re.fullmatch(r"\d{4}", text.strip()):
        raise UserError(f"年份格式不对 malformed year {text!r}: expected e.g. 2025")
    year = int(text)
    if year not in rules_years():
        raise UserError(f"没有 {year} 年的规则文件 no rules file for {year} ({rules_dir() / f'{year}.toml'})")
    return year


def check_landing(quarters: list[str]) -> None:
    """Every quarter to run has its folder in the landing area (an empty folder is fine: all missing)."""
    for q in quarters:
        folder = landing_dir() / q
        if not folder.is_dir():
            raise UserError(f"没有报送目录 no landing folder for {q}: {folder}", ENVIRONMENT)


def check_data_dir(given: str) -> Path:
    """The --data-dir folder as typed: an empty value is refused (as a Path it would be ".", the current
    folder, which `--data-dir .` asks for on purpose)."""
    if not given.strip():
        raise UserError("数据目录为空 data directory is empty: give a folder, or leave --data-dir out")
    path = Path(given)
    if not path.exists():
        raise UserError(f"数据目录不存在 data directory not found: {path}")
    if not path.is_dir():
        raise UserError(f"数据目录不是文件夹 data directory is not a folder: {path}")
    return path


def check_output_file(path: Path) -> Path:
    if path.suffix.lower() != ".xlsx":  # the list is a workbook whatever the name says
        raise UserError(f"输出文件须以 .xlsx 结尾 output file must end in .xlsx: {path}")
    if path.is_dir():
        raise UserError(f"输出路径是文件夹 output path is a folder: {path}")
    if not path.parent.is_dir():
        raise UserError(f"输出目录不存在 output folder not found: {path.parent}")
    return path


def lock_holder(path: Path) -> str | None:
    """Who holds the DuckDB lock on `path` ("PID 1234"), or None when the file can be opened read-write.

    DuckDB allows one read-write process per file and refuses others at connect time; a short
    read-write connect is the check (it writes nothing to a file it merely opens and closes)."""
    if not path.exists():
        return None
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" not in text.lower():
            # not a DuckDB file any more (damaged by hand, a disk error): the run cannot build from it
            raise UserError(
                f"仓库文件无法打开 warehouse file cannot be opened: {path}: {text.splitlines()[0][:200]}; "
                "move it aside and run again (the run rebuilds it from the archive)",
                ENVIRONMENT,
            ) from None
        pid = re.search(r"PID (\d+)", text)
        return f"PID {pid.group(1)}" if pid else "another process"
    return None


def check_warehouse_unlocked() -> None:
    """The files a run reads and replaces (the pipeline's private warehouse, the build file) are not
    held by another process."""
    lay = layout()
    for path in (lay.work, lay.builds / "build.duckdb"):
        holder = lock_holder(path)
        if holder is not None:
            raise UserError(
                f"仓库文件被另一个进程占用 warehouse file locked by {holder}: {path}; "
                "close that session (or wait for that run) and try again",
                ENVIRONMENT,
            )


MEMORY_ENV = "ASSESSMENT_DUCKDB_MEMORY"
# DuckDB's memory_limit units; below ~256 MB a city's quality models stop with "Out of Memory"
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
_UNIT_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNIT_BYTES |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
MIN_MEMORY_BYTES = 256 * 10**6


def check_duckdb_memory() -> None:
    """dbt's DuckDB memory limit (profiles.yml) before a run: a typo used to surface only as "dbt build
    failed" after ingestion, with DuckDB's parser error in the log."""
    value = os.environ.get(MEMORY_ENV, "").strip()
    if not value:
        return
    m = _MEMORY.fullmatch(value)
    size = float(m.group(1)) * _UNIT_BYTES[m.group(2).upper()] if m else 0.0
    if size < MIN_MEMORY_BYTES:
        raise UserError(
            f"{MEMORY_ENV}={value} 无效 is not a usable DuckDB memory limit: give e.g. 2500MB or 2GB, "
            "at least 256MB (or unset it for the default 2500MB)",
            ENVIRONMENT,
        )


def check_not_pinned() -> None:
    """ASSESSMENT_DUCKDB pins dbt to one file (tests, dbt by hand); a run from it would publish nothing."""
    pinned = os.environ.get("ASSESSMENT_DUCKDB")
    if pinned:
        raise UserError(
            f"ASSESSMENT_DUCKDB 已设置 is set ({pinned}): a run would build that file and publish nothing; "
            "unset it for a run",
            ENVIRONMENT,
        )
