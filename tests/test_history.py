"""Dagster's SQLite history while the CLI runs a job (pipelines/cli/history.py): every event still
stored, without a sync and a checkpoint per event, and nothing changed once the command is over."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import sqlalchemy

from pipelines.cli.history import history_without_syncs

NORMAL, FULL = 1, 2  # PRAGMA synchronous


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return home


def _synchronous(path: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("pragma synchronous").scalar_one()
    finally:
        engine.dispose()


def test_events_are_stored_without_a_checkpoint_per_event_and_all_kept(tmp_path: Path) -> None:
    home = _home(tmp_path)
    index = home / "history" / "runs" / "index.db"
    wal = index.with_name(index.name + "-wal")
    with history_without_syncs(home):
        instance = dg.DagsterInstance.from_config(str(home))
        for i in range(5):
            instance.report_runless_asset_event(dg.AssetMaterialization(f"a{i}"))
        # Dagster closed its connection after each event; with none left, SQLite would have checkpointed
        # the log into the database and deleted it.
        assert wal.exists() and wal.stat().st_size > 0
        assert _synchronous(index) == NORMAL
        assert _synchronous(tmp_path / "elsewhere.db") == FULL  # only files under the Dagster home
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed when the command ended
    assert _synchronous(index) == FULL  # the setting ends with the command
    reopened = dg.DagsterInstance.from_config(str(home))
    for i in range(5):
        assert reopened.get_latest_materialization_event(dg.AssetKey(f"a{i}")) is not None


def test_without_it_sqlite_checkpoints_on_every_close(tmp_path: Path) -> None:
    """What the context manager saves (and that the test above can fail)."""
    home = _home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    instance.report_runless_asset_event(dg.AssetMaterialization("a"))
    wal = home / "history" / "runs" / "index.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
