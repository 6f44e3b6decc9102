"""The dbt warehouse as Dagster assets.

Every dbt model is an asset; each mart and quality-findings model has one asset check, `dbt_data_tests`,
summarising its dbt tests (data_tests.py; the tests on other models run in the same build without an
event). Models tagged `partitioned` in dbt_project.yml (the
staging and rules views, and the quarter-grain incremental models) are partitioned by quarter:
materialising partition 2025Q3 rebuilds that quarter only, and within it the unit-grain models only for
the units whose raw rows changed. The quarter and the units reach dbt through the build file's scope
table (resources.py, scope.py, macros/quarters.sql), not as vars, so dbt keeps its partial parse from
run to run. Dimensions and annual models are one unpartitioned asset set, rebuilt from all quarters.

One multi-asset for every model was tried (issue 16): Dagster splits a multi-asset into several steps
when other assets sit between its models (the Python findings read the rating composites and the
quality models read the findings), and the one asset became four dbt steps on the city instead of
three.

dbt sources map onto the assets that produce them: `raw.<table>` → AssetKey(["raw", "<table>"]) (the
ingestion assets), `raw.rules` → the `raw/rules` asset below, `reference.units` → `unit_registry`.
"""

# No `from __future__ import annotations`: Dagster reads the context parameter's real annotation.
import logging
import os
import shutil
import threading
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY
from dagster_dbt.dbt_manifest import validate_manifest

from pipelines.defs.dbt.data_tests import summary_check_spec
from pipelines.defs.dbt.dbt_api import PARTIAL_PARSE, RUN_TARGETS, prune_target_folders
from pipelines.defs.dbt.project import DBT_PROJECT_DIR, required_manifest, warehouse_project
from pipelines.defs.dbt.resources import WarehouseDbtCli, run_duckdb_path
from pipelines.defs.dbt.rules_table import rules_years, write_rules_table
from pipelines.defs.dbt.scope import record_built
from pipelines.defs.partitions import quarter_partitions
from pipelines.paths import data_dir

PARTITIONED_SELECT = "tag:partitioned"
LAYER_GROUPS = {
    "staging": "staging",
    "intermediate": "intermediate",
    "marts": "marts",
    "quality": "quality",
    "results_use": "results_use",  # reviews applied, the cadre division's record (docs/deliverables.md)
}
WRITER_TAGS = {"warehouse/writer": "true"}
REGISTRY_ASSET = dg.AssetKey("unit_registry")
RULES_ASSET = dg.AssetKey(["raw", "rules"])
# dbt unit tests check the SQL against fixed fixtures, not the data: they run in the test suite and CI
# (tests/dbt, a plain `dbt build`), not on every quarterly run, where they cost a third of dbt's time.
# A dbt test runs only when every model it reads is in the run (`indirect_selection: cautious` in
# dbt_project.yml), so a subset selected in the UI never trips over a half-built relationship test.
# dbt's file log at info, not debug: debug records every SQL statement (~750 a build, 5 MB of JSON
# written while the build runs); errors and each node's start and result stay in the log.
RUNTIME_BUILD = ["build", "--exclude-resource-type", "unit_test", "--log-level-file", "info"]
CHECKED_GROUPS = {"marts", "quality"}
# The dbt sources whose files the unit scope's global key hashes byte for byte (scope.global_key): the
# rules files and the unit registry.
KEYED_SOURCES = frozenset(
    {"source.assessment_warehouse.raw.rules", "source.assessment_warehouse.reference.units"}
)


def source_asset_key(source_name: str, table_name: str) -> dg.AssetKey:
    """The Dagster asset that writes a dbt source."""
    if (source_name, table_name) == ("reference", "units"):
        return REGISTRY_ASSET
    return dg.AssetKey([source_name, table_name])


