"""A plugin that raises or hangs never stops routing: the caller gets the safe default and the fault is counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import trio

from engine.events import OfferContact
from plugins import Verdict, hookimpl
from plugins.manager import ObserverSink, PluginManager


class Raising:
    @hookimpl
    def crm_lookup(self, customer: str) -> dict:
        raise RuntimeError("CRM is down")

    @hookimpl
    def compliance_check(self, request: dict) -> Verdict:
        raise RuntimeError("rule broken")

    @hookimpl
    def observe_action(self, action: object, now: float) -> None:
        raise RuntimeError("webhook failed")


class Healthy:
    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def crm_lookup(self, customer: str) -> dict:
        return {"name": "Ada"}

    @hookimpl
    def observe_action(self, action: object, now: float) -> None:
        self.seen += 1


class Hanging:
    """Blocks until the test releases it."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    @hookimpl
    def crm_lookup(self, customer: str) -> dict:
        self.release.wait()
        return {"name": "too late"}

    @hookimpl
    def compliance_check(self, request: dict) -> Verdict:
        self.release.wait()
        return Verdict(True, "too late", "hang")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let abandoned worker threads finish


def test_raising_plugin_gets_default_and_is_counted(bare: PluginManager) -> None:
    bare.register(Raising(), "raising")
    assert bare.call("crm_lookup", customer="+1", default={"name": "unknown"}) == {"name": "unknown"}
    assert bare.faults == {"raising": 1}
    bare.call("crm_lookup", customer="+1")
    assert bare.faults == {"raising": 2}


def test_raising_plugin_does_not_hide_healthy_one(bare: PluginManager) -> None:
    healthy = Healthy()
    bare.register(healthy, "healthy")
    bare.register(Raising(), "raising")  # registered last: called first
    assert bare.call("crm_lookup", customer="+1") == {"name": "Ada"}
    sink = ObserverSink(bare)
    sink.handle(OfferContact("a1", "c1", "voice", "q", 1.0, "", {}), 0.0)
    sink.handle(OfferContact("a1", "c2", "voice", "q", 1.0, "", {}), 0.0)
    assert healthy.seen == 2
    assert bare.faults == {"raising": 3}


def test_raising_compliance_rule_fails_closed(bare: PluginManager) -> None:
    bare.register(Raising(), "raising")
    verdict = bare.check_compliance({"number": "+1"})
    assert not verdict.allowed and verdict.rule == "plugin-fault"
    assert bare.faults == {"raising": 1}


def test_sync_overrun_is_counted_and_result_dropped() -> None:
    ticks = iter([0.0, 5.0])  # the implementation "took" 5 s
    manager = PluginManager(autoload=False, builtins=False, timer=lambda: next(ticks))
    manager.register(Healthy(), "slow")
    assert manager.call("crm_lookup", deadline_s=1.0, customer="+1", default="none") == "none"
    assert manager.faults == {"slow": 1} and manager.overruns == {"slow": 1}


async def test_hanging_plugin_is_abandoned_at_the_deadline(autojump_clock: trio.testing.MockClock,
                                                           bare: PluginManager, release: threading.Event) -> None:
    # Under autojump the clock jumps whenever trio waits for any thread, so the healthy CRM here is ``async``
    # (sync implementations in threads are covered with the real clock below).
    class AsyncCrm:
        @hookimpl
        async def crm_lookup(self, customer: str) -> dict:
            await trio.lowlevel.checkpoint()
            return {"name": "Ada"}

    bare.register(AsyncCrm(), "healthy")
    bare.register(Hanging(release), "hanging")  # called first
    start = trio.current_time()
    assert await bare.acall("crm_lookup", deadline_s=2.0, customer="+1") == {"name": "Ada"}
    assert trio.current_time() - start == pytest.approx(2.0)
    assert bare.faults == {"hanging": 1} and bare.overruns == {"hanging": 1}


async def test_hanging_compliance_rule_refuses(autojump_clock: trio.testing.MockClock,
                                               bare: PluginManager, release: threading.Event) -> None:
    bare.register(Hanging(release), "hanging")
    verdict = await bare.acheck_compliance({"number": "+1"}, deadline_s=0.5)
    assert verdict == Verdict(False, verdict.reason, "plugin-fault")
    assert bare.faults == {"hanging": 1}


async def test_acall_isolates_raising_and_awaits_async_impls(bare: PluginManager) -> None:
    class AsyncCrm:
        @hookimpl
        async def crm_lookup(self, customer: str) -> dict:
            await trio.lowlevel.checkpoint()
            return {"name": "async"}

    bare.register(AsyncCrm(), "async")
    bare.register(Raising(), "raising")
    assert await bare.acall("crm_lookup", customer="+1") == {"name": "async"}
    bare.register(Healthy(), "sync")  # a sync implementation, run in a worker thread (real clock, 1 s deadline)
    assert await bare.acall("crm_lookup", customer="+1") == {"name": "Ada"}
    assert bare.faults == {"raising": 1}  # "sync" answered first: firstresult stopped there


def test_strict_configure_stops_at_the_first_bad_plugin(bare: PluginManager) -> None:
    """``switchboard serve`` configures strictly: a bad plugin section stops the start, naming the plugin."""
    from engine.errors import ConfigError

    class Picky:
        @hookimpl
        def switchboard_configure(self, config: dict) -> None:
            raise ConfigError("center.toml:7: plugins.picky.colour: unknown key")

    bare.register(Picky(), "picky")
    bare.configure({})  # lenient: logged and counted
    assert bare.faults == {"picky": 1}
    with pytest.raises(ConfigError, match=r"plugin 'picky': center.toml:7: plugins.picky.colour: unknown key"):
        bare.configure({}, strict=True)


def test_sync_call_runs_async_implementations_that_never_suspend(bare: PluginManager) -> None:
    class Quick:
        @hookimpl
        async def crm_lookup(self, customer: str) -> dict:
            return {"name": "quick"}

    class Awaiting:
        @hookimpl
        async def crm_history(self, customer: str) -> list:
            await trio.sleep(0)
            return [{"x": 1}]

    bare.register(Quick(), "quick")
    bare.register(Awaiting(), "awaiting")
    assert bare.call("crm_lookup", customer="+1") == {"name": "quick"}
    assert bare.call("crm_history", customer="+1") == []  # it suspended: needs acall; a fault, not a hang
    assert bare.faults == {"awaiting": 1}
