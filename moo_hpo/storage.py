"""Study stores: SQLite (embedded, crash-safe) and in-memory, with one interface.

One module, past 500 lines: the interface and its two implementations share the trial row format and are read
and changed together (a column added to one is added to all).

A store keeps *records* (the study's definition, its frozen settings and every trial), never an
optimizer's internal state: optimizers rebuild themselves from the trials.

SQLite specifics:

* WAL journal with ``synchronous=NORMAL``: every ask and every tell is its own committed
  transaction, so a process killed with SIGKILL loses nothing but its running trials (an OS crash
  or power loss may lose the last few commits; set ``durable=True`` for a sync on every commit).
* One writer at a time: the writing process holds an advisory lock (``flock``) on the database file
  itself, so every path to it (a symlink, a hard link) meets the same lock, and the OS releases it
  when the process exits, however it exits. Other processes open the file read-only meanwhile and
  can follow the study while it runs; reading needs no lock and works on read-only media.
* A file that is not a moo_hpo study (another program's SQLite database) is refused before anything
  is written to it; moo_hpo's files carry :data:`APPLICATION_ID` in SQLite's header. A new study is
  created in one transaction, so a process killed while creating it leaves an empty, reusable file.
* The schema carries a version (:data:`SCHEMA_VERSION`); a file from a newer moo_hpo is refused, and
  one from an older moo_hpo is migrated when opened for writing (read as migrated when read-only).
  Version 2 gave interrupted trials a status of their own; version 1 recorded them as ``failed`` with
  an error starting with ``"interrupted"``.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moo_hpo.exceptions import StorageError
from moo_hpo.trial import Trial, TrialStatus

logger = logging.getLogger("moo_hpo")

try:  # advisory locks: POSIX only; elsewhere a single writer is the user's business
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "InMemoryStore", "SQLiteStore", "Store", "open_store"]

SCHEMA_VERSION = 3
#: SQLite's ``application_id`` of a moo_hpo study file ("mooh").
APPLICATION_ID = 0x6D6F6F68
INTERRUPTED = "interrupted: the study stopped while this trial was running"


def _legacy_interrupted(trial: Trial) -> bool:
    """A trial that schema version 1 recorded as failed because the study stopped while it ran."""
    return trial.status is TrialStatus.FAILED and (trial.error or "").startswith("interrupted")


class Store(ABC):
    """What a study needs from a store."""

    read_only: bool = False

    @abstractmethod
    def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value saved with :meth:`set_meta`, or ``default``."""

    @abstractmethod
    def set_meta(self, key: str, value: Any) -> None:
        """Save a JSON-able value under ``key`` (committed at once)."""

    def set_meta_many(self, values: dict[str, Any]) -> None:
        """Save several values at once: all of them or, if the process dies, none."""
        for key, value in values.items():
            self.set_meta(key, value)

    @abstractmethod
    def add_trial(self, trial: Trial) -> None:
        """Insert a new trial record (committed at once)."""

    @abstractmethod
    def update_trial(self, trial: Trial) -> None:
        """Overwrite a trial record with its new state (committed at once)."""

    @abstractmethod
    def load_trials(self) -> list[Trial]:
        """Every trial record, in number order."""

    @abstractmethod
    def add_report(self, number: int, report: dict[str, Any]) -> None:
        """Keep one intermediate report ``{"step", "metrics", "at"}`` of trial ``number``."""

    @abstractmethod
    def load_reports(self) -> dict[int, list[dict[str, Any]]]:
        """Every trial's intermediate reports, in step order, by trial number."""

    @abstractmethod
    def delete_reports(self, number: int) -> None:
        """Forget trial ``number``'s reports (it runs again from its start)."""

    def forget_meta(self, keys: list[str]) -> None:
        """Remove the values saved under ``keys`` (a study refused while it was being created leaves none).
        A store that cannot remove them keeps them."""

    def mark_interrupted(self) -> list[int]:
        """Mark running trials ``interrupted`` (the study is opened again: the process that ran them stopped); returns
        their numbers. When a trial stopped is unknown: its finish is its last report's time, or none (its duration
        is then unknown, where the time of this opening counted every hour the study lay stopped)."""
        numbers = []
        reports: dict[int, list[dict[str, Any]]] | None = None
        for trial in self.load_trials():
            if trial.status is TrialStatus.RUNNING:
                trial.status = TrialStatus.INTERRUPTED
                trial.error = INTERRUPTED
                reports = self.load_reports() if reports is None else reports
                times = [r.get("at") for r in reports.get(trial.number, []) if isinstance(r, dict)]
                trial.finished_at = max((float(t) for t in times if isinstance(t, (int, float))), default=None)
                self.update_trial(trial)
                numbers.append(trial.number)
        return numbers

    def close(self) -> None:
        """Release files and locks."""

    @property
    def location(self) -> str:
        """Where the records live (a path, or ``":memory:"``)."""
        return ":memory:"

    def has_writer(self) -> bool | None:
        """Whether a process holds the study open for writing (None: this store cannot tell)."""
        return None if self.read_only else True


