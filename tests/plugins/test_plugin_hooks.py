"""Every hook family, called through real plugin objects registered in a manager."""

from __future__ import annotations

import inspect

import pluggy
import pytest

from engine.events import Bridge, ContactRecord, HangUp, OfferContact, PlayPrompt
from engine.sim.channel import SimulatedChannel
from engine.sim.distributions import Distribution
from plugins import Verdict, hookimpl, hookspecs
from plugins.manager import ObserverSink, PluginManager


def _record(contact_id: str = "c1") -> ContactRecord:
    return ContactRecord(contact_id, "voice", "+15550100", "sales", "a1", 0.0, 5.0, 60.0, "answered", "resolved",
                         "", (), {})


def test_every_spec_is_documented_with_its_contract() -> None:
    specs = [f for name, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "switchboard_spec")]
    assert len(specs) >= 18
    for spec in specs:
        doc = (inspect.getdoc(spec) or "").lower()
        assert "rais" in doc or "fault" in doc, spec.__name__
        if spec.switchboard_spec.get("firstresult"):
            assert "firstresult" in doc, spec.__name__
        else:
            assert "collected" in doc, spec.__name__


class Lifecycle:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    @hookimpl
    def switchboard_configure(self, config: object) -> None:
        self.seen.append(("configure", config))

    @hookimpl
    def switchboard_unconfigure(self, config: object) -> None:
        self.seen.append(("unconfigure", config))


def test_lifecycle(bare: PluginManager) -> None:
    plugin = Lifecycle()
    bare.register(plugin, "life")
    bare.config = {"x": 1}
    bare.configure()
    bare.unconfigure()
    assert plugin.seen == [("configure", {"x": 1}), ("unconfigure", {"x": 1})]


class Ivr:
    def __init__(self) -> None:
        self.menus: list[object] = []

    @hookimpl
    def ivr_menu_loaded(self, menu: object) -> None:
        self.menus.append(menu)

    @hookimpl
    def ivr_self_service(self, step: str, contact: str, inputs: dict) -> dict | None:
        if step != "balance":
            return None
        return {"play": f"balance of {inputs['account']}", "next": "menu"}


class OtherIvr:
    @hookimpl
    def ivr_self_service(self, step: str) -> dict | None:
        return {"play": "order status"} if step == "order-status" else None


def test_ivr_self_service_is_firstresult(bare: PluginManager) -> None:
    ivr = Ivr()
    bare.register(ivr, "ivr")
    bare.register(OtherIvr(), "other")
    bare.call("ivr_menu_loaded", menu={"name": "main"})
    assert ivr.menus == [{"name": "main"}]
    assert bare.call("ivr_self_service", step="balance", contact="c1", inputs={"account": "42"}) == {
        "play": "balance of 42", "next": "menu"}
    assert bare.call("ivr_self_service", step="order-status", contact="c1", inputs={}) == {"play": "order status"}
    assert bare.call("ivr_self_service", step="unknown", contact="c1", inputs={}, default="agent") == "agent"


class Crm:
    def __init__(self, known: dict[str, dict]) -> None:
        self.known = known
        self.written: list[ContactRecord] = []

    @hookimpl
    def crm_lookup(self, customer: str) -> dict | None:
        return self.known.get(customer)

    @hookimpl
    def crm_history(self, customer: str) -> list:
        return [{"customer": customer, "crm": id(self)}]

    @hookimpl
    def crm_write_back(self, contact_record: ContactRecord) -> None:
        self.written.append(contact_record)


def test_crm_lookup_first_history_collected_write_back(bare: PluginManager) -> None:
    first, second = Crm({"+1": {"name": "Ada"}}), Crm({"+2": {"name": "Bob"}})
    bare.register(first, "crm1")
    bare.register(second, "crm2")
    assert bare.call("crm_lookup", customer="+2") == {"name": "Bob"}
    assert bare.call("crm_lookup", customer="+1") == {"name": "Ada"}
    assert bare.call("crm_lookup", customer="+3") is None
    history = bare.call("crm_history", customer="+1")
    assert sorted(entry[0]["crm"] for entry in history) == sorted([id(first), id(second)])
    record = _record()
    bare.call("crm_write_back", contact_record=record)
    assert first.written == [record] and second.written == [record]


class Prefix:
    def __init__(self, prefix: str, rule: str) -> None:
        self.prefix, self.rule = prefix, rule

    @hookimpl
    def compliance_check(self, request: dict) -> Verdict | None:
        if request["number"].startswith(self.prefix):
            return Verdict(False, f"{request['number']} is on the {self.rule} list", self.rule)
        return Verdict(True, "fine", self.rule)


class NoOpinion:
    @hookimpl
    def compliance_check(self, request: dict) -> None:
        return None


def test_compliance_any_refusal_wins_with_its_reason(bare: PluginManager) -> None:
    bare.register(Prefix("+1900", "premium"), "premium")
    bare.register(Prefix("+44", "dnc"), "dnc")
    bare.register(NoOpinion(), "quiet")
    verdict = bare.check_compliance({"number": "+1900555"})
    assert verdict == Verdict(False, "+1900555 is on the premium list", "premium")
    assert bare.check_compliance({"number": "+44207"}).rule == "dnc"
    assert bare.check_compliance({"number": "+3312"}).allowed
    assert len(bare.call("compliance_check", request={"number": "+3312"})) == 2  # collected; None dropped


def test_compliance_without_rules_allows(bare: PluginManager) -> None:
    assert bare.check_compliance({"number": "+1"}).allowed


