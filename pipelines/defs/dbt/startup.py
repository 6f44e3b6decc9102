"""The only place this project overrides dagster-dbt internals: two start-up costs of every dbt step.

Before each invocation `DbtCliResource.cli` (dagster-dbt 0.29.x) runs `dbt --version` in a subprocess
(`_cli_version`: a full dbt start-up) and loads dbt's adapter and macros in-process
(`_initialize_dbt_core_adapter`) for the row-count and column-metadata helpers, which this project does
not call. dagster-dbt offers no public setting for either (checked in 0.29.27). Measured on this 2-core
machine (docs/warehouse.md, "dbt start-up"), they add seconds to every dbt step, so they are replaced:

- the version is read from the installed dbt-core package (pinned by uv.lock; the executable is the one
  in the same environment, see project.dbt_executable), and
- no adapter handle is made: dagster-dbt then streams events exactly as it does for the dbt Fusion
  engine, where it has no adapter either.

tests/dbt/test_dbt_startup.py fails when the pinned dagster-dbt changes these methods' signatures or the
call sites that rely on them, so an upgrade cannot silently bypass or break the overrides.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging import version


class QuickStartDbtCli(DbtCliResource):
    """`DbtCliResource` without the `dbt --version` subprocess and the in-process adapter load."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None
