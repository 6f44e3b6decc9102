"""dbt for Dagster steps without dagster-dbt's subprocess: one parse per run, no start-up per step (issue 16).

dagster-dbt runs every dbt command as a subprocess. Each one pays a Python start-up with dbt's imports
(~1.5 s on the 2-core machine), reading and checking the partial-parse file (~1 s) and writing
manifest.json again (~0.9 s) before its first model: about 3.2 s per dbt step, and a run has two (the
quarter's models, then the annual ones after the Python findings). dbt's programmatic API, `dbtRunner`,
can reuse a parsed manifest across commands (dbt_api.py): the run's first dbt step parses (or loads the
cached parse) and the second starts on its first model.

dagster-dbt still decides what each step selects (`get_updated_cli_invocation_params_for_context`, the
selection it would hand its subprocess; `plan_command`) and turns each dbt result into Dagster events
(`to_default_asset_events`, fed the same structured event dbt's JSON log carries; `to_dagster_events`),
so the assets, checks and their metadata are the ones the subprocess path produced.

Where dbt runs: a step hands its command to dbt's worker process when one runs (worker.py), whose
threads do not share an interpreter lock with the step turning results into events; else dbt runs in a
thread of this process (`answers_in_thread`). Both run `dbt_api.run_step_command` and give the same
answers, which `stream_answers` turns into Dagster events. Commands outside a step (`run_command`: tests,
dbt by hand) run in this process, one command at a time.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from pipelines.defs.dbt.data_tests import TestSummaries, expand_check_selection, outcome_of
from pipelines.defs.dbt.dbt_api import (
    COMMAND_TARGETS,
    cached_or_parsed,
    failure_description,
    invoke,
    project_args,
    prune_target_folders,
    run_step_command,
)

# Commands outside a step keep this many target folders (dbt_api.prune_target_folders): far more than
# two test processes running dbt side by side make while one of them reads its command's results.
KEEP_COMMAND_TARGETS = 12


@dataclass(frozen=True)
class DbtCommand:
    """One dbt command as the subprocess path would have run it, minus the executable."""

    args: list[str]
    manifest: dict[str, Any]
    translator: DagsterDbtTranslator
    project: Any  # dagster_dbt.DbtProject | None
    target_path: Path


def plan_command(
    args: Sequence[str],
    *,
    context: dg.AssetExecutionContext,
    project_dir: Path,
    target_root: Path,
    extra_args: Sequence[str] = (),
) -> DbtCommand:
    """The argv, manifest and translator dagster-dbt would use for `args` in this step."""
    cleaned, selects, excludes = extract_runtime_selection_from_args(list(args))
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest={},  # taken from the step's @dbt_assets definition
        dagster_dbt_translator=DagsterDbtTranslator(),
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    selection = expand_check_selection(params.selection_args, context.assets_def.check_specs, params.manifest)
    step = context.op_execution_context.op.name
    target_path = target_root / f"{step}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    argv = [
        *cleaned,
        *selection,
        *(["--indirect-selection", params.indirect_selection] if params.indirect_selection else []),
        *project_args(project_dir, target_path),
        "--no-send-anonymous-usage-stats",
        # dbt would write manifest.json again after every command (~1 s for this project, the
        # manifest is the run's parse, unchanged); run_results.json is written below instead
        "--no-write-json",
        *extra_args,
    ]
    return DbtCommand(
        args=argv,
        manifest=dict(params.manifest),
        translator=params.dagster_dbt_translator,
        project=params.dbt_project,
        target_path=target_path,
    )


def answers_in_thread(
    run_id: str, args: Sequence[str], parse_args: Sequence[str], project_dir: Path, target_path: Path
) -> Iterator[tuple[str, Any]]:
    """The answers dbt's worker process gives (worker.py: ("log", text), ("event", a result event as a
    dict), then ("done", what failed or None)), with dbt in a thread of this process instead: the worker
    switched off, or none running (a step in a process of its own)."""
    answers: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        error = run_step_command(
            run_id,
            args,
            parse_args,
            project_dir,
            target_path,
            on_log=lambda text: answers.put(("log", text)),
            on_result=lambda event: answers.put(("event", event)),
            environment=contextlib.nullcontext,
        )
        answers.put(("done", error))

    thread = threading.Thread(target=run, name="dbt", daemon=True)
    thread.start()
    while True:
        kind, payload = answers.get()
        yield kind, payload
        if kind == "done":
            thread.join()
            return


def to_dagster_events(
    raws: Iterator[dict[str, Any]], command: DbtCommand, context: dg.AssetExecutionContext
) -> Iterator[Any]:
    """dbt's result events (as dicts) as Dagster events, then the test summaries still open."""
    summaries = TestSummaries.for_step(context, command.manifest)
    for raw in raws:
        if raw["info"]["name"] == "LogTestResult" and summaries.claims(raw["data"]["node_info"]["unique_id"]):
            # one check per model: the result is summarised with the model's other tests (data_tests.py)
            summary = summaries.add(outcome_of(raw))
            if summary is not None:
                yield summary
            continue
        message = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        yield from message.to_default_asset_events(
            manifest=command.manifest,
            dagster_dbt_translator=command.translator,
            context=context,
            target_path=command.target_path,
            project=command.project,
        )
    yield from summaries.remaining()  # before a failed build raises: the failed tests are shown


