"""The record of contacts: customers and their identities, interactions on every channel, tickets.

``Store`` (``engine.store.base``) is the blocking interface with its records; ``SqliteStore`` the embedded
implementation; ``AsyncStore`` the trio wrapper. ``open_store(path)`` is what the engine calls at start.
"""

from __future__ import annotations

from pathlib import Path

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
from engine.store.sqlite import SqliteStore


def open_store(path: str | Path) -> SqliteStore:
    """The embedded store in ``path`` (created and migrated as needed). A PostgreSQL URL is for a later issue."""
    return SqliteStore(path)


__all__ = [
    "AsyncStore", "CHANNEL_IDENTITY", "Customer", "IDENTITY_KINDS", "Interaction", "OPEN_STATUSES", "SqliteStore",
    "Store", "TICKET_STATUSES", "TICKET_TRANSITIONS", "Ticket", "TicketEvent", "format_reference", "guess_identity",
    "normalise_identity", "open_store", "parse_reference",
]
