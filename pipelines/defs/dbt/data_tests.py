"""One Dagster asset check per checked dbt model, summarising every dbt data test on it (issue 16).

dagster-dbt makes each dbt test its own asset check: on the city that was 63 checks, and every one cost
three events per run in Dagster's SQLite event log (planned, evaluation, step output), each stored with
its own commit. A person in the UI looks at a model and asks "did its tests pass, and if not, which rule
failed?": one check per model, `dbt_data_tests`, answers that with the tests listed in its metadata.

- The check's spec (`summary_check_spec`) is what dagster-dbt made for each test of the model, merged:
  blocking when any test is error-severity, the union of the tests' other inputs, and the tests' dbt
  unique ids in its metadata (TESTS_METADATA), so nothing here depends on how tests are named.
- At run time (`TestSummaries`) dbt's test results are collected per check instead of being handed to
  dagster-dbt, and one `AssetCheckResult` is yielded once the last of the model's tests has reported
  (the rest when dbt finishes): passed when every test passed; severity ERROR when a test failed
  (`fail`/`error`), WARN when only warn-severity ones did.
- A failing test still fails the step: that is dbt's exit status (dbt_api.failure_description),
  untouched here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY

DATA_TESTS_CHECK = "dbt_data_tests"
# The dbt unique ids of the tests a summary check stands for, in its spec's metadata.
TESTS_METADATA = "warehouse/dbt_tests"
FAILED_TESTS = "failed_tests"  # read by the operator CLI to name the failed rules (cli/runner.py)
PASS = "pass"
WARN = "warn"


def summary_check_spec(asset_key: dg.AssetKey, test_specs: Sequence[dg.AssetCheckSpec]) -> dg.AssetCheckSpec:
    """The one check on `asset_key` standing for dagster-dbt's per-test `test_specs` (at least one)."""
    test_ids = sorted(str((spec.metadata or {})[DAGSTER_DBT_UNIQUE_ID_METADATA_KEY]) for spec in test_specs)
    deps = {dep.asset_key for spec in test_specs for dep in spec.additional_deps} - {asset_key}
    return dg.AssetCheckSpec(
        name=DATA_TESTS_CHECK,
        asset=asset_key,
        description=(
            f"The model's {len(test_ids)} dbt data test(s): passes when every one passes; "
            "the metadata lists each test with its status and failing rows."
        ),
        additional_deps=sorted(deps, key=lambda key: key.to_user_string()),
        blocking=any(spec.blocking for spec in test_specs),
        # dagster-dbt names a check's dbt test from this key when a run selects checks without their
        # asset; expand_check_selection adds the others
        metadata={DAGSTER_DBT_UNIQUE_ID_METADATA_KEY: test_ids[0], TESTS_METADATA: test_ids},
    )


def summarised_tests(spec: dg.AssetCheckSpec) -> list[str]:
    """The dbt test ids a summary check stands for ([] for any other check)."""
    return list((spec.metadata or {}).get(TESTS_METADATA) or [])


@dataclass(frozen=True)
class TestOutcome:
    """One dbt test's result as dbt reported it."""

    unique_id: str
    name: str
    status: str  # pass, fail, warn, error
    failures: int | None


def outcome_of(raw_event: Mapping[str, Any]) -> TestOutcome:
    """A test's outcome from dbt's structured LogTestResult event (what dbt's JSON log carries)."""
    data = raw_event["data"]
    node = data["node_info"]
    status = str(node.get("node_status") or data.get("status") or "").lower()
    failures = data.get("num_failures")
    return TestOutcome(
        unique_id=node["unique_id"],
        name=str(data.get("name") or node.get("node_name") or node["unique_id"]),
        status=status,
        failures=None if failures is None else int(failures),
    )


TESTS_TABLE = dg.TableSchema(
    columns=[
        dg.TableColumn("test", "string"),
        dg.TableColumn("status", "string"),
        dg.TableColumn("failures", "int"),
    ]
)


