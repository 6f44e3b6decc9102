"""Record the first sight of newly landed files, without running the pipeline.

    uv run python -m pipelines.ingest.receive              # every quarter folder in the landing area
    uv run python -m pipelines.ingest.receive --quarter 2026Q3

A file's arrival is when the receiving side first saw it (docs/ingestion.md). When the system that
receives files writes no receiving log, run this every few minutes while a quarter is open (cron), so
each file's arrival is recorded within minutes of landing, and not only when the quarter is run after
its deadline. It archives new files (read-only copies, their arrival and order of first sight) and
nothing else: no parsing, no receipts, no tables. It holds the data directory's run lock while it
works; while another run holds it, it exits with code 3 and the next sweep catches up.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines import runlock
from pipelines.cli.errors import stopped_or_refused
from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.discover import quarter_folders
from pipelines.ingest.run import receive_quarter
from pipelines.paths import data_dir, landing_dir


def _refusal(folder: Path) -> str | None:
    """Why the data folder cannot be swept, or None. Checked before the run lock is taken: taking it
    creates the folder, so a mistyped $ASSESSMENT_DATA_DIR would be made, swept empty and reported as
    a success, and the quarter's arrivals would be recorded nowhere."""
    where = " (check $ASSESSMENT_DATA_DIR)" if os.environ.get("ASSESSMENT_DATA_DIR") else ""
    if not folder.exists():
        return f"数据目录不存在 data directory not found: {folder}{where}"
    if not folder.is_dir():
        return f"数据目录不是文件夹 data directory is not a folder: {folder}{where}"
    landing = folder / "landing"
    if not landing.is_dir():
        return f"没有报送目录 no landing folder: {landing} (is {folder} the data directory?)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 swept, 2 a wrong argument, 3 the environment refuses (the data folder, another
    run holding the lock, a file system error), 130 Ctrl-C; each with one line on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ingest.receive", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quarter", action="append", help="a quarter key (repeatable); default: every one")
    args = parser.parse_args(argv)
    given: list[str] | None = None
    if args.quarter:
        given = []
        for text in args.quarter:
            try:
                given.append(parse_quarter(text).key)
            except ValueError:
                print(
                    f"error: 季度格式不对 malformed quarter {text!r}: expected e.g. 2025Q3, 2025-Q3",
                    file=sys.stderr,
                )
                return 2
    folder = data_dir()
    refused = _refusal(folder)
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return 3
    try:
        quarters = given if given is not None else quarter_folders(landing_dir())[0]
        with runlock.hold(folder, "python -m pipelines.ingest.receive"):
            for q in quarters:
                report = receive_quarter(q)
                print(f"{q}: {report.archived_now} new, {report.submissions} archived in all", flush=True)
                for line in report.skipped:
                    print(f"  ignored: {line}", flush=True)
    except runlock.RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (KeyboardInterrupt, OSError) as exc:
        told = stopped_or_refused(exc)
        if told is None:
            raise
        print(f"error: {told}", file=sys.stderr)
        return told.code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
