"""Where a run starts: `run_quarters`, the one function that launches the Dagster job for the operator.

A run of quarters Q1..Qn is the scheduled job `quarterly_pipeline` launched once per quarter, on the
project's Dagster instance (so it shows in the UI's run history), every launch tagged with the same
`warehouse/build` so they all write one build file:

    Q1 … Qn-1   reference data (first launch only), ingestion, findings, the quarter's dbt models
    Qn          the same, then the annual dbt models, the release, its blocking checks, publishing and
                (unless told otherwise) the quarter's report

A single quarter — what an operator does after a late file — is one launch of the whole job. Nothing is
published unless every step of every launch succeeded; a failed run discards its build file.

While a launch runs (in this thread), a watcher thread reads its events from the instance's event log
(`DagsterInstance.get_records_for_run`, public API) and reports them to a `RunObserver`: step started
and finished, the ingest asset's progress lines ("ingest progress: 12/40 files", see
pipelines/defs/ingest/assets.py), every dbt model finished and every model's tests (materialisations
and the summary check evaluations of the dbt step, pipelines/defs/dbt/data_tests.py). Dagster's own
log lines go to a file under data/logs/ through the `run_file` logger selected in run config; library
logs and warnings go there through Python logging.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dagster as dg

from pipelines import runlock
from pipelines.cli.errors import ENVIRONMENT, RunFailedError, UserError, WarehouseLockedError
from pipelines.cli.history import history_without_syncs
from pipelines.defs.dbt import worker as dbt_worker
from pipelines.defs.resources import RUN_FILE_LOGGER
from pipelines.ingest import prefetch
from pipelines.ingest.discover import quarter_folders
from pipelines.ingest.reviews import REVIEWS_FOLDER
from pipelines.paths import (
    DUCKDB_ENV,
    PROJECT_ROOT,
    data_dir,
    deliverables_dir,
    landing_dir,
    new_log_path,
    output_to,
    quarter_keys,
)
from pipelines.publish.warehouse import BUILD_TAG, build_path, discard, layout

StageHook = Callable[[str, str | None, float], None]
# Stage of each asset group (the benchmark reads these names through `on_stage`).
GROUP_STAGES = {
    "reference": "reference",
    "ingest": "ingest",
    "quality": "findings",
    "publish": "publish",
    "report": "report",
    "deliverables": "deliverables",
}
INGEST_PROGRESS = re.compile(r"ingest progress: (\d+)/(\d+) files")
PUBLISH_STEP = "warehouse_publish"  # once it succeeded, analysts read the new release (or nothing changed)


class RunObserver(Protocol):
    """What the CLI's progress display (or a test, or the benchmark) is told while a run goes."""

    def launch(self, quarter: str, n_steps: int) -> None: ...
    def step_started(self, stage: str, step: str, total: int | None) -> None: ...
    def step_progress(self, stage: str, step: str, done: int, total: int | None) -> None: ...
    def step_finished(self, stage: str, step: str, seconds: float, ok: bool) -> None: ...


class QuietObserver:
    def launch(self, quarter: str, n_steps: int) -> None:
        pass

    def step_started(self, stage: str, step: str, total: int | None) -> None:
        pass

    def step_progress(self, stage: str, step: str, done: int, total: int | None) -> None:
        pass

    def step_finished(self, stage: str, step: str, seconds: float, ok: bool) -> None:
        pass


def dagster_home() -> Path:
    """$DAGSTER_HOME, else the project's .dagster/ (made with the project's dagster.yaml if missing)."""
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return home


def project_instance() -> dg.DagsterInstance:
    """The project's Dagster instance, opened from its folder (no environment variable is set)."""
    return dg.DagsterInstance.from_config(str(dagster_home()))


