"""``PostgresStore``: the store on PostgreSQL through psycopg 3 (everything it does is ``SqlStore``).

One connection in autocommit mode with explicit ``BEGIN`` / ``COMMIT``, guarded by the store's lock like
SQLite's; the store's SQL reaches it through ``PgConnection``, which translates the placeholders
(``engine.store.dialect``). Every transaction starts by taking ``pg_advisory_xact_lock(STORE_LOCK)``, so the
transactions of all the processes using one database run one at a time, as SQLite's ``BEGIN IMMEDIATE`` makes
them: the methods that read and then write (``add_report_rows``, ``find_or_create_customer``, a lead import's
duplicate checks) stay right with a server and ``switchboard dnc add`` working at once.

The database failing under a call is ``StoreUnavailable`` (a ``StoreError``) naming the store: the lock not
granted within ``lock_timeout_s`` (5 s, SQLite's busy timeout), or a lost connection (the server restarted, the
backend was terminated, the network failed). A lost connection is dropped and the next transaction connects
again; a commit that failed that way may or may not have been applied. A connection found dead at ``BEGIN`` (it
sat idle while the server restarted) is replaced there and then, before anything of the transaction was sent, so
that call goes through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from engine.errors import StoreError, StoreUnavailable
from engine.store.dialect import pg_ddl, pg_query
from engine.store.sql import SqlStore
from engine.store.target import redact

STORE_LOCK = 0x5357_4254_5354_4F52  # "SWBTSTOR": the advisory lock key every store transaction takes
CONNECT_DEFAULTS: dict[str, Any] = {"connect_timeout": 10, "application_name": "switchboard"}
"""libpq parameters used when the URL does not set them."""


class PgConnection:
    """A psycopg connection that takes the store's SQL: ``?`` placeholders, literal ``%``."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(pg_query(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self.raw.cursor()
        cursor.executemany(pg_query(sql), rows)
        return cursor

    def close(self) -> None:
        self.raw.close()


class PostgresStore(SqlStore):
    """The store in the PostgreSQL database at ``url`` (``postgresql://user:password@host:port/dbname``; any
    libpq URL, so ``~/.pgpass`` and the ``PG*`` environment variables apply). ``clock`` stamps creations and
    updates. The database must exist; its tables are created and migrated as needed."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, lock_timeout_s: float = 5.0) -> None:
        self.target = url
        self.where = redact(url)
        self.clock = clock
        self.lock_timeout_s = lock_timeout_s
        self._lock = threading.RLock()
        try:
            given = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: not a PostgreSQL URL: {exc}") from None
        self._connect_args: dict[str, Any] = {key: value for key, value in CONNECT_DEFAULTS.items()
                                              if key not in given}
        self._db: PgConnection | None = self._connect()
        try:
            self._migrate()
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"{self.where}: cannot open the store: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _connect(self) -> PgConnection:
        try:
            raw = psycopg.connect(self.target, autocommit=True, **self._connect_args)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{self.where}: cannot connect: {_first_line(exc)}") from None
        try:
            raw.execute(f"SET lock_timeout = {int(self.lock_timeout_s * 1000)}")
        except psycopg.Error as exc:
            raw.close()
            raise StoreError(f"{self.where}: cannot set up the connection: {_first_line(exc)}") from None
        return PgConnection(raw)

    def _begin(self, durable: bool = True) -> PgConnection:  # PostgreSQL commits durably either way
        for attempt in (1, 2):
            assert self._db is not None
            if self._db.raw.closed:  # lost by an earlier transaction
                self._db = self._connect()
            db = self._db
            try:
                db.raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({STORE_LOCK})")
                return db
            except psycopg.OperationalError as exc:
                if not db.raw.closed:  # the lock timed out: the transaction is open, and failed
                    self._finish(db, "ROLLBACK")
                elif attempt == 1:  # found dead at BEGIN, before any of the transaction ran: connect again, once
                    continue
                raise self._error(exc) from None
        raise AssertionError("unreachable")

    def _failure(self, exc: BaseException) -> StoreUnavailable | None:
        return self._error(exc) if isinstance(exc, psycopg.OperationalError) else None

    def _error(self, exc: psycopg.OperationalError) -> StoreUnavailable:
        if self._db is not None and self._db.raw.closed:
            return StoreUnavailable(f"{self.where}: connection lost (the next call connects again): "
                                    f"{_first_line(exc)}")
        return StoreUnavailable(f"{self.where}: {_first_line(exc)}")

    def _ddl(self, statement: str) -> str:
        return pg_ddl(statement)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


__all__ = ["PgConnection", "PostgresStore", "STORE_LOCK"]
