"""A running admin API for the tests: a ``Center`` under the journaled runtime (real clock: the sockets are real),
the SQLite store, the admin API served by hypercorn on loopback, and one token per role.

Agents a1, a2 are in team "east", a3 in "west"; the supervisor oversees "east"; the agent token is a1's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from admin_api import EngineHandle, create_app, serve
from admin_api.auth import create_token
from admin_api.security import hash_password
from engine.center import Center
from engine.config import parse_config
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from engine.store import SqliteStore
from plugins.manager import PluginManager
from tests.admin_api.http import HttpClient

CENTER = {
    "skills": ["sales", "support", "billing"],
    "agents": [
        {"id": "a1", "name": "Ann", "skills": {"sales": 5}, "teams": ["east"]},
        {"id": "a2", "name": "Bob", "skills": {"support": 5}, "teams": ["east"]},
        {"id": "a3", "name": "Cid", "skills": {"billing": 5, "support": 2}, "teams": ["west"]},
    ],
    "queues": [
        {"id": "sales", "skills": {"sales": 1}},
        {"id": "support", "skills": {"support": 1}, "max_wait_s": 600, "overflow_queue": "billing"},
        {"id": "billing", "skills": {"billing": 1}},
        {"id": "chat", "channel": "chat", "skills": {"support": 1}},
    ],
    "workflows": [{"id": "w1", "steps": [{"queue": "support", "timeout_s": 30}, {"queue": "billing"}]}],
}
PASSWORD = "correct horse battery"


@dataclass
class Api:
    """The running server: ``client`` (admin token), ``tokens[role]``, ``engine``, ``store``, ``runtime``."""

    port: int
    tokens: dict[str, str]
    engine: EngineHandle
    store: SqliteStore
    runtime: Runtime

    @property
    def client(self) -> HttpClient:
        return HttpClient(self.port, self.tokens["admin"])

    def as_(self, role: str | None) -> HttpClient:
        return HttpClient(self.port, self.tokens[role] if role else None)


@asynccontextmanager
async def running_api(tmp_path: Path, config: dict[str, Any] | None = None) -> AsyncIterator[Api]:
    center = Center.build(parse_config(config or CENTER, "test"))
    runtime = Runtime(center, Journal.open(tmp_path / "journal", fsync="never"), TrioClock.wall())
    store = SqliteStore(tmp_path / "store.sqlite3")
    tokens = {
        "admin": create_token(store, "test-admin", "admin")[0],
        "supervisor": create_token(store, "test-supervisor", "supervisor", teams=["east"])[0],
        "agent": create_token(store, "test-agent", "agent", agent_id="a1")[0],
    }
    store.create_user("ann", "agent", password_hash=hash_password(PASSWORD), agent_id="a1")
    engine = EngineHandle(runtime, PluginManager(autoload=False), {}, store=store)
    app = create_app(engine)
    try:
        async with runtime.running(), trio.open_nursery() as nursery:
            urls = await nursery.start(serve, app, "127.0.0.1", 0)
            try:
                yield Api(int(urls[0].rsplit(":", 1)[1]), tokens, engine, store, runtime)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        store.close()
