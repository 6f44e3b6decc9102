"""`python -m pipelines.deliverables.worker JOBS`: write a share of the files write_deliverables planned.

The parent (pipelines/deliverables/write.py) pickles each share — (path, writer, arguments) triples, with
writers named by module and function — into a file of its own staging area and starts one interpreter
per share. A plain subprocess rather than a multiprocessing pool: a pool's children import the parent's
`__main__` again (a script without a main guard would run twice), and forking a process that holds
DuckDB's and polars' thread pools can deadlock the child.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from pipelines.deliverables.write import write_job

    if len(argv) != 1:
        print("usage: python -m pipelines.deliverables.worker JOBS", file=sys.stderr)
        return 2
    # The file is the parent's own, written a moment ago in its private staging area.
    jobs = pickle.loads(Path(argv[0]).read_bytes())
    for job in jobs:
        write_job(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
