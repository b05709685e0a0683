"""One dispatcher for every channel (as ``switchboard serve`` runs it): the ACD's channel actions reach the owning
adapter through the channel hooks, contacts nobody tracked are looked up in the ACD, records reach the CRM."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import trio
import trio.testing

from engine.acd import Acd
from engine.events import (
    AgentLogin,
    AgentReady,
    Bridge,
    ContactArrived,
    ContactRecord,
    CustomerHungUp,
    HangUp,
    OfferAccepted,
    OfferContact,
    WrapUpDone,
)
from engine.journal import Journal
from engine.model import AgentConfig, CenterConfig, OpenHours, QueueConfig
from engine.runtime import Runtime, TrioClock
from plugins import hookimpl
from plugins.dispatch import ChannelDispatcher
from plugins.manager import PluginManager

CONFIG = CenterConfig(
    skills=("sales",),
    agents=(AgentConfig("a1", skills={"sales": 5}, capacity={"voice": 1, "chat": 2, "email": 1}),),
    queues=(QueueConfig("sales", skills={"sales": 1}, wrap_up_s=5),
            QueueConfig("web", channel="chat", skills={"sales": 1}),
            QueueConfig("night", skills={"sales": 1}, hours=OpenHours(timezone="UTC", weekly={0: [(0, 1)]}))),
)


class VoiceAdapter:
    """Owns "voice": records what it was asked to do. ``async`` hooks: under autojump a sync one would run in a
    worker thread, and trio's clock jumps while it waits."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def _take(self, hook: str, channel: str, action: Any) -> bool | None:
        if channel != "voice":
            return None
        self.calls.append((hook, action))
        return True

    @hookimpl
    async def channel_answer(self, channel: str, action: Any, now: float) -> bool | None:
        return self._take("answer", channel, action)

    @hookimpl
    async def channel_bridge(self, channel: str, action: Any, now: float) -> bool | None:
        return self._take("bridge", channel, action)

    @hookimpl
    async def channel_hangup(self, channel: str, action: Any, now: float) -> bool | None:
        return self._take("hangup", channel, action)

    @hookimpl
    async def channel_play(self, channel: str, action: Any, now: float) -> bool | None:
        return self._take("play", channel, action)


class Crm:
    """``async``: under autojump a sync one would run in a worker thread, and trio's clock jumps while it waits."""

    def __init__(self) -> None:
        self.records: list[ContactRecord] = []

    @hookimpl
    async def crm_write_back(self, contact_record: ContactRecord) -> None:
        self.records.append(contact_record)


async def test_actions_go_to_the_adapter_of_their_channel(tmp_path: Path,
                                                         autojump_clock: trio.testing.MockClock) -> None:
    manager = PluginManager(autoload=False, builtins=False)
    voice, crm = VoiceAdapter(), Crm()
    manager.register(voice, "voice")
    manager.register(crm, "crm")
    acd = Acd(CONFIG)
    runtime = Runtime(acd, Journal.open(tmp_path, fsync="never"), TrioClock(0.0))

    def channel_of(contact_id: str) -> str | None:
        contact = acd.contacts.get(contact_id)
        return contact.channel if contact else None

    def queue_channel(queue_id: str) -> str | None:
        return acd.queues[queue_id].channel

    dispatcher = ChannelDispatcher(manager, None, lookup=channel_of, queue_lookup=queue_channel)
    runtime.add_sink(dispatcher)
    async with runtime.running():
        await runtime.submit(AgentLogin("a1"))
        await runtime.submit(AgentReady("a1"))
        await runtime.submit(ContactArrived("c1", queue="sales", customer="+34600000001"))
        await runtime.submit(OfferAccepted("a1", "c1"))
        await runtime.submit(CustomerHungUp("c1"))
        await runtime.submit(WrapUpDone("a1", "c1", "resolved"))
        # A closed queue (open Mondays 00:00-00:01; t=0 is a Thursday): the ACD hangs up and lets the contact go in the same breath.
        await runtime.submit(ContactArrived("c2", queue="night"))
        # Nobody owns chat: the offer is counted as untaken, routing goes on.
        await runtime.submit(ContactArrived("c3", channel="chat", queue="web"))
        await runtime.submit(CustomerHungUp("c3"))
        await trio.sleep(1)  # virtual: lets the dispatcher's task catch up
    kinds = [(hook, type(action)) for hook, action in voice.calls]
    assert kinds[:2] == [("answer", OfferContact), ("bridge", Bridge)]
    assert ("hangup", HangUp) in kinds
    assert [a.contact_id for h, a in voice.calls if isinstance(a, HangUp)] == ["c2"]
    assert dispatcher.untaken == 2  # chat: the offer, then its cancellation
    assert {r.contact_id for r in crm.records} >= {"c1", "c2"}
    assert next(r for r in crm.records if r.contact_id == "c1").disposition == "resolved"


async def test_a_failing_write_back_is_isolated() -> None:
    """Real clock: the broken CRM is sync and runs in a worker thread."""

    class BrokenCrm:
        @hookimpl
        def crm_write_back(self, contact_record: ContactRecord) -> None:
            raise RuntimeError("CRM down")

    manager = PluginManager(autoload=False, builtins=False)
    manager.register(BrokenCrm(), "broken-crm")
    good = Crm()  # registered last, so called first
    manager.register(good, "crm")
    dispatcher = ChannelDispatcher(manager, None, lookup=lambda contact_id: "voice")
    record = ContactRecord("c9", "voice", "", "sales", "", 0.0, None, 1.0, "abandoned", "", "", (), {})
    await dispatcher.handle(record, 1.0)
    assert manager.faults == {"broken-crm": 1}
    assert good.records == [record]


async def test_write_backs_run_off_the_channel_path_in_order(autojump_clock) -> None:
    """With its writer task running, a slow CRM write-back does not hold up the next channel action."""
    import trio

    from engine.events import ContactRecord, HangUp
    from plugins import hookimpl
    from plugins.dispatch import ChannelDispatcher
    from plugins.manager import PluginManager

    written: list[str] = []
    hung_up: list[float] = []

    class SlowCrm:
        @hookimpl
        async def crm_write_back(self, contact_record):
            await trio.sleep(0.5)
            written.append(contact_record.contact_id)

    class Channel:
        @hookimpl
        async def channel_hangup(self, channel, action, now):
            if channel != "voice":
                return None
            hung_up.append(trio.current_time())
            return True

    manager = PluginManager(autoload=False, builtins=False)  # only these two: no sync hook in a worker thread
    manager.register(SlowCrm(), "slow-crm")
    manager.register(Channel(), "chan")
    dispatcher = ChannelDispatcher(manager, ["voice"], deadline_s=5.0)
    record = ContactRecord("c1", "voice", "+1", "q", "a1", 0.0, 1.0, 2.0, "answered", "resolved", "", (), {})
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        start = trio.current_time()
        await dispatcher.handle(record, 0.0)
        await dispatcher.handle(dataclasses.replace(record, contact_id="c2"), 0.0)
        dispatcher.track("c3", "voice")
        await dispatcher.handle(HangUp("c3", "closed"), 0.0)
        assert hung_up == [start] and written == []  # the hang-up did not wait for the write-backs
        await trio.sleep(0.75)
        assert written == ["c1"]  # one at a time, in order
        await trio.sleep(0.5)
        assert written == ["c1", "c2"]
        nursery.cancel_scope.cancel()
