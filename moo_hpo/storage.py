"""Study stores: SQLite (embedded, crash-safe) and in-memory, with one interface.

A store keeps *records* (the study's definition, its frozen settings and every trial), never an
optimizer's internal state: optimizers rebuild themselves from the trials.

SQLite specifics:

* WAL journal with ``synchronous=NORMAL``: every ask and every tell is its own committed
  transaction, so a process killed with SIGKILL loses nothing but its running trials (an OS crash
  or power loss may lose the last few commits; set ``durable=True`` for a sync on every commit).
* One writer at a time: the writing process holds an advisory lock on ``<file>.lock``, released by
  the OS when it exits, however it exits. Other processes open the file read-only meanwhile and can
  follow the study while it runs.
* The schema carries a version (:data:`SCHEMA_VERSION`); a file from a newer moo_hpo is refused, and
  one from an older moo_hpo is migrated when opened for writing (read as migrated when read-only).
  Version 2 gave interrupted trials a status of their own; version 1 recorded them as ``failed`` with
  an error starting with ``"interrupted"``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from moo_hpo.exceptions import StorageError
from moo_hpo.trial import Trial, TrialStatus

try:  # advisory locks: POSIX only; elsewhere a single writer is the user's business
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["SCHEMA_VERSION", "InMemoryStore", "SQLiteStore", "Store", "open_store"]

SCHEMA_VERSION = 2
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

    @abstractmethod
    def add_trial(self, trial: Trial) -> None:
        """Insert a new trial record (committed at once)."""

    @abstractmethod
    def update_trial(self, trial: Trial) -> None:
        """Overwrite a trial record with its new state (committed at once)."""

    @abstractmethod
    def load_trials(self) -> list[Trial]:
        """Every trial record, in number order."""

    def mark_interrupted(self) -> list[int]:
        """Mark running trials ``interrupted``; returns their numbers."""
        numbers = []
        for trial in self.load_trials():
            if trial.status is TrialStatus.RUNNING:
                trial.status = TrialStatus.INTERRUPTED
                trial.error = INTERRUPTED
                trial.finished_at = time.time()
                self.update_trial(trial)
                numbers.append(trial.number)
        return numbers

    def close(self) -> None:
        """Release files and locks."""

    @property
    def location(self) -> str:
        """Where the records live (a path, or ``":memory:"``)."""
        return ":memory:"


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

    def get_meta(self, key: str, default: Any = None) -> Any:
        return json.loads(self._meta[key]) if key in self._meta else default

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = json.dumps(value)

    def add_trial(self, trial: Trial) -> None:
        if trial.number in self._trials:
            raise StorageError(f"trial number {trial.number} already exists")
        self._trials[trial.number] = trial

    def update_trial(self, trial: Trial) -> None:
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
"""
_COLUMNS = ("number", "status", "config", "metrics", "extra", "error", "started_at", "finished_at", "seed", "optimizer")
_INSERT = f"INSERT INTO trials ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_UPDATE = f"UPDATE trials SET {', '.join(c + ' = ?' for c in _COLUMNS[1:])} WHERE number = ?"


class SQLiteStore(Store):
    """A study in one SQLite file.

    Args:
        path: the database file; created when missing.
        read_only: open for reading only (another process may be writing).
        durable: sync to disk on every commit (survives power loss, slower).

    Raises:
        StorageError: when the file is not a moo_hpo study, comes from a newer schema, or another
            process is writing it and ``read_only`` is False.
    """

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock_file = None
        self._legacy = False  # a version-1 file opened read-only
        try:
            if read_only:
                if not self.path.exists():
                    raise StorageError(f"no study file at {str(self.path)!r}")
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._acquire_lock()
                self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._conn.executescript(_SCHEMA)
            self._conn.row_factory = sqlite3.Row
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StorageError(f"{str(self.path)!r} is not a readable moo_hpo study file: {exc}") from exc
        except BaseException:
            self.close()
            raise

    @property
    def location(self) -> str:
        return str(self.path)

    def _acquire_lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        self._lock_file = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise StorageError(
                f"another process is writing the study {str(self.path)!r}; open it with read_only=True "
                "(Study.load(path, read_only=True)) to follow it"
            ) from None

    def _check_schema(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "trials"} <= tables:
            raise StorageError(f"{str(self.path)!r} is an SQLite file but not a moo_hpo study (tables: {sorted(tables)})")
        version = self.get_meta("schema_version")
        if version is not None and version > SCHEMA_VERSION:
            raise StorageError(
                f"{str(self.path)!r} has schema version {version}; this moo_hpo reads up to {SCHEMA_VERSION}: "
                "upgrade moo_hpo"
            )
        if version is not None and version < SCHEMA_VERSION:
            if self.read_only:
                self._legacy = True
            else:
                self._migrate_from_v1()
        elif version is None and not self.read_only:
            self.set_meta("schema_version", SCHEMA_VERSION)

    def _migrate_from_v1(self) -> None:
        """Give interrupted trials of a version-1 file their own status, in one transaction."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute(
                "UPDATE trials SET status = ? WHERE status = ? AND error LIKE 'interrupted%'",
                (TrialStatus.INTERRUPTED.value, TrialStatus.FAILED.value),
            )
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (json.dumps(SCHEMA_VERSION),)
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self._writable()
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def add_trial(self, trial: Trial) -> None:
        self._writable()
        row = trial.to_row()
        try:
            self._conn.execute(_INSERT, tuple(row[c] for c in _COLUMNS))
        except sqlite3.IntegrityError as exc:
            raise StorageError(f"trial number {trial.number} already exists in {str(self.path)!r}") from exc

    def update_trial(self, trial: Trial) -> None:
        self._writable()
        row = trial.to_row()
        self._conn.execute(_UPDATE, tuple(row[c] for c in _COLUMNS[1:]) + (row["number"],))

    def load_trials(self) -> list[Trial]:
        rows = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM trials ORDER BY number").fetchall()
        trials = [Trial.from_row(r) for r in rows]
        if self._legacy:  # a read-only view of a version-1 file: read it as migrated
            for t in trials:
                if _legacy_interrupted(t):
                    t.status = TrialStatus.INTERRUPTED
        return trials

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(f"the study {str(self.path)!r} was opened read-only")

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            self._conn = None  # type: ignore[assignment]
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the flock
            self._lock_file = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def open_store(storage: str | os.PathLike[str] | Store | None, read_only: bool = False) -> Store:
    """Turn the ``storage`` argument of a study into a store.

    Args:
        storage: None (in memory), a path to an SQLite file, or a :class:`Store`.
        read_only: open an SQLite file for reading only.

    Raises:
        StorageError: see :class:`SQLiteStore`.
    """
    if storage is None:
        return InMemoryStore()
    if isinstance(storage, Store):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        return SQLiteStore(storage, read_only=read_only)
    raise StorageError(f"storage must be None, a file path or a Store; received {storage!r}")
