"""dbt's programmatic API without Dagster: the parse cache, one command, releasing DuckDB (issue 16).

What dbt needs to run a command in a long-lived process, shared by the two places dbt runs: a Dagster
step's own process (inprocess.py: with no worker running; commands outside a step) and dbt's worker
process (worker.py), which imports this module and not Dagster, so that it is ready sooner.

- The run's parse (`run_manifest`): loaded from the parse cache when nothing it depends on changed
  (`parse_key`), else parsed (a partial parse seeded from target/partial_parse.msgpack), and reused by the
  run's second dbt step. dbt's `dbtRunner` takes a parsed manifest (docs.getdbt.com/reference/
  programmatic-invocations, "Reusing objects").
- One command at a time in a process (`invoke`: dbt's global flags and adapter registry are per
  process), its run_results.json written, and dbt-duckdb's DuckDB handle, which it keeps open after a
  command (`keep_open`), closed when the command returns (`close_duckdb`): the findings and publishing
  then open the file with other settings.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import hashlib
import importlib.metadata
import io
import os
import pickle
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


class DbtParseError(RuntimeError):
    """dbt could not parse the project."""


# dbt's structured events that carry a node's result: the ones dagster-dbt turns into Dagster events.
RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


# One dbt command at a time in this process (dbt's global flags and adapter registry are per process).
_DBT_LOCK = threading.Lock()


def project_args(project_dir: Path, target_path: Path) -> list[str]:
    """Where dbt finds the project and profile and writes its artifacts and log (the subprocess path
    set these through DBT_* environment variables)."""
    return [
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(target_path),
        "--log-path", str(target_path),
    ]  # fmt: skip


def parse_project(
    project_dir: Path, target_path: Path, parse_args: Sequence[str], *, write_json: bool = False
) -> Any:
    """dbt's parsed Manifest object (partial parse when target_path holds a valid cache)."""
    from dbt.cli.main import dbtRunner  # dbt's imports cost ~1.5 s: paid by runs that build only

    with _DBT_LOCK:
        try:
            # partial_parse.msgpack is always written (the next partial parse); manifest.json only when
            # asked: in a run, Dagster's definitions read the one `make env` prepared
            json_flag = "--write-json" if write_json else "--no-write-json"
            argv = ["parse", json_flag, *project_args(project_dir, target_path), *parse_args]
            outcome = dbtRunner().invoke(argv)
        finally:
            close_duckdb()
    if not outcome.success:
        raise DbtParseError(f"dbt parse failed: {outcome.exception}")
    return outcome.result


def run_step_command(
    run_id: str,
    args: Sequence[str],
    parse_args: Sequence[str],
    project_dir: Path,
    target_path: Path,
    *,
    on_log: Callable[[str], None],
    on_result: Callable[[dict[str, Any]], None],
    environment: Callable[[], contextlib.AbstractContextManager[None]],
) -> str | None:
    """One command of a Dagster step, in dbt's worker process or a thread of the step's: the run's parse
    (`run_manifest`), dbt `args` on it, each result event handed to `on_result` as a dict, all inside
    `environment()` (in the worker: the step's variables and folder, dbt's console lines into its log).
    Returns what failed (`failure_description`, or the exception that stopped it), None on success."""
    from dbt_common.events.functions import msg_to_dict

    def collect(event: Any) -> None:
        # Called on dbt's threads for every event (~1,900 on a city build, SQL text included): only
        # the results are handed on, the rest is dbt's own logging.
        if event.info.name in RESULT_EVENTS:
            on_result(msg_to_dict(event))

    try:
        with environment():
            manifest = run_manifest(run_id, project_dir, target_path, parse_args, on_log)
            result = invoke(manifest, args, target_path, callbacks=[collect])
    except BaseException as failure:  # the step reports it, in its log and its failure
        return f"{type(failure).__name__}: {failure}"
    return failure_description(result, args)


def invoke(
    manifest: Any, argv: Sequence[str], target_path: Path, callbacks: Sequence[Callable[[Any], None]] = ()
) -> Any:
    """dbt `argv` on the parsed `manifest`, one command at a time in this process: its run_results.json
    written into `target_path`, and dbt-duckdb's DuckDB released afterwards, whatever happened."""
    from dbt.cli.main import dbtRunner

    with _DBT_LOCK:
        try:
            result = dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(list(argv))
            write_run_results(result, target_path)
            return result
        finally:
            close_duckdb()


