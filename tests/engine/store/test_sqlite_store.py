"""The SQLite store: identities, interactions, tickets, errors, persistence, and the trio wrapper."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from engine.errors import StoreError
from engine.store import (
    AsyncStore,
    Interaction,
    SqliteStore,
    guess_identity,
    normalise_identity,
    parse_reference,
)
from engine.store.sqlite import SCHEMA_VERSION
from tests.conftest import ManualClock


def _interaction(contact_id: str, customer_id: int, channel: str, arrived: float, **kw: object) -> Interaction:
    return Interaction(contact_id, customer_id, channel, "support", "a1", arrived, arrived + 5, arrived + 60,
                       "answered", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind, raw, stored", [
    ("phone", "+1 (555) 010-0100", "+15550100100"),
    ("phone", "0044 20 7946 0000", "+442079460000"),
    ("email", "  Ada@Example.COM ", "ada@example.com"),
    ("chat", " web-42 ", "web-42"),
])
def test_identities_are_normalised(kind: str, raw: str, stored: str) -> None:
    assert normalise_identity(kind, raw) == stored


@pytest.mark.parametrize("kind, raw, message", [
    ("phone", "", "phone identity: empty value"),
    ("phone", "call me", "not a phone number"),
    ("email", "ada.example.com", "not an e-mail address"),
    ("fax", "123", "identity kind 'fax'"),
])
def test_bad_identities_are_refused_clearly(kind: str, raw: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        normalise_identity(kind, raw)


def test_guess_identity() -> None:
    assert guess_identity("chat:web-1") == ("chat", "web-1")
    assert guess_identity("ADA@x.org") == ("email", "ada@x.org")
    assert guess_identity("+1 555 0100") == ("phone", "+15550100")
    assert guess_identity("web-7", channel="chat") == ("chat", "web-7")
    assert guess_identity("visitor-9") == ("chat", "visitor-9")
    with pytest.raises(StoreError, match="empty identity"):
        guess_identity("  ")


def test_identities_join_one_customer(store: SqliteStore) -> None:
    ada = store.find_or_create_customer("phone", "+1 555 0100", name="Ada", attributes={"tier": "gold"})
    assert store.find_or_create_customer("phone", "+15550100").id == ada.id  # same number, other spelling
    assert store.find_customer("chat", "web-42") is None
    linked = store.link_identity(ada.id, "chat", "web-42")
    assert linked.identities == (("chat", "web-42"), ("phone", "+15550100"))
    assert store.link_identity(ada.id, "chat", "web-42") == linked  # idempotent
    found = store.find_customer("chat", "web-42")
    assert found is not None and found.id == ada.id and found.name == "Ada" and found.attributes == {"tier": "gold"}
    bob = store.find_or_create_customer("email", "bob@example.com")
    with pytest.raises(StoreError, match=r"chat identity 'web-42' already belongs to customer 1, not 2"):
        store.link_identity(bob.id, "chat", "web-42")
    with pytest.raises(StoreError, match="customer 99: no such customer"):
        store.link_identity(99, "chat", "x")
    updated = store.update_customer(ada.id, name="Ada L.", attributes={"tier": None, "lang": "en"})
    assert updated.name == "Ada L." and updated.attributes == {"lang": "en"}


def test_history_across_channels_newest_first_and_idempotent(store: SqliteStore) -> None:
    ada = store.find_or_create_customer("phone", "+15550100")
    store.link_identity(ada.id, "email", "ada@example.com")
    other = store.find_or_create_customer("phone", "+15550199")
    store.record_interaction(_interaction("c1", ada.id, "voice", 100.0))
    store.record_interaction(_interaction("c2", ada.id, "email", 300.0))
    store.record_interaction(_interaction("c3", ada.id, "chat", 200.0))
    store.record_interaction(_interaction("c4", other.id, "voice", 250.0))
    again = _interaction("c1", ada.id, "voice", 100.0, disposition="resolved", data={"k": [1, 2]})
    store.record_interaction(again)
    store.record_interaction(again)
    history = store.history(ada.id)
    assert [(i.contact_id, i.channel) for i in history] == [("c2", "email"), ("c3", "chat"), ("c1", "voice")]
    assert history[2] == again
    assert [i.contact_id for i in store.history(ada.id, limit=1)] == ["c2"]
    with pytest.raises(StoreError, match="contact_id: empty"):
        store.record_interaction(_interaction("", ada.id, "voice", 1.0))
    with pytest.raises(StoreError, match="customer 42: no such customer"):
        store.record_interaction(_interaction("c9", 42, "voice", 1.0))


def test_ticket_lifecycle_with_history(store: SqliteStore, clock: ManualClock) -> None:
    ada = store.find_or_create_customer("phone", "+15550100")
    ticket = store.create_ticket(ada.id, "billing", "Invoice twice", contact_id="c1", note="caller upset",
                                 who="a1")
    assert ticket.reference == "T-000001" and ticket.status == "open" and ticket.created == 1000.0
    assert ticket.events[0].changes == {"status": [None, "open"], "department": [None, "billing"]}
    clock.now = 1100.0
    store.update_ticket("T-000001", assignee="bo", who="lead")
    clock.now = 1200.0
    store.update_ticket("t-1", status="pending", note="waiting for the bank", who="bo")
    clock.now = 1300.0
    done = store.update_ticket("1", status="resolved", who="bo")
    assert done.status == "resolved" and done.assignee == "bo" and done.updated == 1300.0
    assert [(e.at, e.who, e.changes, e.note) for e in done.events[1:]] == [
        (1100.0, "lead", {"assignee": ["", "bo"]}, ""),
        (1200.0, "bo", {"status": ["open", "pending"]}, "waiting for the bank"),
        (1300.0, "bo", {"status": ["pending", "resolved"]}, ""),
    ]
    second = store.create_ticket(ada.id, "support", "Router")
    assert [t.reference for t in store.open_tickets(ada.id)] == [second.reference]
    store.update_ticket(done.reference, status="open", note="came back")
    assert [t.reference for t in store.open_tickets(ada.id)] == ["T-000002", "T-000001"]


def test_refusals_are_clear(store: SqliteStore) -> None:
    ticket = store.create_ticket(None, "support", "Anonymous")
    store.update_ticket(ticket.reference, status="closed")
    with pytest.raises(StoreError, match=r"T-000001 status: cannot go from 'closed' to 'open' \(allowed: none"):
        store.update_ticket(ticket.reference, status="open")
    with pytest.raises(StoreError, match="status 'done': expected one of open, pending, resolved, closed"):
        store.update_ticket(ticket.reference, status="done")
    with pytest.raises(StoreError, match="ticket 'T-000077': no such ticket"):
        store.ticket("T-000077")
    assert store.find_ticket("T-000077") is None
    with pytest.raises(StoreError, match="ticket reference 'ABC'"):
        store.find_ticket("ABC")
    with pytest.raises(StoreError, match="nothing to change"):
        store.update_ticket(ticket.reference, status="closed")
    with pytest.raises(StoreError, match="ticket subject: empty"):
        store.create_ticket(None, "support", " ")
    assert store.ticket(ticket.reference).status == "closed"  # refusals wrote nothing
    assert parse_reference(" T-000123 ") == 123


def test_reopening_the_file_finds_everything(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "store.db"
    first = SqliteStore(path, clock=clock)
    ada = first.find_or_create_customer("email", "ada@example.com", name="Ada")
    first.record_interaction(_interaction("c1", ada.id, "email", 10.0))
    first.create_ticket(ada.id, "support", "Login")
    first.close()
    with pytest.raises(StoreError, match="the store is closed"):
        first.customer(ada.id)
    again = SqliteStore(path, clock=clock)
    assert again.schema_version() == SCHEMA_VERSION
    assert again.find_customer("email", "ADA@example.com") == ada
    assert [i.contact_id for i in again.history(ada.id)] == ["c1"]
    assert again.ticket("T-000001").subject == "Login"
    assert again.find_or_create_customer("phone", "+15550100").id == ada.id + 1
    again.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=rf"schema version 99 is newer than this Switchboard's \({SCHEMA_VERSION}\)"):
        SqliteStore(path)


def test_foreign_keys_are_enforced(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="customer 5: no such customer"):
        store.create_ticket(5, "support", "x")
    assert store._db is not None
    with pytest.raises(sqlite3.IntegrityError):
        store._db.execute("INSERT INTO identities (kind, value, customer_id) VALUES ('chat', 'x', 77)")


async def test_async_wrapper_under_trio(tmp_path: Path, clock: ManualClock) -> None:
    store = AsyncStore(SqliteStore(tmp_path / "a.db", clock=clock))
    ada = await store.find_or_create_customer("phone", "+15550100", name="Ada")

    async def write(n: int) -> None:
        await store.record_interaction(_interaction(f"c{n}", ada.id, "chat", float(n)))

    async with trio.open_nursery() as nursery:
        for n in range(10):
            nursery.start_soon(write, n)
    assert [i.contact_id for i in await store.history(ada.id, limit=3)] == ["c9", "c8", "c7"]
    ticket = await store.create_ticket(ada.id, "support", "Async", who="test")
    assert (await store.update_ticket(ticket.reference, status="pending")).status == "pending"
    assert [t.reference for t in await store.open_tickets(ada.id)] == [ticket.reference]
    with pytest.raises(StoreError, match="no such ticket"):
        await store.ticket("T-000404")
    await store.close()