class Voice:
    """A channel adapter owning "voice" only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def _take(self, hook: str, channel: str, value: object) -> bool | None:
        if channel != "voice":
            return None
        self.calls.append((hook, value))
        return True

    @hookimpl
    def channel_start(self, config: object) -> None:
        self.calls.append(("start", config))

    @hookimpl
    def channel_stop(self) -> None:
        self.calls.append(("stop", None))

    @hookimpl
    def channel_originate(self, channel: str, number: str, contact_id: str, now: float) -> bool | None:
        return self._take("originate", channel, number)

    @hookimpl
    def channel_answer(self, channel: str, action: object) -> bool | None:
        return self._take("answer", channel, action)

    @hookimpl
    def channel_bridge(self, channel: str, action: object) -> bool | None:
        return self._take("bridge", channel, action)

    @hookimpl
    def channel_play(self, channel: str, action: object) -> bool | None:
        return self._take("play", channel, action)

    @hookimpl
    def channel_collect_digits(self, channel: str, contact_id: str, max_digits: int) -> str | None:
        return "1234"[:max_digits] if channel == "voice" else None

    @hookimpl
    def channel_send_message(self, channel: str, contact_id: str, text: str) -> bool | None:
        return self._take("message", channel, text)

    @hookimpl
    def channel_hangup(self, channel: str, action: object) -> bool | None:
        return self._take("hangup", channel, action)


class Chat(Voice):
    def _take(self, hook: str, channel: str, value: object) -> bool | None:
        if channel != "chat":
            return None
        self.calls.append((hook, value))
        return True


def test_channel_hooks_are_owned_by_channel_name(manager: PluginManager) -> None:
    voice, chat = Voice(), Chat()
    manager.register(voice, "voice")
    manager.register(chat, "test-chat")
    offer = OfferContact("a1", "c1", "voice", "q", 20.0, "+1", {})
    manager.call("channel_start", config={})
    kw = {"now": 0.0}
    assert manager.call("channel_originate", channel="voice", number="+1555", contact_id="c9", **kw) is True
    assert manager.call("channel_answer", channel="voice", action=offer, **kw) is True
    assert manager.call("channel_bridge", channel="voice", action=Bridge("c1", "a1"), **kw) is True
    assert manager.call("channel_play", channel="voice", action=PlayPrompt("c1", "hold"), **kw) is True
    assert manager.call("channel_collect_digits", channel="voice", contact_id="c1", max_digits=2,
                        timeout_s=5.0) == "12"
    assert manager.call("channel_send_message", channel="chat", contact_id="c2", text="hi") is True
    assert manager.call("channel_hangup", channel="voice", action=HangUp("c1", "closed"), **kw) is True
    assert manager.call("channel_hangup", channel="fax", action=HangUp("c1", "closed"), **kw) is None
    manager.call("channel_stop")
    assert [hook for hook, _ in voice.calls] == ["start", "originate", "answer", "bridge", "play", "hangup", "stop"]
    assert chat.calls == [("start", {}), ("message", "hi"), ("stop", None)]


async def test_builtin_sim_is_a_channel_plugin(manager: PluginManager) -> None:
    """Its per-contact hooks are ``async`` (quick, never blocking): called with ``acall``, as the dispatcher does."""
    sim_plugin = manager.pm.get_plugin("sim")
    assert sim_plugin is not None
    offer = OfferContact("a1", "c1", "voice", "q", 20.0, "", {})
    assert await manager.acall("channel_answer", channel="voice", action=offer, now=0.0) is None  # nothing attached
    sim = SimulatedChannel(agents=["a1"], talk=Distribution.fixed(30.0), scheduled=[(1.0, "q")])
    sim_plugin.attach(sim)
    manager.call("channel_start", config={})
    started = sim_plugin.drain()
    assert [type(e).__name__ for _, e in started] == ["AgentLogin", "AgentReady", "ContactArrived"]
    follow = await manager.acall("channel_answer", channel="voice", action=offer, now=1.0)
    assert [(t, type(e).__name__) for t, e in follow] == [(1.0, "OfferAccepted")]
    follow = await manager.acall("channel_bridge", channel="voice", action=Bridge("c1", "a1"), now=1.0)
    assert [(t, type(e).__name__) for t, e in follow] == [(31.0, "AgentHungUp")]
    assert await manager.acall("channel_play", channel="voice", action=PlayPrompt("c1", "hold"), now=1.0) == []
    assert await manager.acall("channel_answer", channel="chat", action=offer, now=1.0) is None


class Counter:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    @hookimpl
    def observe_action(self, action: object, now: float) -> None:
        self.kinds.append(type(action).__name__)


def test_observer_sink_forwards_every_action(bare: PluginManager) -> None:
    counter = Counter()
    bare.register(counter, "counter")
    sink = ObserverSink(bare)
    sink.handle(OfferContact("a1", "c1", "voice", "q", 20.0, "", {}), 0.0)
    sink.handle(_record(), 60.0)
    assert counter.kinds == ["OfferContact", "ContactRecord"]


def test_invalid_implementation_is_rejected(bare: PluginManager) -> None:
    class Bad:
        @hookimpl
        def crm_lookup(self, customer: str, unknown_arg: int) -> None:
            return None

    with pytest.raises(pluggy.PluginValidationError):
        bare.register(Bad(), "bad")


def test_docs_reference_matches_hookspecs() -> None:
    """docs/plugins.md's hook reference is the hookspecs' docstrings (regenerate: python -m plugins.hookdoc)."""
    from pathlib import Path

    from plugins.hookdoc import HEADING, render

    text = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    assert HEADING + text.split(HEADING, 1)[1] == render()
    for spec in [f for f in vars(hookspecs).values() if inspect.isfunction(f) and hasattr(f, "switchboard_spec")]:
        assert f"#### `{spec.__name__}" in text, spec.__name__
