"""The store on both backends: identities, interactions, tickets, errors, persistence, and the trio wrapper."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import trio

from engine.errors import StoreError
from engine.reports import IntervalRow
from engine.store import (
    AsyncStore,
    Interaction,
    SqliteStore,
    SqlStore,
    guess_identity,
    normalise_identity,
    open_store,
    parse_reference,
    sql,
)
from engine.store.schema import MIGRATIONS, SCHEMA_VERSION
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


def test_identities_join_one_customer(store: SqlStore) -> None:
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


def test_history_across_channels_newest_first_and_idempotent(store: SqlStore) -> None:
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


def test_ticket_lifecycle_with_history(store: SqlStore, clock: ManualClock) -> None:
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


def test_refusals_are_clear(store: SqlStore) -> None:
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


def test_reopening_finds_everything(store_target: str, clock: ManualClock) -> None:
    first = open_store(store_target, clock=clock)
    ada = first.find_or_create_customer("email", "ada@example.com", name="Ada")
    first.record_interaction(_interaction("c1", ada.id, "email", 10.0))
    first.create_ticket(ada.id, "support", "Login")
    first.close()
    with pytest.raises(StoreError, match="the store is closed"):
        first.customer(ada.id)
    again = open_store(store_target, clock=clock)
    assert again.schema_version() == SCHEMA_VERSION
    assert again.find_customer("email", "ADA@example.com") == ada
    assert [i.contact_id for i in again.history(ada.id)] == ["c1"]
    assert again.ticket("T-000001").subject == "Login"
    assert again.find_or_create_customer("phone", "+15550100").id == ada.id + 1
    with again._tx() as db:
        db.execute("UPDATE schema_version SET version = 99")
    again.close()
    with pytest.raises(StoreError, match=rf"schema version 99 is newer than this Switchboard's \({SCHEMA_VERSION}\)"):
        open_store(store_target)


def test_the_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_foreign_keys_are_enforced(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="customer 5: no such customer"):
        store.create_ticket(5, "support", "x")
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), store._tx() as db:
        db.execute("INSERT INTO identities (kind, value, customer_id) VALUES ('chat', 'x', 77)")
    assert store.find_customer("chat", "x") is None


async def test_async_wrapper_under_trio(store_target: str, clock: ManualClock) -> None:
    store = AsyncStore(open_store(store_target, clock=clock))
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


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store target with nothing in it yet, once per backend."""
    if request.param == "sqlite":
        return str(tmp_path / "empty.db")
    return str(request.getfixturevalue("empty_postgres_url"))


def _open_at_version(target: str, version: int, monkeypatch: pytest.MonkeyPatch) -> SqlStore:
    """The store at ``target`` opened by a Switchboard whose schema stops at ``version``."""
    with monkeypatch.context() as patch:
        patch.setattr(sql, "MIGRATIONS", MIGRATIONS[:version])
        patch.setattr(sql, "SCHEMA_VERSION", version)
        return open_store(target)


def test_an_older_database_is_brought_up_to_date_and_keeps_its_rows(empty_target: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    old = _open_at_version(empty_target, 1, monkeypatch)
    ada = old.find_or_create_customer("phone", "+15550100", name="Ada")
    old.close()
    new = open_store(empty_target)
    assert new.schema_version() == SCHEMA_VERSION
    assert new.customer(ada.id) == ada
    assert new.dnc_add("+14155550100")  # a table of a later migration
    new.close()


def test_a_failing_migration_changes_nothing(empty_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = _open_at_version(empty_target, 1, monkeypatch)
    with old._tx() as db:  # in the way of migration 1 -> 2, after its first table
        db.execute("CREATE TABLE leads (x TEXT)")
    old.close()
    with pytest.raises(StoreError, match="cannot open the store: .*leads"):
        open_store(empty_target)
    again = _open_at_version(empty_target, 1, monkeypatch)
    assert again.schema_version() == 1
    with again._tx() as db:  # lead_imports, created before the failure, was rolled back with it
        db.execute("CREATE TABLE lead_imports (x TEXT)")
    again.close()


def test_literal_percent_and_question_marks_reach_the_database(store: SqlStore) -> None:
    with store._tx() as db:
        assert db.execute("SELECT '100%', 'is it?', 'it''s ?', ?", ("?%",)).fetchone() == (
            "100%", "is it?", "it's ?", "?%")
    ada = store.find_or_create_customer("chat", "50% off?", name="%s ?")
    assert store.customer(ada.id).name == "%s ?" and store.find_customer("chat", "50% off?") == ada


def test_threads_and_connections_at_once_lose_no_update(store_target: str) -> None:
    stores = [open_store(store_target), open_store(store_target)]  # two connections, as two processes have
    row = IntervalRow("queue", "q", 0.0)
    row.counts["offered"] = 1

    def work(worker: int) -> None:
        store = stores[worker % 2]
        for n in range(20):
            store.add_report_rows([row])  # read, add, write back: lost updates would show in the total
            store.find_or_create_customer("phone", f"+1555010{n:02d}")  # every worker, the same numbers

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            for done in [pool.submit(work, worker) for worker in range(6)]:
                done.result()
        assert stores[0].report_rows("queue", start=0.0, end=1.0)[0].counts["offered"] == 120
        ids = {stores[1].find_customer("phone", f"+1555010{n:02d}").id for n in range(20)}  # type: ignore[union-attr]
        assert ids == set(range(1, 21))
    finally:
        for store in stores:
            store.close()


def test_sqlite_commits_derived_records_without_waiting_for_the_disk(tmp_path: Path) -> None:
    """CDRs, report counters, interactions and lead attempts are ``durable=False`` (WAL with synchronous NORMAL:
    safe from a crash of the process, a power cut may lose the last ones); everything else waits for the disk."""
    from engine.store import Interaction, SqliteStore

    store = SqliteStore(tmp_path / "s.db")
    try:
        def synchronous() -> int:
            return int(store._db.execute("PRAGMA synchronous").fetchone()[0])

        assert synchronous() == 2  # FULL
        store.record_interaction(Interaction("c1", None, "voice"))
        assert synchronous() == 1  # NORMAL
        store.add_report_rows([IntervalRow("queue", "q", 0.0)])
        assert synchronous() == 1
        store.add_audit("ann", "update", "queue:q")
        assert synchronous() == 2
        store.create_user("bob", "admin")
        assert synchronous() == 2 and store.user("bob").role == "admin"
    finally:
        store.close()


def test_an_interaction_is_recorded_for_a_customer_found_or_made_by_identity(store: SqlStore) -> None:
    from engine.store import Interaction

    first = store.record_customer_interaction("phone", "+44 20 7946 0000", Interaction("c1", None, "voice"))
    again = store.record_customer_interaction("phone", "+442079460000", Interaction("c2", None, "voice",
                                                                                      disposition="sale"))
    assert first.customer_id is not None and again.customer_id == first.customer_id
    customer = store.find_customer("phone", "+442079460000")
    assert customer is not None and customer.id == first.customer_id and customer.name == ""
    assert [i.contact_id for i in store.history(customer.id)] == ["c2", "c1"]  # same arrival: id descending
    with pytest.raises(StoreError, match="phone"):
        store.record_customer_interaction("phone", "not a number", Interaction("c3", None, "voice"))
    assert store.find_customer("phone", "+442079460000") == customer