def write_run_results(result: Any, target_path: Path) -> None:
    """run_results.json in the command's target folder, as dbt writes it (what each node did and how long
    it took: the benchmark's floor and anyone debugging a slow build read it)."""
    if hasattr(result.result, "write"):
        target_path.mkdir(parents=True, exist_ok=True)
        result.result.write(str(target_path / "run_results.json"))


def failure_description(result: Any, args: Sequence[str]) -> str | None:
    """Every failed node of a dbt command that did not succeed, one per line; None when it succeeded."""
    if result.success:
        return None
    failures = [
        f"{r.node.unique_id}: {r.status} — {r.message}"
        for r in getattr(result.result, "results", None) or []
        if str(r.status) in FAILED_STATUSES
    ]
    detail = "\n".join(failures) or str(result.exception or "dbt reported no result")
    return f"dbt {' '.join(args[:1])} failed:\n{detail}"


def close_duckdb() -> None:
    """Release dbt-duckdb's DuckDB instance so the file can be opened again with other settings.

    dbt-duckdb keeps the environment of the last command (its DuckDB connection) in a class attribute
    for its next command. Its connection is closed here, explicitly: closing a DuckDB connection closes
    the cursors made from it, so the file is free whoever still holds the environment object. (A full
    garbage collection used to end any reference cycle instead: 0.2-0.4 s per dbt step, walking
    everything the run had made, dbt's modules and the parsed manifest included.)
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    environment = current_duckdb_environment()
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def current_duckdb_environment() -> Any | None:
    """dbt-duckdb's environment (the DuckDB connection its commands share), None before any command."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        return DuckDBConnectionManager.env()
    except Exception:  # dbt-duckdb raises a bare Exception when no command has made one
        return None


# The parse of the current run: (run id, dbt args that shape the parse) → dbt's Manifest. One entry, so a
# long-lived process (dagster dev) never reuses a parse across runs, where the project may have changed.
_run_parse: dict[tuple[str, str], Any] = {}
PARTIAL_PARSE = "partial_parse.msgpack"
PARSED_NOTE = "dbt: parsed the project for this run"
CACHED_NOTE = "dbt: the project is unchanged, reusing its cached parse"
REUSED_NOTE = "dbt: reusing this run's parse"
# The last parse on disk, keyed by everything it was made from (`parse_key`): a run whose key matches
# starts from it instead of asking dbt, whose partial parse still reads and hashes every project file,
# re-renders the changed ones and checks the macros (~0.5-1.5 s against ~0.05 s to load this).
PARSE_CACHE_PREFIX = "parsed-manifest-"
# Parses kept: one per set of parse args in use, e.g. the city's and a province's registry, or a demo and
# a real data folder (each ~2 MB). With only the newest kept, running the two by turns parsed every time
# (3 s on the city).
KEPT_PARSES = 4
# Files dbt writes into the project folder itself; none of them shapes a parse.
_NOT_PROJECT_SOURCES = frozenset({"target", "logs", "dbt_packages"})
# dbt's own settings (DBT_*) can shape a parse, and so can whatever the project reads with env_var().
_DBT_ENV_PREFIX = "DBT_"
ENV_VAR_CALL = re.compile(rb"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
# Variables the project reads whose values never reach a parse made for the dbt resource: each is the
# fallback of a var the resource passes to the parse (ASSESSMENT_DUCKDB: of duckdb_path), or fills only a
# connection setting or SQL run at execution (the data folder: file_search_path and the macros' globs;
# ASSESSMENT_REGISTRY_CSV: the registry stg_units reads; ASSESSMENT_DUCKDB_MEMORY: memory_limit). They
# differ from one data folder to the next, so keying on them would make every new folder parse again
# for nothing.
RUN_TIME_ENV = frozenset(
    {"ASSESSMENT_DATA_DIR", "ASSESSMENT_DUCKDB", "ASSESSMENT_REGISTRY_CSV", "ASSESSMENT_DUCKDB_MEMORY"}
)


def project_files(project_dir: Path) -> list[Path]:
    """Every file dbt could read while parsing: the project folder without the folders dbt writes.

    The walk never enters those folders: target/ holds every recent run's compiled SQL (thousands of
    files), and listing them cost more than hashing the project itself."""
    files: list[Path] = []
    for folder, subfolders, names in os.walk(project_dir):
        if Path(folder) == project_dir:
            subfolders[:] = [d for d in subfolders if d not in _NOT_PROJECT_SOURCES]
        files.extend(Path(folder, name) for name in names)
    return sorted(files)


def parse_env(names: set[str], environ: Mapping[str, str]) -> dict[str, str | None]:
    """The environment a parse can depend on: every DBT_* variable, and each of `names` (the ones the
    project reads with env_var()) but RUN_TIME_ENV, unset ones as None."""
    keyed = {name: environ.get(name) for name in names - RUN_TIME_ENV}
    keyed.update({k: v for k, v in environ.items() if k.startswith(_DBT_ENV_PREFIX)})
    return dict(sorted(keyed.items()))


def parse_key(project_dir: Path, parse_args: Sequence[str], environ: Mapping[str, str]) -> str:
    """A hash of what a dbt parse depends on: the project's files (names and contents, profiles.yml
    included), the args the parse is given (the vars), the environment it can read (`parse_env`), and
    the dbt and Python versions. Any change to any of them gives another key, hence a real parse."""
    digest = hashlib.sha256()
    for name in ("dbt-core", "dbt-duckdb"):
        digest.update(f"{name}={importlib.metadata.version(name)}\0".encode())
    digest.update(f"python={sys.version}\0".encode())
    digest.update("\0".join(parse_args).encode() + b"\1")
    read_by_project: set[str] = set()
    for path in project_files(project_dir):
        content = path.read_bytes()
        read_by_project.update(m.decode() for m in ENV_VAR_CALL.findall(content))
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(content).digest())
    for name, value in parse_env(read_by_project, environ).items():
        digest.update(f"{name}={value}\0".encode() if value is not None else f"{name}\1".encode())
    return digest.hexdigest()


