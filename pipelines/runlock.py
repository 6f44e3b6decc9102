"""One writer at a time per data directory: a lock file that names whoever holds it.

A run that writes (ingestion, dbt, publishing) takes ``<data dir>/.run.lock`` for its whole length.
The lock is an exclusive ``flock`` on an open file descriptor: the kernel drops it when the holder's
process ends, however it ends (a killed run leaves no stale lock to clean up). The holder writes its
pid, host, command and start time into the file, so a second run is refused at once with a line that
says who is running, instead of waiting or dying later on DuckDB's own lock. "At once" is within
ACQUIRE_PATIENCE_SECONDS: holder() (who is running?) takes a shared lock for an instant, and a run
starting in that instant tries again for that long rather than being refused for a mere look. Only a
held lock means "running"; the details in the file are the last holder's.

Within one process the lock is re-entrant: the operator CLI holds it and the Dagster jobs it runs in
the same process take it again without blocking themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".run.lock"
_MAX_HOLDER_BYTES = 4096
ACQUIRE_PATIENCE_SECONDS = 0.5
_RETRY_SLEEP_SECONDS = 0.01


@dataclass(frozen=True)
class Holder:
    pid: int | None
    host: str
    command: str
    started_at: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started_at}: {self.command}"


class RunLockedError(RuntimeError):
    """Another run holds the data directory."""

    def __init__(self, data_dir: Path, holder: Holder | None, detail: str | None = None) -> None:
        self.holder = holder
        who = detail or (holder.describe() if holder else "a run whose details could not be read")
        super().__init__(f"另一个运行正在写入 {data_dir}，本次运行已拒绝 (another run is writing it: {who})")


@dataclass
class _Held:
    fd: int
    depth: int


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_NAME


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        body = json.loads(os.read(fd, _MAX_HOLDER_BYTES).decode("utf-8"))
        return Holder(
            body.get("pid"),
            str(body.get("host", "?")),
            str(body.get("command", "?")),
            str(body.get("started_at", "?")),
        )
    except (OSError, ValueError, AttributeError):
        return None


def _command() -> str:
    return " ".join(sys.argv)[:300] or "python"


@contextlib.contextmanager
def hold(data_dir: Path, command: str | None = None) -> Iterator[Holder]:
    """Hold the data directory's lock for the block, or raise RunLockedError at once."""
    holder = acquire(data_dir, command)
    try:
        yield holder
    finally:
        release(data_dir)


def _lock_soon(fd: int, patience: float = ACQUIRE_PATIENCE_SECONDS) -> bool:
    """Take the exclusive flock, trying again for up to `patience` seconds. holder() (the sensor and the
    schedule, every tick) takes a shared flock for an instant: a run starting in that instant must not be
    refused for it. A real holder keeps the lock for minutes, so it is still refused well within a second.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_RETRY_SLEEP_SECONDS)


def acquire(data_dir: Path, command: str | None = None) -> Holder:
    """Take the lock (re-entrant within this process); raise RunLockedError if another process has it."""
    data_dir = Path(data_dir).resolve()
    with _GUARD:
        held = _HELD.get(data_dir)
        if held is not None:
            held.depth += 1
            return _read_holder(held.fd) or Holder(os.getpid(), socket.gethostname(), _command(), "?")
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(data_dir), os.O_RDWR | os.O_CREAT, 0o644)
        # _GUARD stays held while waiting: at most ACQUIRE_PATIENCE_SECONDS, and only this process waits.
        if not _lock_soon(fd):
            other = _read_holder(fd)
            os.close(fd)
            raise RunLockedError(data_dir, other) from None
        me = Holder(
            os.getpid(),
            socket.gethostname(),
            command or _command(),
            datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me.__dict__, ensure_ascii=False).encode("utf-8"))
        os.fsync(fd)
        _HELD[data_dir] = _Held(fd, 1)
        return me


def release(data_dir: Path) -> None:
    data_dir = Path(data_dir).resolve()
    with _GUARD:
        held = _HELD.get(data_dir)
        if held is None:
            return
        held.depth -= 1
        if held.depth > 0:
            return
        del _HELD[data_dir]
        # The details stay in the file (harmless: only a held flock means "running").
        fcntl.flock(held.fd, fcntl.LOCK_UN)
        os.close(held.fd)


def holder(data_dir: Path) -> Holder | None:
    """Who holds the data directory now (None when nobody does, or when this process does)."""
    data_dir = Path(data_dir).resolve()
    with _GUARD:
        if data_dir in _HELD:
            return None
    path = lock_path(data_dir)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or Holder(None, "?", "?", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