def stream_answers(
    answers: Iterator[tuple[str, Any]], command: DbtCommand, context: dg.AssetExecutionContext
) -> Iterator[Any]:
    """The Dagster events of a dbt command's answers (`answers_in_thread`, or the worker's), its notes in
    the step's log. Raises DagsterDbtCliRuntimeError after the last event when dbt did not succeed (a
    failed test, a model error), naming the failed nodes, as dagster-dbt's subprocess path does."""
    outcome: dict[str, str | None] = {}

    def raw_events() -> Iterator[dict[str, Any]]:
        for kind, payload in answers:
            if kind == "event":
                yield payload
            elif kind == "log":
                context.log.info(payload)
            elif kind == "done":
                outcome["error"] = payload

    yield from to_dagster_events(raw_events(), command, context)
    if outcome.get("error"):
        raise DagsterDbtCliRuntimeError(description=str(outcome["error"]))


@dataclass(frozen=True)
class DbtOutcome:
    """What a dbt command outside a Dagster step did: whether it succeeded, and its run_results.json."""

    success: bool
    target_path: Path

    @property
    def results(self) -> list[dict[str, Any]]:
        """run_results.json's "results": one per node the command ran."""
        path = self.target_path / "run_results.json"
        if not path.exists():
            return []
        return list(json.loads(path.read_text(encoding="utf-8"))["results"])


def run_command(
    args: Sequence[str],
    *,
    project_dir: Path,
    parse_args: Sequence[str],
    extra_args: Sequence[str] = (),
    raise_on_error: bool = True,
) -> DbtOutcome:
    """`dbt <args>` in this process, outside a Dagster step (tests, dbt by hand through the resource), on
    the cached parse when nothing it depends on changed (`cached_or_parsed`), like a run's dbt step: no
    interpreter start-up and no parse per command. Raises, naming the failed nodes, when dbt fails and
    `raise_on_error`."""
    target_path = project_dir / "target" / f"command-{uuid.uuid4().hex[:7]}"
    manifest, _ = cached_or_parsed(project_dir, target_path, parse_args)
    argv = [*args, *project_args(project_dir, target_path), "--no-send-anonymous-usage-stats", *extra_args]
    result = invoke(manifest, argv, target_path)
    # this command's folder is the newest: the caller may still read its run_results.json
    prune_target_folders(target_path.parent, COMMAND_TARGETS, KEEP_COMMAND_TARGETS)
    if raise_on_error:
        raise_unless_succeeded(result, argv)
    return DbtOutcome(success=bool(result.success), target_path=target_path)


def raise_unless_succeeded(result: Any, args: Sequence[str]) -> None:
    """DagsterDbtCliRuntimeError naming every failed node, when the dbt command did not succeed."""
    description = failure_description(result, args)
    if description is not None:
        raise DagsterDbtCliRuntimeError(description=description)
