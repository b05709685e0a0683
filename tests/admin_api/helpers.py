"""Test helpers shared by the channel tests (chat, e-mail): a small center, a test CRM plugin, an action recorder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from engine.center import Center
from engine.config import parse_config
from engine.events import Action
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from plugins import hookimpl
from plugins.manager import PluginManager

CENTER = {
    "skills": ["support"],
    "agents": [
        {"id": "a1", "skills": {"support": 5}, "capacity": {"voice": 1, "chat": 2, "email": 2}},
    ],
    "queues": [
        {"id": "chat", "channel": "chat", "skills": {"support": 1}, "wrap_up_s": 600.0, "ring_timeout_s": 600.0,
         "survey": True},
        {"id": "voice", "channel": "voice", "skills": {"support": 1}, "wrap_up_s": 600.0, "ring_timeout_s": 600.0},
        {"id": "email", "channel": "email", "skills": {"support": 1}, "wrap_up_s": 600.0,
         "ring_timeout_s": 600.0},
    ],
}


class TestCrm:
    """A CRM that knows one customer, gives everyone one past interaction, and records the write-backs."""

    __test__ = False

    def __init__(self) -> None:
        self.written, self._written_out = trio.open_memory_channel[Any](100)
        self.records: list[Any] = []

    @hookimpl
    def crm_lookup(self, customer: str) -> dict[str, Any] | None:
        if customer == "ada@example.com":
            return {"id": "crm-1", "name": "Ada Lovelace", "tier": "gold"}
        return None

    @hookimpl
    def crm_history(self, customer: str) -> list[dict[str, Any]]:
        return [{"channel": "voice", "summary": f"called about an invoice ({customer})", "disposition": "resolved"}]

    @hookimpl
    async def crm_write_back(self, contact_record: Any) -> None:
        self.records.append(contact_record)
        await self.written.send(contact_record)

    async def next_record(self) -> Any:
        return await self._written_out.receive()


class Recorder:
    """A sync action sink: every action, and ``wait_for(pred)`` for the first one matching."""

    def __init__(self) -> None:
        self.actions: list[tuple[Action, float]] = []
        self._waiters: list[tuple[Callable[[Action], bool], trio.Event, list[Action]]] = []

    def handle(self, action: Action, now: float) -> None:
        self.actions.append((action, now))
        for pred, event, box in list(self._waiters):
            if pred(action):
                box.append(action)
                event.set()
                self._waiters.remove((pred, event, box))

    async def wait_for(self, pred: Callable[[Action], bool]) -> Action:
        for action, _ in self.actions:
            if pred(action):
                return action
        event, box = trio.Event(), []
        self._waiters.append((pred, event, box))
        await event.wait()
        return box[0]


def make_engine(tmp_path: Path, crm: TestCrm) -> tuple[Runtime, PluginManager, Recorder]:
    """A runtime on the real clock (the sockets are real: virtual time would jump while they wait), the
    built-in plugins plus the test CRM, and a recorder of every action."""
    config = parse_config(CENTER, "test")
    recorder = Recorder()
    runtime = Runtime(Center.build(config), Journal.open(tmp_path / "journal", fsync="never"), TrioClock(0.0),
                      sinks=[recorder])
    manager = PluginManager(autoload=False)
    manager.register(crm, "test-crm")
    return runtime, manager, recorder
