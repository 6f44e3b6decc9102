"""`python -m pipelines.ops …`: the former operator entry point, now a thin alias of `assessment …`
(pipelines/cli). `run_quarters`, `landed_quarters` and `project_instance` stay importable from here for
the benchmark and the tests."""

from __future__ import annotations

from pipelines.cli.app import main
from pipelines.cli.runner import landed_quarters, project_instance, run_quarters

__all__ = ["landed_quarters", "main", "project_instance", "run_quarters"]

if __name__ == "__main__":
    raise SystemExit(main())
