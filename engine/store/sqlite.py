"""``SqliteStore``: the embedded store, on the standard library's ``sqlite3`` (everything it does is ``SqlStore``).

One connection, opened with ``check_same_thread=False`` and guarded by the store's lock. Autocommit mode with
explicit ``BEGIN IMMEDIATE`` / ``COMMIT`` around each method: ``IMMEDIATE`` takes the file's write lock at once,
so another process's transactions (``switchboard dnc add`` beside a running server) wait for this one instead of
interleaving, up to ``busy_timeout``. WAL journal (readers never wait for the writer), foreign keys enforced.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.errors import StoreError
from engine.store.schema import MIGRATIONS, SCHEMA_VERSION
from engine.store.sql import SqlStore


class SqliteStore(SqlStore):
    """The store in one SQLite file (``":memory:"`` for a throw-away one). ``clock`` stamps creations and
    updates (Unix seconds by default; inject one for deterministic tests)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = self.target = self.where = str(path)
        self.clock = clock
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None,
                                                                   check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._synchronous = "FULL"
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None

    def _begin(self, durable: bool = True) -> sqlite3.Connection:
        assert self._db is not None
        wanted = "FULL" if durable else "NORMAL"
        if wanted != self._synchronous:  # a pragma, so only between transactions
            self._db.execute(f"PRAGMA synchronous = {wanted}")
            self._synchronous = wanted
        self._db.execute("BEGIN IMMEDIATE")
        return self._db


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteStore"]