class WarehouseTranslator(DagsterDbtTranslator):
    """Source keys aligned with the producing assets; groups by layer (staging/intermediate/marts)."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=source_asset_key(props["source_name"], props["name"]))
        layer = props.get("fqn", [None, None])[1]
        return spec.replace_attributes(group_name=LAYER_GROUPS.get(layer, "warehouse"))

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """One asset check, `dbt_data_tests`, per model analysts read (marts and quality findings),
        standing for all its dbt tests (data_tests.py): every test of the model maps to the same spec.

        The tests on staging views, intermediate and results-use models still run in every `dbt build` and
        still fail the step when they fail (dbt exits non-zero); they just are not recorded in Dagster's
        event log, whose events cost seconds per run (issue 16).
        """
        if asset_spec.group_name not in CHECKED_GROUPS:
            return None
        if super().get_asset_check_spec(asset_spec, manifest, unique_id, project) is None:
            return None  # not a test on this model (dagster-dbt's attachment rules)
        model_id = asset_spec.metadata[DAGSTER_DBT_UNIQUE_ID_METADATA_KEY]
        tests = sorted(t for t in manifest["child_map"].get(model_id, []) if t.startswith("test."))
        per_test = []
        for test_id in tests:
            spec = super().get_asset_check_spec(asset_spec, manifest, test_id, project)
            if spec is not None:
                per_test.append(spec)
        return summary_check_spec(asset_spec.key, per_test)


def data_tests_settled_by_the_global_key(manifest: Mapping[str, Any]) -> list[str]:
    """Names of the dbt data tests that read, through any chain of models, nothing but KEYED_SOURCES.

    A build's scope lists units only while the global key (those files and every file of the dbt
    project, tests included) is the one recorded by the last successful build of the file,
    and that build ran these tests on exactly the same inputs and SQL: their verdict cannot have changed.
    A unit-scoped quarter build leaves them out (there, the 5 tests on the rules and registry views, of
    its 40); every other build runs them.
    """
    nodes = manifest["nodes"]
    reached: dict[str, frozenset[str]] = {}

    def sources(unique_id: str) -> frozenset[str]:
        if unique_id not in reached:
            node = nodes.get(unique_id)
            inputs = [] if node is None else node["depends_on"]["nodes"]
            if not inputs:
                # A source, or a node that declares no input and so reads what dbt does not see (a file
                # path, a var): kept as itself, outside the key, so nothing that reads it is settled.
                reached[unique_id] = frozenset({unique_id})
            else:
                reached[unique_id] = frozenset().union(*(sources(d) for d in inputs))
        return reached[unique_id]

    return sorted(
        node["name"]
        for unique_id, node in nodes.items()
        if node["resource_type"] == "test" and sources(unique_id) <= KEYED_SOURCES
    )


def quarter_build_args(scoped_units: bool) -> list[str]:
    """The quarter step's dbt command: a unit-scoped build leaves out the tests the global key settles."""
    if not scoped_units:
        return list(RUNTIME_BUILD)
    settled = data_tests_settled_by_the_global_key(validate_manifest(_manifest))
    return [*RUNTIME_BUILD, "--exclude", " ".join(settled)]


KEEP_RUN_TARGETS = 6


def keep_parse_cache(run_target: Path, keep: int = KEEP_RUN_TARGETS) -> threading.Thread | None:
    """After a dbt run: hand its parse cache to the next run and drop old per-run target folders.

    Every dbt step has its own target folder, seeded from target/partial_parse.msgpack (dbt_api.py).
    Copying the cache of a finished run back there lets the next run with the same profile skip a full
    parse (about 10 s). The per-run folders but the `keep` newest are deleted by a background thread
    (returned, None when none is old: dbt_api.prune_target_folders).
    """
    cache = run_target / PARTIAL_PARSE
    shared = DBT_PROJECT_DIR / "target" / PARTIAL_PARSE
    if cache.exists():
        tmp = shared.with_name(f".partial_parse.{os.getpid()}.tmp")
        shutil.copyfile(cache, tmp)
        tmp.replace(shared)
    return prune_target_folders(run_target.parent, RUN_TARGETS, keep)