def summary_result(
    key: dg.AssetCheckKey, outcomes: Sequence[TestOutcome], not_run: Iterable[str] = ()
) -> dg.AssetCheckResult:
    """The check's result from its tests' outcomes (`not_run`: names of its tests dbt did not report)."""
    ordered = sorted(outcomes, key=lambda o: o.name)
    failed = [o for o in ordered if o.status != PASS]
    severity = (
        dg.AssetCheckSeverity.WARN
        if failed and all(o.status == WARN for o in failed)
        else dg.AssetCheckSeverity.ERROR
    )
    metadata: dict[str, Any] = {
        "tests": dg.MetadataValue.table(
            [dg.TableRecord({"test": o.name, "status": o.status, "failures": o.failures}) for o in ordered],
            schema=TESTS_TABLE,
        ),
        FAILED_TESTS: dg.MetadataValue.json([o.name for o in failed]),
        "failed_row_count": sum(o.failures or 0 for o in failed),
    }
    missing = sorted(not_run)
    if missing:
        metadata["not_run"] = dg.MetadataValue.json(missing)
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=not failed,
        severity=severity,
        metadata=metadata,
    )


class TestSummaries:
    """Collects the test results of one dbt command for the summary checks the step runs."""

    def __init__(self, specs: Iterable[dg.AssetCheckSpec], manifest: Mapping[str, Any]) -> None:
        self._check_of_test: dict[str, dg.AssetCheckKey] = {}
        self._expected: dict[dg.AssetCheckKey, set[str]] = {}
        for spec in specs:
            tests = summarised_tests(spec)
            if tests:
                self._expected[spec.key] = set(tests)
                self._check_of_test.update(dict.fromkeys(tests, spec.key))
        self._nodes = manifest.get("nodes", {})
        self._outcomes: dict[dg.AssetCheckKey, list[TestOutcome]] = {}
        self._done: set[dg.AssetCheckKey] = set()

    @classmethod
    def for_step(cls, context: dg.AssetExecutionContext, manifest: Mapping[str, Any]) -> TestSummaries:
        """The summary checks this step was asked to evaluate (a subset run may select fewer)."""
        return cls(context.assets_def.check_specs, manifest)

    def claims(self, unique_id: str) -> bool:
        """Whether the test's result belongs to a summary check of this step."""
        return unique_id in self._check_of_test

    def add(self, outcome: TestOutcome) -> dg.AssetCheckResult | None:
        """Record one result; the check's result when it was the last of its tests."""
        key = self._check_of_test[outcome.unique_id]
        outcomes = self._outcomes.setdefault(key, [])
        outcomes.append(outcome)
        if key in self._done or {o.unique_id for o in outcomes} < self._expected[key]:
            return None
        self._done.add(key)
        return summary_result(key, outcomes)

    def remaining(self) -> list[dg.AssetCheckResult]:
        """Checks some of whose tests reported and others did not (deselected or skipped by dbt): their
        result over the tests that ran, the others named in `not_run`. A check none of whose tests ran
        has no result, as a dbt test that did not run had none."""
        results = []
        for key, outcomes in self._outcomes.items():
            if key in self._done:
                continue
            reported = {o.unique_id for o in outcomes}
            not_run = [self._name(t) for t in self._expected[key] - reported]
            results.append(summary_result(key, outcomes, not_run))
            self._done.add(key)
        return results

    def _name(self, unique_id: str) -> str:
        return str(self._nodes.get(unique_id, {}).get("name", unique_id))


def expand_check_selection(
    selection_args: Sequence[str],
    selected_specs: Iterable[dg.AssetCheckSpec],
    manifest: Mapping[str, Any],
) -> list[str]:
    """dagster-dbt's selection with every test of a summary check wherever it named the check's one test.

    When a run selects checks apart from their assets (a check executed alone in the UI, or an asset
    without its checks), dagster-dbt names each selected check's dbt test explicitly, by the test in the
    spec's dagster_dbt/unique_id. A summary check stands for all its model's tests, so they are named
    too. Selections that name no test (the usual run: models, tests by indirect selection) are unchanged.
    """
    if len(selection_args) != 2 or selection_args[0] != "--select":
        return list(selection_args)
    names = selection_args[1].split(" ")
    added: list[str] = []
    nodes = manifest["nodes"]
    for spec in selected_specs:
        tests = [t for t in summarised_tests(spec) if t in nodes]
        named = (spec.metadata or {}).get(DAGSTER_DBT_UNIQUE_ID_METADATA_KEY)
        if not tests or named not in nodes or ".".join(nodes[named]["fqn"]) not in names:
            continue
        fqns = [".".join(nodes[t]["fqn"]) for t in tests]
        added.extend(f for f in fqns if f not in names and f not in added)
    if not added:
        return list(selection_args)
    return ["--select", " ".join([*names, *added])]
