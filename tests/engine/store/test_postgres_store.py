"""PostgreSQL only: the schema in PostgreSQL's types, refusals, lost connections and server restarts, locking
between connections. (Everything else the store does is tested on both backends through the ``store`` fixture.)"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest

from engine.errors import StoreError, StoreUnavailable
from engine.store import open_store
from engine.store.postgres import PostgresStore
from engine.store.schema import SCHEMA_VERSION
from tests.conftest import ManualClock
from tests.postgres_server import PostgresServer


@pytest.fixture
def pg_store(postgres_url: str, clock: ManualClock) -> Iterator[PostgresStore]:
    store = open_store(postgres_url, clock=clock)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def _columns(url: str, table: str) -> dict[str, tuple[str, str]]:
    """column -> (data type, is identity) of ``table``."""
    with psycopg.connect(url) as db:
        return {name: (kind, identity) for name, kind, identity in db.execute(
            "SELECT column_name, data_type, is_identity FROM information_schema.columns WHERE table_name = %s",
            (table,))}


def test_an_empty_database_is_migrated_in_postgresql_types(empty_postgres_url: str) -> None:
    store = open_store(empty_postgres_url)
    assert isinstance(store, PostgresStore) and store.schema_version() == SCHEMA_VERSION
    store.close()
    customers = _columns(empty_postgres_url, "customers")
    assert customers["id"] == ("bigint", "YES") and customers["created"] == ("double precision", "NO")
    assert "rowid" not in customers  # its INTEGER PRIMARY KEY is its insertion order
    leads = _columns(empty_postgres_url, "leads")
    assert leads["rowid"] == ("bigint", "YES") and leads["attempts"] == ("bigint", "NO")
    with psycopg.connect(empty_postgres_url) as db:
        tables = {row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert tables == {"schema_version", "customers", "identities", "interactions", "tickets", "ticket_events",
                      "lead_imports", "leads", "dnc", "compliance_audit", "report_intervals", "users", "api_tokens",
                      "audit_log", "cdrs", "cdr_agents"}
    again = open_store(empty_postgres_url)  # nothing left to run
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_a_newer_schema_is_refused_and_no_connection_is_left(postgres_url: str,
                                                              postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=rf"/{postgres_url.rpartition('/')[2]}: schema version "
                                         rf"{SCHEMA_VERSION + 1} is newer than this Switchboard's"):
        open_store(postgres_url)
    assert postgres_server.backend_pids(postgres_url) == []


def test_messages_name_the_database_but_never_the_password(postgres_server: PostgresServer) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    where = rf"^postgresql://u:\*\*\*@127.0.0.1:{port}/db"
    with pytest.raises(StoreUnavailable, match=f"{where}: cannot connect: ") as info:
        open_store(f"postgresql://u:s3cret@127.0.0.1:{port}/db")
    assert "s3cret" not in str(info.value)
    missing = postgres_server.url("no_such_db")
    with pytest.raises(StoreError, match=r"\*\*\*@.*/no_such_db: cannot connect: .*does not exist") as info:
        open_store(missing)
    assert postgres_server.password not in str(info.value)


def test_a_connection_cut_between_calls_is_replaced_unnoticed(pg_store: PostgresStore,
                                                               postgres_server: PostgresServer) -> None:
    ada = pg_store.find_or_create_customer("phone", "+15550100", name="Ada")
    assert postgres_server.terminate(pg_store.target) == 1
    assert pg_store.customer(ada.id) == ada
    assert postgres_server.terminate(pg_store.target) == 1
    assert pg_store.find_or_create_customer("email", "bo@example.com").id == ada.id + 1


def test_a_connection_cut_inside_a_transaction_fails_that_call_only(pg_store: PostgresStore,
                                                                     postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreUnavailable, match=r"connection lost \(the next call connects again\)"), \
            pg_store._tx() as db:
        db.execute("INSERT INTO customers (name, created) VALUES ('half', 1.0)")
        postgres_server.terminate(pg_store.target)
        db.execute("SELECT 1")
    with pg_store._tx() as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone() == (0,)  # never committed


def test_the_store_outlives_a_server_restart(pg_store: PostgresStore, postgres_server: PostgresServer) -> None:
    ada = pg_store.find_or_create_customer("phone", "+15550100", name="Ada")
    postgres_server.halt()
    try:
        with pytest.raises(StoreUnavailable, match="cannot connect"):  # the server is down: each call says so
            pg_store.customer(ada.id)
        with pytest.raises(StoreUnavailable, match="cannot connect"):
            pg_store.customer(ada.id)
    finally:
        postgres_server.resume()
    assert pg_store.customer(ada.id) == ada  # and the first call once it is back goes through
    ticket = pg_store.create_ticket(ada.id, "support", "After the restart")
    assert ticket.reference == "T-000001"


def test_a_transaction_waits_for_another_connection_then_gives_up(postgres_url: str) -> None:
    first = open_store(postgres_url)
    second = PostgresStore(postgres_url, lock_timeout_s=0.05)
    try:
        with first._tx() as db:
            db.execute("INSERT INTO customers (name, created) VALUES ('first', 1.0)")
            with pytest.raises(StoreUnavailable, match="lock timeout"):
                second.find_or_create_customer("phone", "+15550100")
        assert second.find_or_create_customer("phone", "+15550100").id == 2  # the lock is free again
    finally:
        first.close()
        second.close()
