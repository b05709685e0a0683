"""The dialer: the 2-second rule, one dial per lead at a time, compliance at the moment of dialling, adaptation."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.acd import Acd
from engine.center import Center
from engine.dialer import Dialer
from engine.dialer_events import (
    CallAnswered,
    CheckCompliance,
    ComplianceVerdict,
    Dial,
    DialSkipped,
    LeadsAdded,
    LeadUpdated,
    PlayMessage,
    UpsertCampaign,
)
from engine.events import ContactArrived, Tick
from engine.model import AgentConfig, CampaignConfig, CenterConfig, Lead, QueueConfig
from engine.sim.outbound import SHIFT_START, run_shift
from engine.sim.scenario import load_scenario
from plugins.manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "benchmarks" / "scenarios"
T0 = SHIFT_START


def _center(mode: str = "progressive") -> Center:
    config = CenterConfig(skills=("sales",), agents=(AgentConfig("a1", skills={"sales": 5}),),
                          queues=(QueueConfig("out", skills={"sales": 1}),))
    center = Center(Acd(config), Dialer(config))
    center.feed(UpsertCampaign(CampaignConfig("c", "out", mode=mode)), T0)
    lead = Lead("L1", "c", "+442079460001", ("Europe/London",))
    center.feed(LeadsAdded("c", (lead.to_dict(),)), T0)
    return center


def _of(kind: type, actions: list) -> list:
    return [a for a in actions if isinstance(a, kind)]


def test_two_second_rule_plays_the_message_at_the_grace_and_reschedules_to_another_day() -> None:
    center = _center("power")  # power dials with nobody free? no: it needs an idle agent; log one in and out
    from engine.events import AgentLogin, AgentNotReady, AgentReady

    center.feed(AgentLogin("a1"), T0)
    center.feed(AgentReady("a1"), T0)
    check = _of(CheckCompliance, center.feed(Tick(), T0 + 1))
    assert len(check) == 1
    dial = _of(Dial, center.feed(ComplianceVerdict(check[0].call_id, True), T0 + 1))
    assert len(dial) == 1
    center.feed(AgentNotReady("a1", "break"), T0 + 2)  # the agent walks away while the call rings
    answered_at = T0 + 9.0
    center.feed(CallAnswered(dial[0].call_id, "human"), answered_at)
    assert center.next_deadline() is not None and center.next_deadline() <= answered_at + 2.0
    actions = center.feed(Tick(), answered_at + 2.0)
    messages = _of(PlayMessage, actions)
    assert messages == [PlayMessage(dial[0].call_id, "abandon-message", "abandoned")]
    update = _of(LeadUpdated, actions)[0]
    assert update.outcome == "abandoned" and update.next_attempt is not None
    assert update.next_attempt - answered_at > 12 * 3600  # not again that (local) day
    figures = center.dialer.figures("c").total
    assert figures["abandoned"] == 1 and figures["humans"] == 1


def test_a_person_reaches_a_free_agent_through_the_acd() -> None:
    center = _center("progressive")
    from engine.events import AgentLogin, AgentReady, OfferAccepted

    center.feed(AgentLogin("a1"), T0)
    center.feed(AgentReady("a1"), T0)
    check = _of(CheckCompliance, center.feed(Tick(), T0 + 1))[0]
    dial = _of(Dial, center.feed(ComplianceVerdict(check.call_id, True), T0 + 1))[0]
    actions = center.feed(CallAnswered(dial.call_id, "human"), T0 + 5)
    offers = [a for a in actions if type(a).__name__ == "OfferContact"]
    assert offers and offers[0].agent_id == "a1" and offers[0].data["lead"] == "L1"
    center.feed(OfferAccepted("a1", dial.call_id), T0 + 5.5)
    assert not _of(PlayMessage, center.feed(Tick(), T0 + 8))
    assert center.dialer.figures("c").total["connects"] == 1


def test_dnc_added_while_the_lead_waits_stops_its_dial(store) -> None:
    manager = PluginManager({"store": store})
    manager.configure()
    center = _center("progressive")
    from engine.events import AgentLogin, AgentReady

    center.feed(AgentLogin("a1"), T0)
    center.feed(AgentReady("a1"), T0)
    check = _of(CheckCompliance, center.feed(Tick(), T0 + 1))[0]
    store.dnc_add("+442079460001", reason="asked on the phone")  # added after the lead was chosen
    verdict = manager.check_compliance(check.request)
    assert not verdict.allowed and verdict.rule == "dnc"
    actions = center.feed(ComplianceVerdict(check.call_id, verdict.allowed, verdict.reason, verdict.rule), T0 + 1)
    assert not _of(Dial, actions)
    skipped = _of(DialSkipped, actions)[0]
    assert skipped.rule == "dnc" and skipped.reason and skipped.retry_at is None
    assert _of(LeadUpdated, actions)[0].status == "dnc"
    assert not _of(CheckCompliance, center.feed(Tick(), T0 + 60))  # never tried again


def test_calling_hours_refusal_reschedules_when_the_window_opens(store) -> None:
    manager = PluginManager({"store": store})
    manager.configure()
    center = _center("progressive")
    from engine.events import AgentLogin, AgentReady

    late = T0 + 12.5 * 3600  # 21:30 in London
    center.feed(AgentLogin("a1"), late)
    center.feed(AgentReady("a1"), late)
    check = _of(CheckCompliance, center.feed(Tick(), late))[0]
    verdict = manager.check_compliance(check.request)
    assert not verdict.allowed and verdict.rule == "calling-hours"
    actions = center.feed(ComplianceVerdict(check.call_id, False, verdict.reason, verdict.rule), late)
    skipped = _of(DialSkipped, actions)[0]
    assert skipped.retry_at is not None and skipped.retry_at >= late + 10 * 3600  # 08:00 next morning


def test_no_lead_is_dialled_twice_at_once_and_every_dial_was_checked() -> None:
    scenario = load_scenario(SCENARIOS / "outbound-small.toml")
    seen: dict[str, int] = {}
    from engine.sim import outbound

    original = outbound.SimulatedCarrier._on_dial

    def on_dial(self, action, now):  # type: ignore[no-untyped-def]
        seen[action.call_id] = seen.get(action.call_id, 0) + 1
        return original(self, action, now)

    outbound.SimulatedCarrier._on_dial = on_dial  # type: ignore[method-assign]
    try:
        result = run_shift(scenario, mode="predictive", hours=0.5)
    finally:
        outbound.SimulatedCarrier._on_dial = original  # type: ignore[method-assign]
    assert result.dials == len(seen) > 100 and set(seen.values()) == {1}


def test_lead_never_in_two_calls() -> None:
    config = CenterConfig(skills=("sales",), agents=tuple(AgentConfig(f"a{i}", skills={"sales": 5})
                                                          for i in range(5)),
                          queues=(QueueConfig("out", skills={"sales": 1}),))
    center = Center(Acd(config), Dialer(config))
    center.feed(UpsertCampaign(CampaignConfig("c", "out", mode="power", power_ratio=3.0)), T0)
    center.feed(LeadsAdded("c", (Lead("L1", "c", "+442079460001", ("Europe/London",)).to_dict(),
                                 Lead("L2", "c", "+442079460002", ("Europe/London",)).to_dict())), T0)
    from engine.events import AgentLogin, AgentReady

    for i in range(5):
        center.feed(AgentLogin(f"a{i}"), T0)
        center.feed(AgentReady(f"a{i}"), T0)
    checks = _of(CheckCompliance, center.feed(Tick(), T0 + 1))
    assert sorted(c.request["lead"]["id"] for c in checks) == ["L1", "L2"]  # 15 lines wanted, 2 leads
    center.feed(LeadsAdded("c", (Lead("L1", "c", "+442079460001", ("Europe/London",)).to_dict(),)), T0 + 1)
    assert not _of(CheckCompliance, center.feed(Tick(), T0 + 2))


def test_predictive_holds_the_cap_when_the_answer_rate_halves_and_recovers(tmp_path: Path) -> None:
    text = (SCENARIOS / "outbound-standard.toml").read_text()
    text += "\n[[phase]]\nat_hour = 2.0\nhuman = 0.15\n\n[[phase]]\nat_hour = 4.0\nhuman = 0.30\n"
    path = tmp_path / "changing.toml"
    path.write_text(text)
    result = run_shift(load_scenario(path), mode="predictive", hours=6.0)
    assert result.abandon_rate <= 0.03
    assert result.max_hourly_abandon_rate <= 0.03
    assert result.occupancy > 0.85


def test_arrival_to_the_acd_carries_the_lead() -> None:
    center = _center("progressive")
    from engine.events import AgentLogin, AgentReady

    center.feed(AgentLogin("a1"), T0)
    center.feed(AgentReady("a1"), T0)
    check = _of(CheckCompliance, center.feed(Tick(), T0 + 1))[0]
    dial = _of(Dial, center.feed(ComplianceVerdict(check.call_id, True), T0 + 1))[0]
    center.dialer.feed(CallAnswered(dial.call_id, "human"), T0 + 4)
    arrivals = [e for e in center.dialer.to_acd if isinstance(e, ContactArrived)]
    assert arrivals[0].queue == "out" and arrivals[0].data["campaign"] == "c"


def test_bench_smoke(tmp_path: Path) -> None:
    from benchmarks import dialer

    png = tmp_path / "plot.png"
    args = argparse.Namespace(scenario=SCENARIOS / "outbound-small.toml", json=True, hours=0.25, plot=png,
                              no_progress=True, precision=2.0)
    out = dialer.run(args)
    assert set(out["modes"]) == {"progressive", "power", "predictive"}
    for figures in out["modes"].values():
        for key in ("occupancy", "abandon_rate", "max_hourly_abandon_rate", "contacts_per_agent_hour",
                    "mean_agent_wait_s"):
            assert key in figures
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