def _copy(trial: Trial) -> Trial:
    # moo_hpo never mutates nested values of ``extra``, so copying the three dicts isolates the record
    return Trial(
        trial.number,
        dict(trial.config),
        trial.status,
        dict(trial.metrics),
        dict(trial.extra),
        trial.error,
        trial.started_at,
        trial.finished_at,
        trial.seed,
        trial.optimizer,
        list(trial.reports),
    )


class InMemoryStore(Store):
    """Keeps records in this process only; gone when it exits.

    It holds the trial objects it is given (a study's own records, which the study changes only
    together with :meth:`update_trial`) rather than copies: a long in-memory study then keeps one
    object per trial, not two, for the garbage collector to walk. :meth:`load_trials` returns copies.
    """

    def __init__(self) -> None:
        self._meta: dict[str, str] = {}
        self._trials: dict[int, Trial] = {}
        self._reports: dict[int, list[dict[str, Any]]] = {}

    def add_report(self, number: int, report: dict[str, Any]) -> None:
        json.dumps(report, allow_nan=False)  # what a file store could not write is refused here too
        self._reports.setdefault(number, []).append(report)

    def load_reports(self) -> dict[int, list[dict[str, Any]]]:
        return {n: list(r) for n, r in self._reports.items()}

    def delete_reports(self, number: int) -> None:
        self._reports.pop(number, None)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return json.loads(self._meta[key]) if key in self._meta else default

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = json.dumps(value)

    def set_meta_many(self, values: dict[str, Any]) -> None:
        encoded = {k: json.dumps(v) for k, v in values.items()}  # every value checked before any is kept
        self._meta.update(encoded)

    def forget_meta(self, keys: list[str]) -> None:
        for key in keys:
            self._meta.pop(key, None)

    def add_trial(self, trial: Trial) -> None:
        if trial.number in self._trials:
            raise StorageError(f"trial number {trial.number} already exists")
        self._trials[trial.number] = trial

    def update_trial(self, trial: Trial) -> None:
        trial.to_row()  # what a file store could not write is refused here too (TypeError)
        self._trials[trial.number] = trial

    def load_trials(self) -> list[Trial]:
        return [_copy(self._trials[n]) for n in sorted(self._trials)]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    extra TEXT NOT NULL,
    error TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    seed INTEGER,
    optimizer TEXT
);
CREATE TABLE IF NOT EXISTS reports (
    trial INTEGER NOT NULL,
    step REAL NOT NULL,
    metrics TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (trial, step)
);
"""
_COLUMNS = ("number", "status", "config", "metrics", "extra", "error", "started_at", "finished_at", "seed", "optimizer")
_INSERT = f"INSERT INTO trials ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_UPDATE = f"UPDATE trials SET {', '.join(c + ' = ?' for c in _COLUMNS[1:])} WHERE number = ?"


# (device, inode) of every study file this process holds open for writing -> its path
_WRITERS: dict[tuple[int, int], str] = {}
# (device, inode) of a study file -> how many of this process's SQLite connections have it open. Closing any
# descriptor of a file drops every POSIX lock the process holds on it, SQLite's included (a reader's shared lock,
# which keeps a writer from checkpointing under it), so while connections are open the descriptors moo_hpo opens on
# the file itself (the writer's lock, a refused opening's) are closed once the last connection has closed, as
# SQLite closes its own.
_CONNECTIONS: dict[tuple[int, int], int] = {}
_CLOSE_LATER: dict[tuple[int, int], list[int]] = {}  # reused by the next descriptor opened on the file
# held while connections open and close and descriptors are opened or closed: a thread's descriptor closed while
# another thread opens a connection would drop that connection's locks
_REGISTRY = threading.RLock()


def _forget_inherited() -> None:
    """In a forked child: the waiting descriptors are the parent's open files (reusing one would share the parent's
    writer lock), and the registry's lock may have been held by another of the parent's threads."""
    global _REGISTRY
    for fds in _CLOSE_LATER.values():
        for fd in fds:
            try:
                os.close(fd)  # the child's copy: the parent's descriptor and its lock stay
            except OSError:
                pass
    _CLOSE_LATER.clear()
    _CONNECTIONS.clear()  # the child's copies of the parent's connections hold no locks of the child
    _WRITERS.clear()  # the parent writes them: a child's opening for writing meets the parent's lock ("another process")
    _REGISTRY = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


def _open_descriptor(path: Path) -> tuple[tuple[int, int], int]:
    """A descriptor of the study file (created when missing), and the file's identity: one waiting to be closed
    when there is one (SQLite reuses its own likewise), so a process that keeps a view open does not pile them up."""
    known = _file_identity(path)
    waiting = _CLOSE_LATER.get(known) if known is not None else None
    if waiting:
        return known, waiting.pop()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    info = os.fstat(fd)
    return (info.st_dev, info.st_ino), fd


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _close_descriptor(identity: tuple[int, int], fd: int) -> None:
    """Close a descriptor of a study file now, or once this process's last connection to the file has closed."""
    if _CONNECTIONS.get(identity):
        _CLOSE_LATER.setdefault(identity, []).append(fd)
    else:
        os.close(fd)


