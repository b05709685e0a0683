"""The record of contacts: customers and their identities, interactions on every channel, tickets; lead lists,
do-not-call lists, report intervals.

``Store`` (``engine.store.base``) is the blocking interface with its records; ``SqlStore`` (``engine.store.sql``)
implements it once for both backends: ``SqliteStore``, the embedded default, and ``PostgresStore``
(``engine.store.postgres``) for production. ``AsyncStore`` is the trio wrapper. ``open_store(target)`` is what
the engine calls at start, with the target ``engine.store.target.store_target`` resolves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from engine.errors import StoreError
from engine.store.aio import AsyncStore
from engine.store.base import (
    CHANNEL_IDENTITY,
    IDENTITY_KINDS,
    OPEN_STATUSES,
    TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Customer,
    Interaction,
    Store,
    Ticket,
    TicketEvent,
    format_reference,
    guess_identity,
    normalise_identity,
    parse_reference,
)
from engine.store.sql import SqlStore
from engine.store.sqlite import SqliteStore
from engine.store.target import is_postgres_url, target_problem


def open_store(target: str | Path, *, clock: Callable[[], float] = time.time) -> SqlStore:
    """The store ``target`` names, created and migrated as needed: a ``postgresql://`` URL is a ``PostgresStore``
    (the database must exist), anything else the path of an ``SqliteStore`` file (its directory is created when
    missing). ``StoreError`` naming the target when it cannot be opened."""
    if isinstance(target, str) and is_postgres_url(target):
        from engine.store.postgres import PostgresStore  # psycopg is imported only by those who use it

        return PostgresStore(target, clock=clock)
    problem = target_problem(str(target))
    if problem is not None:
        raise StoreError(f"store {str(target)!r}: {problem}")
    path = Path(target)
    if str(target) != ":memory:":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path.parent}: cannot create the store's directory: {exc.strerror or exc}") from None
    return SqliteStore(path, clock=clock)


__all__ = [
    "AsyncStore", "CHANNEL_IDENTITY", "Customer", "IDENTITY_KINDS", "Interaction", "OPEN_STATUSES", "SqlStore",
    "SqliteStore",
    "Store", "TICKET_STATUSES", "TICKET_TRANSITIONS", "Ticket", "TicketEvent", "format_reference", "guess_identity",
    "normalise_identity", "open_store", "parse_reference",
]
