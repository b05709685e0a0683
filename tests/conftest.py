"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio.testing

from engine.store import SqlStore, open_store
from tests.postgres_server import SKIP_VARIABLE, PostgresServer, PostgresUnavailable, find_bindir


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline as soon as every task is blocked (trio's own idiom)."""
    return trio.testing.MockClock(autojump_threshold=0)


def _register_hypothesis_profiles() -> None:
    """CI replays the same examples on every run (``derandomize``) so a landing never depends on luck;
    ``HYPOTHESIS_PROFILE=explore`` searches afresh with many more examples, for local bug hunting."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("explore", max_examples=2000, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()


class ManualClock:
    """A wall clock the test sets by hand (``clock.now = ...``), for records stamped with times."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's private PostgreSQL server (``tests.postgres_server``), started once, stopped at the end.
    Fails the tests that need it when it cannot start, unless ``SWITCHBOARD_SKIP_POSTGRES=1`` skips them."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: the PostgreSQL store tests are skipped")
    server: PostgresServer | None = None
    try:
        server = PostgresServer(find_bindir())
        server.start()
    except PostgresUnavailable as exc:
        if server is not None:
            server.stop()
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database on the test server, the store's schema already in it; dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def empty_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server (``template1``: no table of ours); dropped
    afterwards."""
    name = postgres_server.create_database(template="template1")
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """What ``open_store`` takes, once per backend: an SQLite file in ``tmp_path``, then a fresh PostgreSQL
    database. Reopening the same target finds the same data."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_target: str, clock: ManualClock) -> Iterator[SqlStore]:
    """A fresh store on the manual ``clock``, once on SQLite and once on PostgreSQL."""
    s = open_store(store_target, clock=clock)
    yield s
    s.close()