def _connection_closed(identity: tuple[int, int]) -> None:
    left = _CONNECTIONS.get(identity, 0) - 1
    if left > 0:
        _CONNECTIONS[identity] = left
        return
    _CONNECTIONS.pop(identity, None)
    for fd in _CLOSE_LATER.pop(identity, []):
        os.close(fd)


class SQLiteStore(Store):
    """A study in one SQLite file.

    Args:
        path: the database file; created when missing.
        read_only: open for reading only (another process may be writing; the medium may be read-only).
        durable: sync to disk on every commit (survives power loss, slower).

    Raises:
        StorageError: when the file is not a moo_hpo study, comes from a newer schema, or another
            process (or another open study in this one) is writing it and ``read_only`` is False.
    """

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock_fd: int | None = None
        self._immutable = False  # opened read-only with immutable=1 (a read-only medium)
        self._identity: tuple[int, int] | None = None
        self._legacy = False  # a version-1 file opened read-only
        self._has_reports = True  # False for a file from before reports opened read-only
        self._closed = False
        self._connection: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise StorageError(f"expected a study file (SQLite); received the folder {str(self.path)!r}")
        self._file: tuple[int, int] | None = None  # the file's identity while a connection of this store is open
        try:
            with _REGISTRY:
                if read_only:
                    self._open_read_only()
                else:
                    self._open_for_writing(durable)
                self._file = _file_identity(self.path)
                if self._file is not None:
                    _CONNECTIONS[self._file] = _CONNECTIONS.get(self._file, 0) + 1
            self._conn.row_factory = sqlite3.Row
            self._check_schema()
        except OSError as exc:
            self.close()
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise self._not_writable(exc.strerror or str(exc)) from exc  # a read-only folder, file or medium
        except sqlite3.DatabaseError as exc:
            self.close()
            if isinstance(exc, sqlite3.OperationalError) and not read_only and "unable to open" in str(exc):
                raise self._not_writable(str(exc)) from exc  # a writable file in a folder that takes no -wal / -shm file
            if type(exc) is sqlite3.DatabaseError and "malformed" in str(exc):  # a study file, damaged
                raise self._damaged(str(exc)) from exc
            hint = (" (a TOML study description: `moo-hpo run` runs it; the study file is its `storage`)"
                    if self.path.suffix.lower() == ".toml" else "")
            raise StorageError(f"{str(self.path)!r} is not a readable moo_hpo study file: {exc}{hint}") from exc
        except BaseException:
            self.close()
            raise

    @property
    def location(self) -> str:
        return str(self.path)

    def has_writer(self) -> bool | None:
        """Whether a process (this one or another) holds the study open for writing: its writer's lock is taken.
        None where locks cannot be read (no ``fcntl``; a file that cannot be opened)."""
        if not self.read_only:
            return True
        if fcntl is None:  # pragma: no cover - Windows
            return None
        with _REGISTRY:
            known = _file_identity(self.path)
            if known is None:
                return None
            if known in _WRITERS:
                return True
            waiting = _CLOSE_LATER.get(known)
            if waiting:  # one this check (or a refused opening) parked: checks that repeat hold one descriptor
                fd = waiting.pop()
            else:
                try:  # writable where the file is: a writer of this process may reuse it for its lock (NFS's flock needs it)
                    fd = os.open(self.path, os.O_RDWR if os.access(self.path, os.W_OK) else os.O_RDONLY)
                except OSError:
                    return None
            try:
                free = _try_flock(fd, fcntl.LOCK_SH, patience_s=0.0)  # a writer holds it exclusively
                if free:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                _close_descriptor(known, fd)  # later, if a connection of this process has the file open
        return not free

    def _not_writable(self, why: str) -> StorageError:
        """The error for a study file this process cannot write (or create)."""
        if not self.path.exists():
            return StorageError(f"cannot create the study file {str(self.path)!r} ({why}): give it a folder you can write")
        return _readable_instead(StorageError(
            f"cannot write the study file {str(self.path)!r} ({why}; running a study writes the file and, beside it, "
            f"SQLite's -wal and -shm files): read it with mh.Study.load({str(self.path)!r}, read_only=True) or "
            "moo-hpo front / report / serve"
        ), "its file cannot be written here (a read-only folder, file or medium)", self.path)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError(
                f"the study {str(self.path)!r} was closed (Study.close, or the end of its `with` block); "
                f"open it again with mh.Study.load({str(self.path)!r})"
            )
        return self._connection

    @_conn.setter
    def _conn(self, connection: sqlite3.Connection | None) -> None:
        self._connection = connection

    def _open_read_only(self) -> None:
        if not self.path.exists():
            raise StorageError(f"no study file at {str(self.path)!r}")
        try:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # read-only media: SQLite cannot create the WAL index beside the file; nothing writes it there
            if self._conn is not None:
                self._conn.close()
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, isolation_level=None)
            self._immutable = True

    def _open_for_writing(self, durable: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
        if tables and app_id != APPLICATION_ID and not self._looks_like_version_1(tables):
            raise StorageError(self._not_a_study(tables))
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        if not tables:  # a new study file: schema, id and version in one transaction
            with self._transaction():
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._put_meta("schema_version", SCHEMA_VERSION)

    def _looks_like_version_1(self, tables: set[str]) -> bool:
        """A file of moo_hpo before ``application_id`` was written: its two tables and a schema version."""
        if tables != {"meta", "trials"}:  # version 1 had these two only
            return False
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return row is not None

    def _not_a_study(self, tables: set[str]) -> str:
        return (
            f"{str(self.path)!r} is an SQLite file but not a moo_hpo study (tables: {sorted(tables)}); "
            "nothing was written to it: give the study a file of its own"
        )

    def _acquire_lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        known = _file_identity(self.path)
        if known is not None and known in _WRITERS:
            # a Study nobody refers to any more (`del study`, a notebook cell run again) may still hold the file until
            # the garbage collector frees it (a study and its trials refer to each other): free it now
            gc.collect()
        if known is not None and known in _WRITERS:  # checked before opening: closing a descriptor drops locks
            raise _readable_instead(StorageError(
                f"the study file {str(self.path)!r} is already open for writing in this process (as "
                f"{_WRITERS[known]!r}) by a Study that was not closed: call .close() on it, or create "
                "studies with `with mh.Study(...) as study:`; Study.load(path, read_only=True) reads it meanwhile"
            ), "an unclosed Study in this process is writing it", self.path)
        identity, fd = _open_descriptor(self.path)
        if not _try_flock(fd, fcntl.LOCK_EX, patience_s=_LOCK_PATIENCE_S):
            _close_descriptor(identity, fd)
            raise _readable_instead(StorageError(
                f"another process is writing the study {str(self.path)!r}; open it with read_only=True "
                "(Study.load(path, read_only=True)) to follow it. One process writes a study: to run its trials in "
                "parallel, give that process n_workers=... or a Dask cluster (optimize(..., executor=...))"
            ), "another process is writing it", self.path) from None
        self._lock_fd, self._identity, self._lock_pid = fd, identity, os.getpid()
        _WRITERS[identity] = str(self.path)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _check_schema(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables and self.read_only:  # a writer is creating the study (or was stopped while it did)
            raise StorageError(
                f"{str(self.path)!r} holds no study yet: the file is empty (a study being created right now, "
                "or a creation that was stopped); try again in a moment"
            )
        if not {"meta", "trials"} <= tables:
            raise StorageError(self._not_a_study(tables))
        version = self.get_meta("schema_version")
        if version is not None and version > SCHEMA_VERSION:
            raise StorageError(
                f"{str(self.path)!r} has schema version {version}; this moo_hpo reads up to {SCHEMA_VERSION}: "
                "upgrade moo_hpo"
            )
        # a file from before reports, read as it is, has none; any other without the table is damaged
        self._has_reports = "reports" in tables or not (self.read_only and version is not None and version < 3)
        if version is not None and version < SCHEMA_VERSION:
            if self.read_only:
                self._legacy = version < 2
            else:
                self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Bring an older file up to date in one transaction: interrupted trials of a version-1 file get
        their own status (version 2), the intermediate reports get their table (version 3)."""
        with self._transaction():
            if version < 2:
                self._conn.execute(
                    "UPDATE trials SET status = ? WHERE status = ? AND error LIKE 'interrupted%'",
                    (TrialStatus.INTERRUPTED.value, TrialStatus.FAILED.value),
                )
            self._conn.execute(_SCHEMA.strip().split(";")[2])  # the reports table
            self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._put_meta("schema_version", SCHEMA_VERSION)

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._reading():
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _put_meta(self, key: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write: refused when read-only; a damaged file, a full disk or a failing medium is one clear error."""
        self._writable()
        with self._sqlite_errors("write"):
            yield

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """One read: a damaged file (a disk fault, a partial copy) or a failing medium is one clear error."""
        with self._sqlite_errors("read"):
            yield

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        """SQLite's errors about the file, as StorageErrors saying what happened and what to do."""
        try:
            yield
        except sqlite3.OperationalError as exc:  # the medium (full, failing), a lock held too long, a table gone
            text = str(exc)
            hint = " (is the disk full?)" if action == "write" and "full" in text else ""
            if "disk I/O" in text:
                hint = " (a failing disk, or the file removed or replaced while open?)"
            raise StorageError(
                f"could not {action} the study {str(self.path)!r}: {text}{hint}. Every trial told before this one "
                "is kept in the file; mend the cause and resume with mh.Study.load"
            ) from exc
        except sqlite3.DatabaseError as exc:
            # SQLite's "malformed" and "not a database" are this class itself; its other subclasses (a constraint,
            # a connection used from another thread) say nothing of the file's state
            if type(exc) is not sqlite3.DatabaseError:
                raise
            raise self._damaged(str(exc)) from exc

    def _damaged(self, what: str) -> StorageError:
        return StorageError(
            f"the study file {str(self.path)!r} is damaged: {what.rstrip('.')}. Restore it from a copy (SQLite's "
            "command-line tool can save what is still readable: sqlite3 FILE .recover)"
        )

    def set_meta(self, key: str, value: Any) -> None:
        with self._writing():
            self._put_meta(key, value)

    def set_meta_many(self, values: dict[str, Any]) -> None:
        encoded = {k: json.dumps(v) for k, v in values.items()}  # every value checked before any is written
        with self._writing(), self._transaction():
            for key, text in encoded.items():
                self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, text))

    def forget_meta(self, keys: list[str]) -> None:
        with self._writing(), self._transaction():
            self._conn.executemany("DELETE FROM meta WHERE key = ?", [(key,) for key in keys])

    def add_trial(self, trial: Trial) -> None:
        row = trial.to_row()
        with self._writing():
            try:
                self._conn.execute(_INSERT, tuple(row[c] for c in _COLUMNS))
            except sqlite3.IntegrityError as exc:
                raise StorageError(f"trial number {trial.number} already exists in {str(self.path)!r}") from exc

    def update_trial(self, trial: Trial) -> None:
        row = trial.to_row()
        with self._writing():
            self._conn.execute(_UPDATE, tuple(row[c] for c in _COLUMNS[1:]) + (row["number"],))

    def add_report(self, number: int, report: dict[str, Any]) -> None:
        metrics = json.dumps(report["metrics"], allow_nan=False)
        with self._writing():
            self._conn.execute(
                "INSERT OR REPLACE INTO reports (trial, step, metrics, at) VALUES (?, ?, ?, ?)",
                (number, report["step"], metrics, report["at"]),
            )

    def delete_reports(self, number: int) -> None:
        with self._writing():
            self._conn.execute("DELETE FROM reports WHERE trial = ?", (number,))

    def load_reports(self) -> dict[int, list[dict[str, Any]]]:
        with self._reading():
            if not self._has_reports:  # a read-only view of a file from before reports, unless a writer added them since
                found = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reports'").fetchone()
                self._has_reports = found is not None
                if not self._has_reports:
                    return {}
            rows = self._conn.execute("SELECT trial, step, metrics, at FROM reports ORDER BY trial, step").fetchall()
        out: dict[int, list[dict[str, Any]]] = {}
        for number, step, metrics, at in rows:
            step = int(step) if float(step).is_integer() else float(step)
            out.setdefault(int(number), []).append({"step": step, "metrics": json.loads(metrics), "at": float(at)})
        return out

    def load_trials(self) -> list[Trial]:
        with self._reading():
            rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM trials ORDER BY number").fetchall()
        trials = []
        for row in rows:
            try:
                trials.append(Trial.from_row(row))
            except (ValueError, TypeError, AttributeError) as exc:  # JSON or a status that a sound file never holds
                raise self._damaged(f"trial row {row['number']!r} cannot be read ({type(exc).__name__}: {exc})") from exc
        for number, reports in self.load_reports().items():
            if 0 <= number < len(trials) and trials[number].number == number:
                trials[number].reports = reports
        if self._legacy:  # a read-only view of a version-1 file: read it as migrated
            for t in trials:
                if _legacy_interrupted(t):
                    t.status = TrialStatus.INTERRUPTED
        return trials

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(f"the study {str(self.path)!r} was opened read-only")

    def close(self) -> None:
        with _REGISTRY:
            conn = getattr(self, "_connection", None)
            if conn is not None:
                conn.close()
                self._connection = None
                if getattr(self, "_file", None) is not None:
                    _connection_closed(self._file)
                    if self.read_only and not self._immutable and self._file not in _CONNECTIONS:
                        self._tidy_after_reading()
                    self._file = None
            self._closed = True
            if getattr(self, "_lock_fd", None) is not None:
                if getattr(self, "_lock_pid", None) == os.getpid():
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # the writer's lock is free now; its descriptor may wait
                    _close_descriptor(self._identity, self._lock_fd)
                else:  # a forked child's copy: the lock is its parent's, which still writes (and holds no lock here)
                    os.close(self._lock_fd)
                self._lock_fd = None
                _WRITERS.pop(self._identity, None)

    def _tidy_after_reading(self) -> None:
        """Remove the -wal and -shm files that reading a study nobody writes left beside it.

        A read-only connection cannot delete them (SQLite's last writable connection does, on closing), so a
        read-only command (``moo-hpo front``) would leave two files beside a closed study. When no other connection
        of this process has the file open (the caller checks: closing the descriptor opened here drops the locks of
        any), no writer holds the study (its lock is free, taken for the moment so that none starts meanwhile) and
        the file is writable, a writable connection is opened and closed: SQLite then removes them itself, and only
        if no other process's connection still has the file open.
        """
        if fcntl is None or self._file in _WRITERS:  # pragma: no cover - Windows
            return
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:  # a read-only file or medium: nothing can be removed beside it
            return
        try:
            if not _try_flock(fd, fcntl.LOCK_EX, patience_s=0.0):
                return
            try:
                connection = sqlite3.connect(str(self.path), isolation_level=None, timeout=0.0)
                try:
                    connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                finally:
                    connection.close()
            except sqlite3.Error:  # another connection holds it: it tidies up when it closes
                pass
        finally:
            os.close(fd)  # releases the lock

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _readable_instead(error: StorageError, why: str, path: Path) -> StorageError:
    """Mark a refused opening for writing that a read-only opening would pass, with the reason
    (``error.readable_instead``, which ``Study.load`` reads to open the study read-only by itself) and the study
    file (``error.location``, which the command line names)."""
    error.readable_instead = why  # type: ignore[attr-defined]
    error.location = str(path)  # type: ignore[attr-defined]
    return error