@contextlib.contextmanager
def python_logs_to(path: Path) -> Iterator[None]:
    """Library logs (dbt adapters, great-expectations, papermill …) and Python warnings into `path`
    instead of the terminal, for the duration."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s - %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # Loggers that print to the terminal on their own handlers would bypass the file.
    quiet = [logging.getLogger(name) for name in ("dagster", "papermill", "py.warnings")]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in quiet]
    for lg in quiet:
        lg.handlers = [handler]
        lg.propagate = False
    try:
        yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(saved_level)
        handler.close()


def landed_quarters() -> list[str]:
    """Quarter folders of the landing area; anything else there (a stray 备份 folder) is not a quarter."""
    return landing_folders()[0]


def landing_folders() -> tuple[list[str], list[str]]:
    """(quarter folders the pipeline knows, every other entry of the landing area with why it is ignored)."""
    from pipelines.defs.partitions import QUARTER_KEYS

    return quarter_folders(landing_dir(), QUARTER_KEYS)


# -- the plan: which launches, with which assets -----------------------------------------------------


@dataclass(frozen=True)
class AssetIndex:
    """The assets of the quarterly job by role, and the stage of every step."""

    reference: list[dg.AssetKey]
    partitioned: list[dg.AssetKey]  # ingestion, findings, quarter models (not the report)
    annual: list[dg.AssetKey]  # annual models and publishing: unpartitioned, after every quarter
    report: list[dg.AssetKey]
    deliverables: list[dg.AssetKey]  # written from the published warehouse: after publishing
    stage_of_step: dict[str, str]
    dbt_nodes: dict[str, int]  # dbt step → models + tests it runs (the progress bar's total)
    stage_of_asset: dict[str, str]  # asset key as a Python identifier → stage (for check steps)


def asset_index(defs: dg.Definitions) -> AssetIndex:
    # loads the dbt manifest: only for a run
    from pipelines.defs.deliverables.assets import DELIVERABLES_KEY, REVIEWS_KEY
    from pipelines.defs.ingest.checks import gx_suites_on_raw_tables

    reference: list[dg.AssetKey] = []
    partitioned: list[dg.AssetKey] = []
    annual: list[dg.AssetKey] = []
    report: list[dg.AssetKey] = []
    deliverables: list[dg.AssetKey] = []
    stage_of_step: dict[str, str] = {}
    dbt_nodes: dict[str, int] = {}
    stage_of_asset: dict[str, str] = {}
    for spec in defs.resolve_all_asset_specs():
        assets_def = defs.resolve_assets_def(spec.key)
        step = assets_def.node_def.name
        is_dbt = "dbt" in spec.kinds
        stage = "dbt" if is_dbt else GROUP_STAGES.get(spec.group_name or "", spec.group_name or "other")
        if spec.key == REVIEWS_KEY:  # read before dbt applies the decisions: a stage of its own
            stage = "reviews"
        stage_of_step[step] = stage
        stage_of_asset[spec.key.to_python_identifier()] = stage
        if is_dbt:
            dbt_nodes[step] = len(assets_def.keys) + len(assets_def.check_keys)
        if stage == "reference":
            reference.append(spec.key)
        elif stage == "report":
            report.append(spec.key)
        elif spec.key == DELIVERABLES_KEY:
            deliverables.append(spec.key)
        elif spec.partitions_def is not None:
            partitioned.append(spec.key)
        else:
            annual.append(spec.key)
    # The GX suites run as one multi-asset check step after ingestion: a stage of its own, so its
    # seconds are neither hidden in "other" nor added to ingestion's.
    stage_of_step[gx_suites_on_raw_tables.node_def.name] = "validation"
    return AssetIndex(
        reference, partitioned, annual, report, deliverables, stage_of_step, dbt_nodes, stage_of_asset
    )


SPLIT_STEP = re.compile(r"(.+)_(\d+)")


def base_step(step: str, known: dict[str, str]) -> str:
    """The asset's own step name for a step Dagster split off it (`<name>_2`, …): a subsettable
    multi-asset runs as several steps when other assets of the run sit between its assets."""
    if step in known:
        return step
    m = SPLIT_STEP.fullmatch(step)
    return m.group(1) if m and m.group(1) in known else step


@dataclass(frozen=True)
class Launch:
    quarter: str
    assets: list[dg.AssetKey]
    publishes: bool


def plan_launches(
    index: AssetIndex,
    quarters: Sequence[str],
    report_quarters: Sequence[str],
    also_deliver: Sequence[str] = (),
) -> list[Launch]:
    """One launch per quarter; the last also builds the annual models, publishes and writes its
    deliverables. The other quarters' deliverables (and reports, rare: a re-render), and those of
    `also_deliver` (quarters outside the command whose files the run changes: others_to_deliver), are
    written from the published warehouse by short launches after it."""
    plan: list[Launch] = []
    last = quarters[-1]
    for i, quarter in enumerate(quarters):
        assets = (index.reference if i == 0 else []) + index.partitioned
        if quarter == last:
            report = index.report if quarter in report_quarters else []
            assets = assets + index.annual + report + index.deliverables
        plan.append(Launch(quarter, assets, publishes=quarter == last))
    for quarter in quarters[:-1]:
        report = index.report if quarter in report_quarters else []
        if report or index.deliverables:
            plan.append(Launch(quarter, report + index.deliverables, publishes=False))
    plan += [Launch(q, index.report, publishes=False) for q in report_quarters if q not in quarters]
    if index.deliverables:
        plan += [Launch(q, index.deliverables, publishes=False) for q in also_deliver if q not in quarters]
    return plan


def others_to_deliver(quarters: Sequence[str]) -> list[str]:
    """Quarters outside the command whose deliverables it changes. Every quarter's folder holds its
    year's cadre list and annual results, which a run of any quarter of the year rebuilds; and a review
    decision about any quarter (landing/<q>/_reviews) is applied by whichever run comes next. Only
    quarters that have deliverables already: the others get theirs when they are run. A quarter
    whose files nothing changed costs a plan and its fingerprints (the writer carries files over)."""
    years = {quarter[:4] for quarter in quarters}
    delivered = deliverables_dir()
    if not delivered.is_dir():
        return []
    known = set(quarter_keys())  # once: it reads the rules folder
    found = sorted(p.name for p in delivered.iterdir() if p.is_dir() and p.name in known)
    return [
        q
        for q in found
        if q not in quarters and (q[:4] in years or (landing_dir() / q / REVIEWS_FOLDER).is_dir())
    ]


# -- watching a launch -------------------------------------------------------------------------------


@dataclass
class _StepState:
    stage: str
    started: float
    done: int = 0


@dataclass
class Watcher:
    """Follows a run's events as the instance stores them, and tells the observer.

    The instance calls `_on_event` with each event of the run right after storing it, in the thread that
    stored it (`DagsterInstance.add_event_listener`; `execute_in_process` stores from the run's own
    thread). This used to be a thread polling the event log every 0.3 s: a SQLite read and the
    deserialisation of every new event, competing with the run for the interpreter, and the operator
    (and the benchmark's moment of publication) learnt of each step up to 0.3 s late. The watcher only
    reports: an error in it (the observer's output gone, say) never reaches the run it watches.
    """

    instance: dg.DagsterInstance
    run_id: str
    index: AssetIndex
    observer: RunObserver
    on_stage: StageHook | None
    quarter: str
    steps: dict[str, _StepState] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    succeeded: set[str] = field(default_factory=set)
    _listening: bool = False

    def __enter__(self) -> Watcher:
        self._listening = True
        self.instance.add_event_listener(self.run_id, self._on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        # The instance keeps its listeners as long as it lives (there is no call to remove one): this
        # one goes quiet instead. A run id is never reused, so nothing else reaches it.
        self._listening = False

    def _on_event(self, entry: dg.EventLogEntry) -> None:
        if self._listening:
            with contextlib.suppress(Exception):
                self._handle(entry)

    def _handle(self, entry: dg.EventLogEntry) -> None:
        step = entry.step_key
        event = entry.dagster_event
        if step is None:
            return
        base = base_step(step, self.index.stage_of_step)
        stage = self.index.stage_of_step.get(base) or self._check_stage(step)
        if event is None:  # a plain log line of the step: the ingest asset's progress
            m = INGEST_PROGRESS.search(entry.user_message or "")
            if m and step in self.steps:
                self.observer.step_progress(stage, step, int(m.group(1)), int(m.group(2)))
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.steps[step] = _StepState(stage, entry.timestamp)
            self.observer.step_started(stage, step, self.index.dbt_nodes.get(base))
        elif kind in ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION") and base in self.index.dbt_nodes:
            state = self.steps.get(step)
            if state is not None:
                state.done += 1
                self.observer.step_progress(stage, step, state.done, self.index.dbt_nodes[base])
            if kind == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
                self.failed_checks.extend(failed_rules(event.asset_check_evaluation_data))
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.asset_check_evaluation_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                self.failed_checks.append(data.check_name)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            state = self.steps.get(step)
            seconds = entry.timestamp - state.started if state else 0.0
            ok = kind == "STEP_SUCCESS"
            if ok:
                self.succeeded.add(step)
            else:
                self.failures.append(f"{step}: {_first_line(event)}")
            self.observer.step_finished(stage, step, seconds, ok)
            if ok and self.on_stage is not None:
                self.on_stage(
                    stage,
                    self.quarter if stage in ("ingest", "validation", "findings", "report") else None,
                    seconds,
                )

    def _check_stage(self, step: str) -> str:
        """An asset check that runs as a step of its own (step key `<asset key>_<check>`) belongs to the
        stage of the asset it checks."""
        matches = [a for a in self.index.stage_of_asset if step.startswith(a + "_")]
        return self.index.stage_of_asset[max(matches, key=len)] if matches else "other"


# What Dagster wraps a step's own exception in; the operator needs what the step raised.
STEP_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})
# The project's refusals of the operator's own files, labelled in Chinese (their text is English).
REFUSALS_ZH = {"RulesError": "规则文件有误", "RegistryError": "单位名录有误"}
MAX_FAILURE_CHARS = 600
INTERRUPTED = "DagsterExecutionInterruptedError"  # a step stopped by SIGINT
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(event: dg.DagsterEvent) -> str:
    """What made a step fail, in its own words, on one line: the outermost exception that is not Dagster's
    wrapper (`Error occurred while executing op ...`). Not the innermost cause: the project's own error
    (a refused rules file, naming the file) is raised from the library's (tomllib's, naming a line)."""
    error = getattr(event.event_specific_data, "error", None)
    cause = error
    while cause is not None:  # a DuckDB lock conflict anywhere in the chain is what to tell (_failure)
        if locked_file(cause.message or ""):
            return failure_text(cause.message)
        cause = cause.cause
    while error is not None and error.cls_name in STEP_WRAPPERS and error.cause is not None:
        error = error.cause
    text = (error.message if error is not None else event.message) or ""
    return failure_text(text, error.cls_name if error is not None else None)


def failure_text(text: str, cls_name: str | None = None) -> str:
    """One line from an exception's message: its first line (the rest is detail for the log), except for
    a refusal of the operator's files, whose problems follow on the next lines and are joined to it,
    under a Chinese label and without the module path."""
    text = ANSI_ESCAPE.sub("", text)  # dbt colours its unit test diffs
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    first = lines[0]
    if cls_name not in REFUSALS_ZH or not re.match(rf"pipelines\.[\w.]*\b{cls_name}: ", first):
        return first[:MAX_FAILURE_CHARS]
    first = f"{REFUSALS_ZH[cls_name]} {first.split(': ', 1)[1]}"
    listed = [line.removeprefix("- ") for line in lines[1:]]
    joined = " ".join([first, "; ".join(listed)]) if listed else first
    return joined if len(joined) <= MAX_FAILURE_CHARS else joined[: MAX_FAILURE_CHARS - 1] + "…"


LOCK_HINT = re.compile(
    r"Could not set lock on file \"?([^\"\n:]+)\"?.*?(PID \d+)?", re.IGNORECASE | re.DOTALL
)


def locked_file(text: str) -> str | None:
    """The file named in a DuckDB lock conflict message, if `text` is one."""
    if "lock" not in text.lower() or "conflicting lock" not in text.lower():
        return None
    m = LOCK_HINT.search(text)
    return m.group(1) if m else "the warehouse"


# -- the run ------------------------------------------------------------------------------------------


def run_quarters(
    quarters: Sequence[str],
    progress: Callable[[str], None] = print,
    on_stage: StageHook | None = None,
    report_quarters: Sequence[str] | None = None,
    observer: RunObserver | None = None,
    log_path: Path | None = None,
) -> Path:
    """`_run_quarters` holding the data directory's run lock throughout: a second writer is refused at
    once (runlock.RunLockedError names the running one) before anything is read or written."""
    with runlock.hold(data_dir()), history_without_syncs(dagster_home()), command_collector() as settle:
        log_path = log_path or new_log_path()
        # Archiving and parsing need neither Dagster's instance nor dbt: they start now, in a process of
        # their own, on the core the next 2-3 s of loading leave idle (pipelines/ingest/prefetch.py).
        head_start = prefetch.start(quarters, data_dir(), log_path) if _may_publish(quarters) else None
        if _may_publish(quarters):
            # dbt's process, likewise: its imports and the cached parse load on that core too (worker.py)
            with log_path.open("a", encoding="utf-8") as output:
                dbt_worker.start(output)
        try:
            instance = _readable_instance()  # opened once: each opening reads every storage's schema version
            _refuse_if_dagster_writes(instance)  # imports dbt, dagster-dbt and the definitions' modules
            return _run_quarters(
                instance, settle, quarters, progress, on_stage, report_quarters, observer, log_path
            )
        finally:
            prefetch.stop(head_start)


def _readable_instance() -> dg.DagsterInstance:
    """The project's instance, its run history read once: a history file that is no SQLite database any
    more (damaged by hand, a disk error) is one line for the operator, not SQLAlchemy's traceback."""
    from sqlalchemy.exc import DatabaseError  # Dagster's storage layer: already loaded with dagster

    try:
        instance = project_instance()
        instance.get_runs(limit=1)
    except DatabaseError as exc:
        raise UserError(
            f"Dagster 运行记录无法读取 Dagster's run history cannot be read ({dagster_home()}): "
            f"{str(exc.orig).splitlines()[0][:200]}; move that folder aside and run again "
            "(it holds the runs' history, not the warehouse)",
            ENVIRONMENT,
        ) from None
    return instance


def _may_publish(quarters: Sequence[str]) -> bool:
    """What `_run_quarters` refuses at once is not prefetched."""
    return bool(quarters) and not os.environ.get(DUCKDB_ENV)


def _refuse_if_dagster_writes(instance: dg.DagsterInstance) -> None:
    """A Dagster run started from the UI or the daemon holds the lock during its ingest step only: one
    past it (building, publishing) is found in the instance's run list instead."""
    from pipelines.defs.automation.sensors import running_writers

    _fail_abandoned_command_runs(instance)
    busy = running_writers(instance, BUILD_TAG)
    if busy:
        raise runlock.RunLockedError(
            data_dir(), None, f"{busy[0]}; if it is dead, mark it failed or terminated in the Dagster UI"
        )


DATA_DIR_TAG = "assessment/data_dir"  # on the operator command's runs: the data directory it locked


def _fail_abandoned_command_runs(instance: dg.DagsterInstance) -> None:
    """Runs an earlier operator command started on this data directory (tag DATA_DIR_TAG) that still
    read as running: this command holds the directory's run lock, so their process is gone (killed
    outright, say by the out-of-memory killer, before Dagster could record the end). Left as they are,
    the sensor would skip their quarter and queued runs would wait on them for good, so they are marked
    failed. Commands on other data directories may share the Dagster instance: their runs are left."""
    from pipelines.defs.automation.sensors import RUNNING

    here = str(data_dir().resolve())
    for stale in instance.get_runs(filters=dg.RunsFilter(statuses=RUNNING, tags={DATA_DIR_TAG: here})):
        instance.report_run_failed(stale, "its command ended without recording it (found by a later run)")


def _run_quarters(
    instance: dg.DagsterInstance,
    settle: Callable[[], None],
    quarters: Sequence[str],
    progress: Callable[[str], None] = print,
    on_stage: StageHook | None = None,
    report_quarters: Sequence[str] | None = None,
    observer: RunObserver | None = None,
    log_path: Path | None = None,
) -> Path:
    """Ingest and rebuild `quarters`, rebuild the annual models, publish, render the report of the last
    quarter (or of `report_quarters`); return the published analyst file. Nothing is published if any
    step fails: the build is discarded and RunFailedError (or WarehouseLockedError) is raised.

    Only through run_quarters, which holds the one-writer lock."""
    if not quarters:
        raise ValueError("no quarter to run")
    if os.environ.get(DUCKDB_ENV):
        # A pinned file would make the runs write it and publish nothing from the run's own build.
        raise RunFailedError(f"{DUCKDB_ENV} is set: unset it for a run that publishes")
    from pipelines.definitions import defs as load_defs
    from pipelines.defs.automation.jobs import QUARTERLY_JOB  # loads the dbt manifest: only for a run

    observer = observer or QuietObserver()
    reports = list(quarters)[-1:] if report_quarters is None else list(report_quarters)
    log_path = log_path or new_log_path()
    defs = load_defs()
    job = defs.resolve_job_def(QUARTERLY_JOB)
    index = asset_index(defs)
    settle()
    return _launch_all(instance, job, index, quarters, progress, on_stage, reports, observer, log_path)


@contextlib.contextmanager
def command_collector() -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector for one command: off while it starts, then leaving alone what
    the start made; yields `settle`, to call once the definitions are built.

    The start imports Dagster's storages, dbt and dagster-dbt and builds the definitions: ~500,000
    objects, most of them alive as long as the process. With the collector on, ~4 full collections
    walked them meanwhile, 0.4 s of a city resubmission's 2 s start (docs/benchmark.md, eighth session).
    `settle` freezes everything that exists then, the start's ~190,000 garbage objects (tens of MB)
    included, and turns the collector back on: during the run a collection walks only what the run made
    (before the freeze, ~11 full collections walked dbt and Dagster again and again, 2.7-4.5 s of CPU;
    fourth session). Freezing before turning it back on also spares the run one young-generation pass
    over all the start's objects. Garbage the run makes is collected as usual. At the end everything is
    unfrozen, and the collector is as the caller had it, so a process running many commands (tests)
    gets all of it collectable again.
    """
    enabled = gc.isenabled()
    gc.disable()

    def settle() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield settle
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


def _launch_all(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    index: AssetIndex,
    quarters: Sequence[str],
    progress: Callable[[str], None],
    on_stage: StageHook | None,
    reports: list[str],
    observer: RunObserver,
    log_path: Path,
) -> Path:
    """Every launch of the plan, in order; nothing published unless all succeed (see _run_quarters)."""
    lay = layout()
    build_id = uuid.uuid4().hex[:12]
    run_config = {
        "loggers": {"run_file": {"config": {"path": str(log_path), "log_level": "DEBUG"}}},
        "resources": {"paths": {"config": {"data_dir": str(data_dir())}}},
    }
    progress(f"运行日志 run log (Dagster, dbt): {log_path}")
    published = False
    try:
        with python_logs_to(log_path), output_to(log_path):
            for launch in plan_launches(index, list(quarters), reports, others_to_deliver(quarters)):
                observer.launch(launch.quarter, len(launch.assets))
                run_id = str(uuid.uuid4())
                with Watcher(instance, run_id, index, observer, on_stage, launch.quarter) as watcher:
                    result = job.execute_in_process(
                        run_config=run_config,
                        instance=instance,
                        partition_key=launch.quarter,
                        asset_selection=launch.assets,
                        run_id=run_id,
                        tags={BUILD_TAG: build_id, DATA_DIR_TAG: str(data_dir().resolve())},
                        raise_on_error=False,
                    )
                published = published or PUBLISH_STEP in watcher.succeeded
                if any(INTERRUPTED in failure for failure in watcher.failures):
                    # Ctrl-C reached the step, which Dagster reports as its failure: the operator
                    # stopped the run, which is what the command says (one line, exit 130)
                    raise KeyboardInterrupt
                if not result.success:
                    raise _failure(launch.quarter, run_id, watcher, log_path, published)
    except BaseException:
        if not published:
            discard(build_path(build_id, lay))
            progress(f"运行失败，已发布的仓库未变 run failed, {lay.published} is unchanged")
        raise
    finally:
        _close_run_log(log_path)
    return lay.published


def failed_rules(evaluation: dg.AssetCheckEvaluation) -> list[str]:
    """What a failed check of a dbt step names: the model's failed dbt tests, which its one summary check
    lists in its metadata (pipelines/defs/dbt/data_tests.py), else the check itself."""
    # imported here: the module loads dagster-dbt (~2 s), already loaded by the time a dbt step reports
    from pipelines.defs.dbt.data_tests import FAILED_TESTS

    failed = evaluation.metadata.get(FAILED_TESTS)
    if isinstance(failed, dg.JsonMetadataValue) and isinstance(failed.value, list) and failed.value:
        return [str(name) for name in failed.value]
    return [evaluation.check_name]


def _close_run_log(path: Path) -> None:
    """Close the file the `run_file` logger opened for this command (pipelines/defs/resources.py)."""
    logger = logging.getLogger(f"{RUN_FILE_LOGGER}.{path}")
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
        handler.close()


def _failure(quarter: str, run_id: str, watcher: Watcher, log_path: Path, published: bool) -> Exception:
    for failure in watcher.failures:
        path = locked_file(failure)
        if path is not None:
            return WarehouseLockedError(path)
    if watcher.failures:
        why = watcher.failures[0]
    elif watcher.failed_checks:
        why = "blocking checks failed: " + ", ".join(sorted(set(watcher.failed_checks)))
    else:
        why = "a step did not run"
    where = f"(run {run_id[:8]} in the Dagster UI; log {log_path})"
    return RunFailedError(f"{quarter}: {why} {where}", published=published)
