"""The summary check's verdict from its tests' outcomes, and what the operator CLI names when it fails.

The real dbt build behind these is in test_dagster_assets.py; here the cases a tiny city does not
produce (a warn-severity failure, an error next to a warning)."""

from __future__ import annotations

import dagster as dg

from pipelines.cli.runner import failed_rules
from pipelines.defs.dbt.data_tests import DATA_TESTS_CHECK, FAILED_TESTS, TestOutcome, summary_result

KEY = dg.AssetCheckKey(dg.AssetKey(["marts", "m"]), DATA_TESTS_CHECK)


def _outcome(name: str, status: str, failures: int = 0) -> TestOutcome:
    return TestOutcome(unique_id=f"test.p.{name}", name=name, status=status, failures=failures)


def _evaluation(result: dg.AssetCheckResult) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=KEY.asset_key,
        check_name=KEY.name,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
    )


def test_every_test_passing_passes() -> None:
    result = summary_result(KEY, [_outcome("b", "pass"), _outcome("a", "pass")])
    assert result.passed
    assert result.metadata[FAILED_TESTS].value == []
    assert [r.data["test"] for r in result.metadata["tests"].value.records] == ["a", "b"]
    assert failed_rules(_evaluation(result)) == [DATA_TESTS_CHECK]


def test_only_warnings_warn_and_a_failure_is_an_error() -> None:
    warned = summary_result(KEY, [_outcome("a", "pass"), _outcome("w", "warn", 3)])
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.metadata["failed_row_count"].value == 3
    both = summary_result(KEY, [_outcome("w", "warn", 3), _outcome("f", "fail", 2), _outcome("a", "pass")])
    assert not both.passed and both.severity == dg.AssetCheckSeverity.ERROR
    assert both.metadata[FAILED_TESTS].value == ["f", "w"]
    errored = summary_result(KEY, [_outcome("e", "error", 0)], not_run=["later"])
    assert errored.severity == dg.AssetCheckSeverity.ERROR and not errored.passed
    assert errored.metadata["not_run"].value == ["later"]
    # the CLI's one-line error names the rules that failed, not the summary check
    assert failed_rules(_evaluation(both)) == ["f", "w"]
