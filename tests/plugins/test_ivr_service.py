"""The IVR driven by trio in virtual time: a caller walks three menu levels by digits and reaches the real ACD;
faulty plugins never keep a caller from an agent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

from engine.acd import Acd
from engine.config import demo_config
from engine.events import Action, ContactStateChanged, HangUp
from engine.ivr import Ivr
from engine.ivr_events import CallerEntered, CallerLeft, IvrPlay, RecordVoicemail
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from plugins import hookimpl
from plugins.builtin.ivr import IvrService, Known, load_menus
from plugins.manager import PluginManager

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ivr.toml"
OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Madrid")).timestamp()  # a Monday morning
CALLER = "+34600000001"


class ScriptedChannel:
    """The "voice" channel: plays are recorded, digits come from a per-contact script of (delay, digits)."""

    def __init__(self, scripts: dict[str, list[tuple[float, str]]]) -> None:
        self.scripts = scripts
        self.played: list[tuple[float, str, str, str]] = []
        self.collects: list[tuple[float, str]] = []
        self.hangups: list[HangUp] = []
        self.voicemails: list[RecordVoicemail] = []

    @hookimpl
    async def channel_play(self, channel: str, action: Any, now: float) -> bool | None:
        if channel != "voice":
            return None
        assert isinstance(action, IvrPlay)
        self.played.append((trio.current_time(), action.contact_id, action.prompt, action.language))
        return True

    @hookimpl
    async def channel_collect_digits(self, channel: str, contact_id: str, max_digits: int,
                                     timeout_s: float) -> str | None:
        if channel != "voice":
            return None
        self.collects.append((trio.current_time(), contact_id))
        script = self.scripts.get(contact_id, [])
        if not script:
            await trio.sleep(timeout_s)
            return ""
        delay, digits = script.pop(0)
        await trio.sleep(delay)
        return digits

    @hookimpl
    async def channel_hangup(self, channel: str, action: Any, now: float) -> bool:
        self.hangups.append(action)
        return True

    @hookimpl
    async def ivr_record_voicemail(self, channel: str, action: Any, now: float) -> bool:
        self.voicemails.append(action)
        return True


class Crm:
    @hookimpl
    async def crm_lookup(self, customer: str) -> dict[str, Any] | None:
        return {"id": "cust-42", "vip": True} if customer == CALLER else None


class OrderStatus:
    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    async def ivr_self_service(self, step: str, contact: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if step != "order-status":
            return None
        self.asked.append((contact, inputs))
        await trio.sleep(1.0)
        return {"play": "order-shipped", "variables": {"order": "A1", "status": "shipped"}}


class Faulty:
    def __init__(self, how: str) -> None:
        self.how = how

    @hookimpl
    async def ivr_self_service(self, step: str, contact: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if self.how == "raises":
            raise RuntimeError("CRM down")
        await trio.sleep_forever()
        return None

    @hookimpl
    async def crm_lookup(self, customer: str) -> dict[str, Any] | None:
        raise RuntimeError("CRM down")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[Action, float]] = []

    def handle(self, action: Action, now: float) -> None:
        self.seen.append((action, now))


async def _run(tmp_path: Path, plugins: dict[str, Any], callers: list[str],
               until: float = 120.0) -> tuple[IvrService, Recorder, PluginManager]:
    manager = PluginManager(autoload=False, builtins=False)
    for name, plugin in plugins.items():
        manager.register(plugin, name)
    center = demo_config()
    menus = load_menus(EXAMPLE, Known.from_center(center))
    recorder = Recorder()
    runtime = Runtime(Acd(center), Journal.open(tmp_path, fsync="never"), TrioClock(OPEN), sinks=[recorder])
    async with runtime, trio.open_nursery() as nursery:
        service = IvrService(Ivr(menus), manager, runtime.submit, clock=TrioClock(OPEN))
        await nursery.start(service.run)
        for cid in callers:
            await service.submit(CallerEntered(cid, "voice", CALLER if cid == "c1" else "+34999"))
        await trio.sleep(until)
        nursery.cancel_scope.cancel()
    return service, recorder, manager


def _queued(recorder: Recorder, cid: str) -> tuple[ContactStateChanged, float]:
    return next((a, now) for a, now in recorder.seen
                if isinstance(a, ContactStateChanged) and a.contact_id == cid and a.state == "queued")


async def test_a_caller_walks_three_levels_by_digits_in_virtual_time(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    # language: 2 (Spanish) after 2 s; main: 4 (order status, 1 s) after 3 s; main again: 1 (billing) after 2 s;
    # billing: 2 (refund) after 1 s.
    channel = ScriptedChannel({"c1": [(2.0, "2"), (3.0, "4"), (2.0, "1"), (1.0, "2")]})
    orders = OrderStatus()
    service, recorder, manager = await _run(tmp_path, {"voice": channel, "crm": Crm(), "orders": orders}, ["c1"])

    assert [(t, p, lang) for t, _, p, lang in channel.played] == [
        (0.0, "choose-language", "en"), (2.0, "main-menu-es", "es"), (6.0, "order-shipped", "es"),
        (6.0, "main-menu-es", "es"), (8.0, "billing-menu-es", "es")]
    assert [t for t, _ in channel.collects] == [0.0, 2.0, 6.0, 8.0]
    assert orders.asked == [("c1", {"caller": CALLER, "customer": "cust-42", "language": "es", "digits": ["2", "4"],
                                    "variables": {}, "attributes": {"id": "cust-42", "vip": True}, "now": OPEN + 5})]
    [arrival] = service.routed
    assert (arrival.queue, arrival.priority, arrival.customer) == ("billing", 10, "cust-42")
    assert arrival.skills == {"billing": 5, "spanish": 5}
    assert arrival.data["ivr"]["path"] == ["language", "main", "main", "billing"]
    assert arrival.data["ivr"]["variables"] == {"order": "A1", "status": "shipped"}
    state, now = _queued(recorder, "c1")
    assert (state.queue, now) == ("billing", OPEN + 9.0)
    assert service.outcomes == {"c1": "routed"} and manager.faults == {}
    assert service.ivr.sessions == {}


async def test_silence_retries_then_the_default_at_exact_times(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    channel = ScriptedChannel({})
    service, recorder, _ = await _run(tmp_path, {"voice": channel}, ["c2"])
    # language: 5 s timeout, 1 retry -> English main menu at 10 s; main: 6 s, 2 retries -> support at 28 s.
    assert [t for t, _ in channel.collects] == [0.0, 5.0, 10.0, 16.0, 22.0]
    assert [p for _, _, p, _ in channel.played][-2:] == ["no-input", "transferring"]
    [arrival] = service.routed
    assert (arrival.queue, arrival.skills, arrival.priority) == ("support", {"english": 1}, 0)
    assert _queued(recorder, "c2")[1] == OPEN + 28.0


@pytest.mark.parametrize("how", ["raises", "hangs"])
async def test_a_faulty_self_service_still_reaches_an_agent_queue(
        tmp_path: Path, autojump_clock: trio.testing.MockClock, how: str) -> None:
    channel = ScriptedChannel({"c2": [(1.0, "1"), (1.0, "4")]})
    service, recorder, manager = await _run(tmp_path, {"voice": channel, "faulty": Faulty(how)}, ["c2"])
    [arrival] = service.routed
    assert (arrival.queue, arrival.skills) == ("support", {"support": 2, "english": 1})
    assert arrival.data["ivr"]["variables"] == {"self_service_failed": True}
    assert "sorry-transferring" in [p for _, _, p, _ in channel.played]
    assert manager.faults == {"faulty": 2}  # the CRM lookup and the step
    expected = 2.0 + (8.0 if how == "hangs" else 0.0)  # the step's deadline is the IVR's 8 s
    assert _queued(recorder, "c2")[1] == OPEN + expected


async def test_caller_leaving_mid_menu_stops_everything(tmp_path: Path,
                                                        autojump_clock: trio.testing.MockClock) -> None:
    channel = ScriptedChannel({})
    manager = PluginManager(autoload=False, builtins=False)
    manager.register(channel, "voice")
    service = IvrService(Ivr(load_menus(EXAMPLE)), manager, _refuse, clock=TrioClock(OPEN))
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        await service.submit(CallerEntered("c3", "voice", ""))
        await trio.sleep(3.0)
        await service.submit(CallerLeft("c3"))
        await trio.sleep(100.0)
        nursery.cancel_scope.cancel()
    assert [t for t, _ in channel.collects] == [0.0]
    assert service.outcomes == {"c3": "left"} and service.routed == [] and service.ivr.next_deadline() is None


async def test_voicemail_and_acd_refusal(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    channel = ScriptedChannel({"c4": [(1.0, "1"), (1.0, "8")], "c5": [(1.0, "1"), (1.0, "3")]})
    manager = PluginManager(autoload=False, builtins=False)
    manager.register(channel, "voice")
    service = IvrService(Ivr(load_menus(EXAMPLE)), manager, _refuse, clock=TrioClock(OPEN))
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        await service.submit(CallerEntered("c4", "voice", ""))
        await service.submit(CallerEntered("c5", "voice", ""))
        await trio.sleep(30.0)
        nursery.cancel_scope.cancel()
    assert [v.mailbox for v in channel.voicemails] == ["general"]
    assert [(h.contact_id, h.reason) for h in channel.hangups] == [("c5", "rejected")]
    assert service.outcomes == {"c4": "voicemail", "c5": "rejected"}


async def _refuse(event: Any) -> None:
    from engine.errors import AcdError

    raise AcdError("no such queue here")
