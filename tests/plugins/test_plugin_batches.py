"""``acall``'s deadline starts afresh for each implementation; ``acall_many`` makes a batch of calls, isolated."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from plugins import hookimpl
from plugins.manager import PluginManager


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let abandoned worker threads finish


class SlowHistory:
    """An async CRM taking 0.6 s for each history."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    async def crm_history(self, customer: str) -> list:
        await trio.sleep(0.6)
        return [{"from": self.name}]


async def test_each_implementation_has_its_own_deadline(autojump_clock: trio.testing.MockClock,
                                                        bare: PluginManager) -> None:
    bare.register(SlowHistory("one"), "one")
    bare.register(SlowHistory("two"), "two")
    start = trio.current_time()
    assert await bare.acall("crm_history", deadline_s=1.0, customer="+1") == [[{"from": "two"}], [{"from": "one"}]]
    assert trio.current_time() - start == pytest.approx(1.2) and bare.faults == {}


class Lookup:
    """A sync CRM that knows the customers in ``known``, raises for ``"bad"`` and records what it was asked."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []
        self.threads: set[int] = set()

    @hookimpl
    def crm_lookup(self, customer: str) -> dict | None:
        self.asked.append(customer)
        self.threads.add(threading.get_ident())
        if customer == "bad":
            raise RuntimeError("CRM bug")
        return {"name": self.known[customer]} if customer in self.known else None


async def test_acall_many_runs_a_sync_batch_in_one_thread_isolated(bare: PluginManager) -> None:
    first, second = Lookup({"+1": "Ada"}), Lookup({"+2": "Bob", "+1": "not asked"})
    bare.register(second, "second")
    bare.register(first, "first")  # registered last: asked first
    calls = [{"customer": c} for c in ("+1", "bad", "+2", "+3")]
    answers = await bare.acall_many("crm_lookup", calls, default={"name": "unknown"})
    assert answers == [{"name": "Ada"}, {"name": "unknown"}, {"name": "Bob"}, {"name": "unknown"}]
    assert first.asked == ["+1", "bad", "+2", "+3"] and len(first.threads) == 1
    assert second.asked == ["bad", "+2", "+3"]  # firstresult: "+1" was answered already
    assert bare.faults == {"first": 1, "second": 1}


async def test_acall_many_collects_and_awaits_async_implementations(autojump_clock: trio.testing.MockClock,
                                                                   bare: PluginManager) -> None:
    bare.register(SlowHistory("async"), "async")
    start = trio.current_time()
    answers = await bare.acall_many("crm_history", [{"customer": "+1"}, {"customer": "+2"}], deadline_s=1.0)
    assert answers == [[[{"from": "async"}]], [[{"from": "async"}]]]
    assert trio.current_time() - start == pytest.approx(1.2)


async def test_acall_many_abandons_a_hanging_batch(autojump_clock: trio.testing.MockClock, bare: PluginManager,
                                                   release: threading.Event) -> None:
    class Hanging:
        def __init__(self) -> None:
            self.started = 0

        @hookimpl
        def crm_write_back(self, contact_record: object) -> None:
            self.started += 1
            release.wait()

    hanging = Hanging()
    bare.register(hanging, "hanging")
    start = trio.current_time()
    assert await bare.acall_many("crm_write_back", [{"contact_record": i} for i in range(3)], deadline_s=0.5) \
        == [[], [], []]
    assert trio.current_time() - start == pytest.approx(1.5)  # the deadline of each call, in all
    assert bare.overruns == {"hanging": 3} and bare.faults == {"hanging": 3}
    assert hanging.started <= 1  # the abandoned thread starts no more of the batch's calls


async def test_write_backs_queued_meanwhile_go_in_one_batch_in_order(bare: PluginManager) -> None:
    from engine.events import ContactRecord
    from plugins.dispatch import ChannelDispatcher

    class SyncCrm:
        def __init__(self) -> None:
            self.written: list[str] = []
            self.done = trio.Event()

        @hookimpl
        def crm_write_back(self, contact_record: ContactRecord) -> None:  # in a worker thread
            self.written.append(contact_record.contact_id)
            if len(self.written) == 5:
                trio.from_thread.run_sync(self.done.set)

    crm = SyncCrm()
    bare.register(crm, "crm")
    batches: list[int] = []
    acall_many = bare.acall_many

    async def counted(hook_name: str, calls: list, **kwargs: object) -> list:
        batches.append(len(calls))
        return await acall_many(hook_name, calls, **kwargs)  # type: ignore[arg-type]

    bare.acall_many = counted  # type: ignore[method-assign]
    dispatcher = ChannelDispatcher(bare, ["voice"])
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        for i in range(5):  # queuing a record does not yield: the writer finds all five waiting
            await dispatcher.handle(ContactRecord(f"c{i}", "voice", "+1", "q", "a1", 0.0, 1.0, 2.0, "answered",
                                                  "resolved", "", (), {}), 2.0)
        with trio.fail_after(10):
            await crm.done.wait()
        nursery.cancel_scope.cancel()
    assert crm.written == ["c0", "c1", "c2", "c3", "c4"] and batches == [5]


async def test_a_full_write_back_queue_drops_records_instead_of_holding_the_channel_up(
        autojump_clock: trio.testing.MockClock, bare: PluginManager, monkeypatch: pytest.MonkeyPatch) -> None:
    import plugins.dispatch
    from engine.events import ContactRecord, HangUp
    from plugins.dispatch import ChannelDispatcher

    class StuckCrm:
        @hookimpl
        async def crm_write_back(self, contact_record: ContactRecord) -> None:
            await trio.sleep_forever()

    class Channel:
        @hookimpl
        async def channel_hangup(self, channel: str, action: object, now: float) -> bool:
            return True

    bare.register(StuckCrm(), "stuck")
    bare.register(Channel(), "chan")
    monkeypatch.setattr(plugins.dispatch, "WRITE_BACK_BUFFER", 2)
    dispatcher = ChannelDispatcher(bare, ["voice"], deadline_s=3600.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        start = trio.current_time()
        for i in range(5):
            await dispatcher.handle(ContactRecord(f"c{i}", "voice", "+1", "q", "a1", 0.0, 1.0, 2.0, "answered",
                                                  "resolved", "", (), {}), 2.0)
        dispatcher.track("c9", "voice")
        await dispatcher.handle(HangUp("c9", "closed"), 2.0)
        # c0 went straight to the waiting writer (stuck in the CRM since), c1 and c2 fill the queue
        assert trio.current_time() == start and dispatcher.write_backs_dropped == 2 and dispatcher.untaken == 0
        nursery.cancel_scope.cancel()