def _manifest_fields(manifest: Any) -> dict[str, Any]:
    """dbt's Manifest as its public dataclass fields. Its private ones are caches and lookups it rebuilds
    on first use, and a lock. (dbt-core 1.11's own `Manifest.__reduce_ex__` passes its fields by position
    and misses `fixtures`, so every later one lands in the wrong place: it cannot be pickled as is.)"""
    fields = dataclasses.fields(manifest)
    return {f.name: getattr(manifest, f.name) for f in fields if not f.name.startswith("_")}


def _rebuild_manifest(cls: type, fields: dict[str, Any]) -> Any:
    return cls(**fields)


def manifest_bytes(manifest: Any) -> bytes:
    """`manifest` pickled field by field (see _manifest_fields)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {
        **copyreg.dispatch_table,
        type(manifest): lambda m: (_rebuild_manifest, (type(m), _manifest_fields(m))),
    }
    pickler.dump(manifest)
    return buffer.getvalue()


# A parse loaded ahead by the worker process (`preload_cached_parse`): (cache folder, key) → Manifest.
_preloaded: dict[tuple[Path, str], Any] = {}


def preload_cached_parse(cache_dir: Path) -> None:
    """Load the cache's most recently used parse now, before anyone asks (the worker process, while the
    run starts): the first `load_cached_parse` with its key then takes it (~0.2 s for the city's project)
    instead of reading it; a different key reads as before."""
    cached = _by_last_use(cache_dir)
    if not cached:
        return
    key = cached[0].name.removeprefix(PARSE_CACHE_PREFIX).removesuffix(".pickle")
    manifest = load_cached_parse(cache_dir, key)
    if manifest is not None:
        _preloaded[(cache_dir.resolve(), key)] = manifest


def load_cached_parse(cache_dir: Path, key: str) -> Any | None:
    """The Manifest a previous run parsed with the same key, or None (none, or unreadable). A parse
    preloaded with this key is taken once (a build fills in its nodes' SQL: the next run reads anew).
    A parse found is marked as just used, so that `store_parse` keeps it."""
    path = cache_dir / f"{PARSE_CACHE_PREFIX}{key}.pickle"
    preloaded = _preloaded.pop((cache_dir.resolve(), key), None)
    if preloaded is not None:
        _mark_used(path)
        return preloaded
    try:
        with path.open("rb") as stream:
            manifest = pickle.load(stream)  # written by store_parse below, never from outside
    except Exception:  # none yet, or unreadable: parse, and store_parse replaces it
        return None
    _mark_used(path)
    return manifest


def _mark_used(path: Path) -> None:
    with contextlib.suppress(OSError):  # removed meanwhile by another run's store_parse: nothing to keep
        os.utime(path)


def _by_last_use(cache_dir: Path) -> list[Path]:
    """The cached parses, the most recently used (or stored) first."""
    dated = []
    for path in cache_dir.glob(f"{PARSE_CACHE_PREFIX}*.pickle"):
        with contextlib.suppress(FileNotFoundError):
            dated.append((path.stat().st_mtime, path))
    return [path for _, path in sorted(dated, reverse=True)]


def store_parse(cache_dir: Path, key: str, manifest: Any) -> None:
    """Keep `manifest` for the next run with the same key, beside the KEPT_PARSES - 1 parses used last."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{PARSE_CACHE_PREFIX}{key}.pickle"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:7]}.tmp")
    tmp.write_bytes(manifest_bytes(manifest))
    tmp.replace(path)  # atomic: a run reading the cache never sees half a file
    for old in _by_last_use(cache_dir)[KEPT_PARSES:]:
        old.unlink(missing_ok=True)