UNCHECKED_TEST_NOTE = "Logging an `AssetObservation` instead of an `AssetCheckResult`"


class _DropUncheckedTestNotes(logging.Filter):
    """dagster-dbt logs a warning for every dbt test that is not an asset check (~100 a run), and Dagster
    stores each as an event of the run; the tests are not checks on purpose (WarehouseTranslator)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(UNCHECKED_TEST_NOTE)


def recorded_events(events: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    """dagster-dbt's events without the observations it makes for tests that are not asset checks
    (one per test and upstream model), nor its warning about each: the test ran and gates the build;
    nobody reads the event. Returns what `events` returns."""
    note_filter = _DropUncheckedTestNotes()
    dbt_logger = dg.get_dagster_logger()  # the logger dagster-dbt's event parsing writes to
    dbt_logger.addFilter(note_filter)
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as finished:
                return finished.value
            if not isinstance(event, dg.AssetObservation):
                yield event
    finally:
        dbt_logger.removeFilter(note_filter)


_project = warehouse_project()
_manifest = required_manifest(_project)  # prepared by `make env`; a clear error if it is not
_translator = WarehouseTranslator()


@dg.asset(
    key=RULES_ASSET,
    deps=[dg.AssetKey("assessment_rules")],
    group_name="reference",
    kinds={"parquet"},
    tags=WRITER_TAGS,
)
def rules_table() -> dg.MaterializeResult:
    """Every committed rules year as raw/rules/rules.parquet: the parameters dbt joins by year."""
    path = write_rules_table(data_dir())
    return dg.MaterializeResult(metadata={"path": str(path), "years": rules_years()})


@dbt_assets(
    manifest=_manifest,
    project=_project,
    select=PARTITIONED_SELECT,
    partitions_def=quarter_partitions,
    dagster_dbt_translator=_translator,
    name="warehouse_quarter_models",
    op_tags=WRITER_TAGS,
)
def warehouse_quarter_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtCli) -> Iterator[Any]:
    """Staging and rules views and quarter-grain models, rebuilt for the partition's quarter; the
    unit-grain ones for the units whose raw rows changed only (scope.py)."""
    database = run_duckdb_path(context)
    quarter = context.partition_key
    scope = dbt.prepare_scope(database, quarter, context.run.run_id)
    if scope.units is not None:
        context.log.info(
            f"{quarter}: unit-grain models rebuild {len(scope.units)} changed unit(s): {scope.units[:20]}"
        )
    args = quarter_build_args(scope.units is not None)
    target_path = yield from recorded_events(dbt.build(args, database=database, context=context))
    record_built(database, scope)  # only reached when dbt succeeded (build raises otherwise)
    keep_parse_cache(target_path)


@dbt_assets(
    manifest=_manifest,
    project=_project,
    exclude=PARTITIONED_SELECT,
    dagster_dbt_translator=_translator,
    name="warehouse_annual_models",
    op_tags=WRITER_TAGS,
)
def warehouse_annual_models(context: dg.AssetExecutionContext, dbt: WarehouseDbtCli) -> Iterator[Any]:
    """Dimensions, annual results and annual compliance, rebuilt from every quarter."""
    target_path = yield from recorded_events(
        dbt.build(RUNTIME_BUILD, database=run_duckdb_path(context), context=context)
    )
    keep_parse_cache(target_path)


warehouse_quarter_job = dg.define_asset_job(
    "warehouse_quarter",
    selection=dg.AssetSelection.assets(warehouse_quarter_models),
    tags=WRITER_TAGS,
    description="Rebuild one quarter of the warehouse (run after that quarter is ingested).",
)

warehouse_annual_job = dg.define_asset_job(
    "warehouse_annual",
    selection=dg.AssetSelection.assets(warehouse_annual_models),
    tags=WRITER_TAGS,
    description="Rebuild dimensions, annual results and annual compliance from every quarter.",
)
