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

A city resubmission opens ~1,500 such connections, so the hook itself must stay cheap (it cost more
than a second when it asked each connection for its file, resolved the path and read through the idle
connection every time): the file's name is taken from the arguments SQLAlchemy connects with, whether
it lies under the home is decided once per name, and the idle connection reads only until it has
joined the file's write-ahead log, which it then keeps until it is closed.

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

_DATABASE = "assessment.history.database"  # key in a pooled connection's `info`: the name it opened


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
        self.in_wal: set[Path] = set()  # files whose log the idle connection has joined
        self.files: dict[str, Path | None] = {}  # name connected with → the file under home, or None

    def on_do_connect(self, dialect: Any, connection_record: Any, cargs: Any, cparams: Any) -> None:
        """Remember the name SQLAlchemy is about to open (returns None: SQLAlchemy connects as usual)."""
        if dialect.name == "sqlite" and cargs and isinstance(cargs[0], str) and not cparams.get("uri"):
            connection_record.info[_DATABASE] = cargs[0]

    def on_connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        path = self._file_under_home(dbapi_connection, connection_record.info.get(_DATABASE))
        if path is None:
            return
        dbapi_connection.execute("pragma synchronous = normal")
        if path in self.in_wal:
            return
        with self.lock:
            idle = self.idle.get(path)
            if idle is None:
                # autocommit: the idle connection never holds a snapshot that would keep the log growing
                idle = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self.idle[path] = idle
            # A read in WAL mode joins the idle connection to the write-ahead log for as long as it stays
            # open, which is what keeps Dagster's closes from checkpointing. A file Dagster just created
            # switches to WAL only after its first connection, so this repeats until the mode is WAL (the
            # read comes first: the pragma alone answers from what the connection last read).
            idle.execute("select count(*) from sqlite_master").fetchall()
            if idle.execute("pragma journal_mode").fetchone()[0] == "wal":
                self.in_wal.add(path)

    def _file_under_home(self, connection: sqlite3.Connection, name: str | None) -> Path | None:
        if name is None:  # opened without our do_connect hook seeing its name (a URI, another driver)
            path = main_file(connection)
            return path if path is not None and path.resolve().is_relative_to(self.home) else None
        if name not in self.files:
            resolved = Path(name).resolve() if name and name != ":memory:" else None
            self.files[name] = resolved if resolved and resolved.is_relative_to(self.home) else None
        return self.files[name]

    def close(self) -> None:
        with self.lock:
            for idle in self.idle.values():
                with contextlib.suppress(sqlite3.Error):
                    idle.close()
            self.idle.clear()
            self.in_wal.clear()


@contextlib.contextmanager
def history_without_syncs(home: Path) -> Iterator[None]:
    """Dagster's SQLite files under `home`, in this process and for the duration, as described above."""
    quiet = _QuietHistory(home)
    event.listen(Engine, "do_connect", quiet.on_do_connect)
    event.listen(Engine, "connect", quiet.on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", quiet.on_connect)
        event.remove(Engine, "do_connect", quiet.on_do_connect)
        quiet.close()