#: how long a writer waits for the study's lock before saying another process writes it: a reader tidying up
#: after itself (:meth:`SQLiteStore._tidy_after_reading`) holds it for a few milliseconds
_LOCK_PATIENCE_S = 0.25


def _try_flock(fd: int, kind: int, patience_s: float) -> bool:
    """Take an advisory lock on ``fd``, trying again for ``patience_s`` seconds; False when it stays taken."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


#: The prefix of an SQLAlchemy SQLite URL (``sqlite:///relative.db``, ``sqlite:////absolute.db``).
SQLITE_URL = "sqlite:///"
_LITERAL_WARNED: set[str] = set()  # a study found at a URL's literal path: said once per process
_OPTIONS_WARNED: set[tuple[str, str]] = set()  # a URL's options that are not used: said once per process


def _home(name: str) -> str:
    """``~/study.db`` in the home folder (a study kept before at the literal path, in a folder named ``~``, is used
    there, said once)."""
    if not name.startswith("~"):
        return name
    if os.path.isfile(name):
        if name not in _LITERAL_WARNED:
            _LITERAL_WARNED.add(name)
            logger.warning("storage %r: using the study file at that literal path (in a folder named '~' here), where "
                           "moo_hpo kept it before it expanded '~'; move it to %s", name, os.path.expanduser(name))
        return name
    return os.path.expanduser(name)


def storage_path(storage: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str | os.PathLike[str]:
    """The study file a ``storage`` path names: an SQLAlchemy-style ``"sqlite:///study.db"`` (Optuna's form) names
    ``study.db``, ``"sqlite:////tmp/s.db"`` names ``/tmp/s.db``; ``~`` is the home folder; any other path is itself.

    Args:
        storage: the path, or the URL.
        base: the folder a relative path lies in (a TOML study file's), with ``~`` expanded; None: as given.

    Raises:
        StorageError: for ``":memory:"`` or an empty name (``storage=None`` keeps a study in memory) and for the
            URL of another database (moo_hpo stores a study in an SQLite file).
    """
    if not isinstance(storage, str):
        if isinstance(storage, os.PathLike) and str(storage).startswith("~"):
            return Path(_home(str(storage)))
        return storage

    def at(name: str) -> str:
        return _home(name) if base is None else str(Path(base) / Path(name).expanduser())

    if storage.startswith(SQLITE_URL):
        literal = at(storage)
        if os.path.isfile(literal):  # a study moo_hpo wrote under the URL taken as a path ('sqlite:' a folder)
            if literal not in _LITERAL_WARNED:
                _LITERAL_WARNED.add(literal)
                logger.warning("storage %r: using the study file at that literal path (%s, in a folder 'sqlite:'), "
                               "where moo_hpo kept it before it read the URL; move it to %s to use the URL's own file",
                               storage, literal, at(storage[len(SQLITE_URL):]))
            return literal
        whole = at(storage[len(SQLITE_URL):])
        if "?" in storage and os.path.isfile(whole):  # a study moo_hpo wrote under the file name with the URL's options
            logger.warning("storage %r: using the study file %s, named with the URL's options, where moo_hpo kept it "
                           "before it read them; rename it to %s", storage, whole, whole.partition("?")[0])
            return whole
        storage, _, options = storage[len(SQLITE_URL):].partition("?")
        if options and (storage, options) not in _OPTIONS_WARNED:  # SQLAlchemy's connection options ('timeout=30')
            _OPTIONS_WARNED.add((storage, options))
            logger.warning("storage %r: the URL's options (%s) are not used; moo_hpo opens the file %s itself (waiting up "
                           "to 30 s for another process's write)", SQLITE_URL + storage + "?" + options, options, storage)
    if storage.strip() in ("", ":memory:"):
        raise StorageError(f"storage={storage!r} names no file; storage=None keeps a study in memory")
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", storage) and not os.path.exists(at(storage)):
        raise StorageError(f"storage={storage!r} looks like a database URL; moo_hpo stores a study in an SQLite "
                           "file: give its path (e.g. 'study.db' or 'sqlite:///study.db')")
    return at(storage)


def open_store(storage: str | os.PathLike[str] | Store | None, read_only: bool = False) -> Store:
    """Turn the ``storage`` argument of a study into a store.

    Args:
        storage: None (in memory), a path to an SQLite file (an SQLAlchemy-style ``"sqlite:///study.db"``, as
            Optuna takes, names the file ``study.db``), or a :class:`Store`.
        read_only: open an SQLite file for reading only.

    Raises:
        StorageError: see :class:`SQLiteStore`; for ``":memory:"`` (``None`` keeps a study in memory) and for the
            URL of another database (moo_hpo stores a study in an SQLite file).
    """
    if storage is None:
        return InMemoryStore()
    if isinstance(storage, Store):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        return SQLiteStore(storage_path(storage), read_only=read_only)
    raise StorageError(f"storage must be None, a file path or a Store; received {storage!r}")