def run_manifest(
    run_id: str, project_dir: Path, target_path: Path, parse_args: Sequence[str], log: Callable[[str], None]
) -> Any:
    """The run's parsed manifest: taken from the parse cache when nothing it depends on changed, else
    parsed by the run's first dbt step (partial parse seeded from the shared target/partial_parse.msgpack,
    as dagster-dbt seeds its subprocesses); reused by the run's other dbt steps.

    `parse_args` are the args the parse is made with: only what shapes the manifest (the resource's
    `parse_vars`), never the run's data folder or build file, so the commands may run with other vars."""
    key = (run_id, "\0".join(parse_args))
    if key in _run_parse:
        log(REUSED_NOTE)
        return _run_parse[key]
    started = time.perf_counter()
    manifest, parsed = cached_or_parsed(project_dir, target_path, parse_args)
    seconds = time.perf_counter() - started
    log(f"{PARSED_NOTE} in {seconds:.1f} s" if parsed else f"{CACHED_NOTE} ({seconds:.2f} s)")
    _run_parse.clear()
    _run_parse[key] = manifest
    return manifest


def cached_or_parsed(
    project_dir: Path, target_path: Path, parse_args: Sequence[str], *, write_json: bool = False
) -> tuple[Any, bool]:
    """(the Manifest, whether dbt parsed it now): the parse cache's when its key matches (and no
    manifest.json is asked for), else a parse in `target_path`, which then becomes the cache."""
    cache_dir = project_dir / "target"
    digest = parse_key(project_dir, parse_args, os.environ)
    manifest = None if write_json else load_cached_parse(cache_dir, digest)
    if manifest is not None:
        return manifest, False
    shared = cache_dir / PARTIAL_PARSE
    target_path.mkdir(parents=True, exist_ok=True)
    if shared.exists():
        shutil.copyfile(shared, target_path / PARTIAL_PARSE)
    manifest = parse_project(project_dir, target_path, parse_args, write_json=write_json)
    # stored before any command runs: dbt fills in nodes' compiled SQL on the object as it builds
    store_parse(cache_dir, digest, manifest)
    return manifest, True


# -- per-command target folders ------------------------------------------------------------------------

# Each dbt command writes into a target folder of its own under dbt_project/target/ (its compiled SQL,
# run_results.json, dbt.log: ~200 files, several MB): a run's steps (`<step>-<run>-<id>`, inprocess.py)
# and commands outside a step (`command-<id>`: tests, dbt by hand through the resource). Only the newest
# of each kind are kept; without pruning a developer's checkout gathered 123 `command-` folders (1.7 GB)
# from its test sessions.
RUN_TARGETS = "warehouse_*_models-*"
COMMAND_TARGETS = "command-*"


def old_target_folders(target_root: Path, pattern: str, keep: int) -> list[Path]:
    """The folders of `target_root` matching `pattern` but the `keep` newest (by modification time)."""
    dated = []
    for path in target_root.glob(pattern):
        try:
            dated.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # removed meanwhile by an earlier pruning, or another process's
            continue
    folders = [path for _, path in sorted(dated, reverse=True) if path.is_dir()]
    return folders[keep:]


def remove_folders(folders: Sequence[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)  # another process may be pruning the same folder


def prune_target_folders(target_root: Path, pattern: str, keep: int) -> threading.Thread | None:
    """Remove the old folders of one kind in a background thread (returned; None when none is old):
    deleting two folders' files cost 0.05-0.15 s, which a dbt step would otherwise wait for. A deletion
    cut short by the process ending leaves a folder that the next pruning removes."""
    old = old_target_folders(target_root, pattern, keep)
    if not old:
        return None
    pruning = threading.Thread(target=remove_folders, args=(old,), name="prune-dbt-targets", daemon=True)
    pruning.start()
    return pruning
