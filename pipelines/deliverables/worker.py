"""`python -m pipelines.deliverables.worker`: write a share of the files write_deliverables planned.

The parent (pipelines/deliverables/write.py) starts one interpreter per extra share, often before it
has planned anything: the worker imports what the writers need (~1 s of CPU: polars, xlsxwriter,
Jinja2) while the parent reads the warehouse, then waits for one line on its standard input, the path
of its share. The share is a pickle the parent wrote in its private staging area: (path, writer,
arguments) triples, with writers named by module and function. An empty line means there is nothing
to write (the plan was small, or failed).
A plain subprocess rather than a multiprocessing pool: a pool's children import the parent's
`__main__` again (a script without a main guard would run twice), and forking a process that holds
DuckDB's and polars' thread pools can deadlock the child.

For a quarter's first set (nothing to carry over) the pickle is instead a ShareRequest: the worker
plans its own share of the units and counties from the warehouse, writes their files, and records
each file's group and fingerprint for the parent's manifest (write.py, _write_split).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    # Imported before waiting: this is the start-up the parent overlaps with its planning.
    from pipelines.deliverables.write import ShareRequest, write_job, write_share

    if argv:
        print("usage: python -m pipelines.deliverables.worker  (the share's path on stdin)", file=sys.stderr)
        return 2
    line = sys.stdin.readline().strip()
    if not line:
        return 0
    # The file is the parent's own, written a moment ago in its private staging area.
    payload = pickle.loads(Path(line).read_bytes())
    if isinstance(payload, ShareRequest):  # a first set: plan and write this share here
        write_share(payload)
        return 0
    for job in payload:
        write_job(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
