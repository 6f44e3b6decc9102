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
import sys
from collections.abc import Sequence

from pipelines import runlock
from pipelines.domain.quarters import parse_quarter
from pipelines.ingest.discover import quarter_folders
from pipelines.ingest.run import receive_quarter
from pipelines.paths import data_dir, landing_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ingest.receive", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quarter", action="append", help="a quarter key (repeatable); default: every one")
    args = parser.parse_args(argv)
    quarters = (
        [parse_quarter(q).key for q in args.quarter] if args.quarter else quarter_folders(landing_dir())[0]
    )
    try:
        with runlock.hold(data_dir(), "python -m pipelines.ingest.receive"):
            for q in quarters:
                report = receive_quarter(q)
                print(f"{q}: {report.archived_now} new, {report.submissions} archived in all", flush=True)
                for line in report.skipped:
                    print(f"  ignored: {line}", flush=True)
    except runlock.RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
