"""The two dagster-dbt internals pipelines/defs/dbt/startup.py overrides are still what it assumes.

These fail when the pinned dagster-dbt renames, re-types or stops calling `_cli_version` or
`_initialize_dbt_core_adapter`, so an upgrade either keeps the overrides working or makes someone look.
"""

from __future__ import annotations

import inspect
import re
import subprocess
from collections.abc import Sequence
from functools import cached_property

from dagster_dbt import DbtCliResource

from pipelines.defs.dbt.resources import WarehouseDbtCli, dbt_resource
from pipelines.defs.dbt.startup import QuickStartDbtCli


def test_dagster_dbt_still_has_the_overridden_members_with_the_same_signatures() -> None:
    upstream_version = inspect.getattr_static(DbtCliResource, "_cli_version")
    assert isinstance(upstream_version, cached_property)
    assert list(inspect.signature(upstream_version.func).parameters) == ["self"]
    assert isinstance(inspect.getattr_static(QuickStartDbtCli, "_cli_version"), cached_property)

    upstream_adapter = inspect.signature(DbtCliResource._initialize_dbt_core_adapter)
    ours = inspect.signature(QuickStartDbtCli._initialize_dbt_core_adapter)
    assert list(upstream_adapter.parameters) == list(ours.parameters) == ["self", "args"]
    assert upstream_adapter.parameters["args"].annotation in (Sequence[str], "Sequence[str]")


def test_cli_still_calls_them_and_copes_without_an_adapter() -> None:
    """`cli()` asks `_cli_version` before loading the adapter and passes the (possibly absent) adapter
    on: returning None from the override is the path dagster-dbt itself takes for dbt Fusion."""
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version.major < 2" in source
    assert "adapter = self._initialize_dbt_core_adapter(args)" in source
    assert re.search(r"adapter: BaseAdapter \| None = None", source)
    assert "adapter=adapter" in source and "cli_version=self._cli_version" in source


def test_the_dbt_resource_reports_the_version_of_the_dbt_it_runs() -> None:
    """The version read from the package is the version of the executable the resource starts."""
    resource = dbt_resource()
    assert isinstance(resource, WarehouseDbtCli) and isinstance(resource, QuickStartDbtCli)
    printed = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed:\s*(\d+\.\d+\.\d+)", printed)
    assert installed is not None, printed
    assert str(resource._cli_version) == installed.group(1)
    assert resource._initialize_dbt_core_adapter(["build"]) is None
