"""`python -m pipelines.report.execute QUARTER WAREHOUSE OUTPUT [TIMEOUT]`: execute the report notebook
into OUTPUT, for a render_report in the parent process (render.prestart).

Exit 0: OUTPUT is the executed notebook. Exit 3 (render.CELL_FAILED_EXIT): a cell failed; the
ReportError's message (naming the cell) is in OUTPUT.error (render.failure_message_path) and OUTPUT
holds the notebook with the traceback. Anything else: the traceback is on standard error.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from pipelines.report.render import CELL_FAILED_EXIT, ReportError, execute_notebook, failure_message_path

    if len(argv) not in (3, 4):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    quarter, warehouse, output = argv[0], Path(argv[1]), Path(argv[2])
    timeout = int(argv[3]) if len(argv) == 4 else 600
    try:
        execute_notebook(output, quarter, warehouse, timeout)
    except ReportError as exc:
        failure_message_path(output).write_text(str(exc), encoding="utf-8")
        return CELL_FAILED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
