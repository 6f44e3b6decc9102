"""Dagster's SQLite run history, written without a disk sync per event while the CLI runs its job.

With the default (SQLite) storage, Dagster opens a new SQLAlchemy engine for every write and disposes
of it afterwards. Each of a run's ~550 events is then a commit (a sync of the write-ahead log) and, as
the file's last connection closes, a checkpoint (the log synced, copied into the database, the database
synced): about eleven `fdatasync` per event (strace of 300 events: 3,405), seconds per run on a
shared disk, the planned events alone before the run even starts.

For the duration of `history_without_syncs(home)`, every SQLite connection Dagster opens to a file
under its home (run storage, the event log shards, schedules):

- runs with `synchronous=NORMAL`: in WAL mode (Dagster's journal mode for these files) a commit is
  then not synced; the log is synced when it is checkpointed. A power cut can lose the last events, it
  cannot corrupt the file (SQLite's guarantee for WAL + NORMAL), and the history stays where it is;
- is never the file's last connection: one idle connection per file is held open, so that closing
  Dagster's does not checkpoint. The log is checkpointed by SQLite every 1,000 pages and when the idle
  connection closes at the end (330 `fdatasync` for the same 300 events).

It changes nothing for any other process (the UI, the daemon) and nothing on a non-SQLite storage.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def main_file(connection: sqlite3.Connection) -> Path | None:
    """The file of a SQLite connection's main database (None in memory)."""
    for _, name, file in connection.execute("pragma database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None


class _QuietHistory:
    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.lock = threading.Lock()
        self.idle: dict[Path, sqlite3.Connection] = {}

    def on_connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        path = main_file(dbapi_connection)
        if path is None or not path.resolve().is_relative_to(self.home):
            return
        dbapi_connection.execute("pragma synchronous = normal")
        with self.lock:
            idle = self.idle.get(path)
            if idle is None:
                # autocommit: the idle connection never holds a snapshot that would keep the log growing
                idle = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self.idle[path] = idle
            # A read attaches it to the write-ahead log (a file Dagster just created switches to WAL
            # after this first connection), which is what keeps Dagster's closes from checkpointing.
            idle.execute("select count(*) from sqlite_master").fetchall()

    def close(self) -> None:
        with self.lock:
            for idle in self.idle.values():
                with contextlib.suppress(sqlite3.Error):
                    idle.close()
            self.idle.clear()


@contextlib.contextmanager
def history_without_syncs(home: Path) -> Iterator[None]:
    """Dagster's SQLite files under `home`, in this process and for the duration, as described above."""
    quiet = _QuietHistory(home)
    event.listen(Engine, "connect", quiet.on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", quiet.on_connect)
        quiet.close()
