"""The ACD state machine, fed directly (h11 style): events in, actions compared."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.acd import DECLINE_DELAY_S, Acd
from engine.config import parse_config
from engine.errors import AcdError, ConfigError
from engine.events import (
    AddSkill,
    AgentDisconnected,
    AgentHungUp,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentStateChanged,
    Bridge,
    CallbackRequested,
    CancelOffer,
    ContactArrived,
    ContactRecord,
    ContactStateChanged,
    CustomerHungUp,
    HangUp,
    OfferAccepted,
    OfferCallback,
    OfferContact,
    OfferDeclined,
    PlayAnnouncement,
    PlayPrompt,
    RemoveQueue,
    RemoveWorkflow,
    Tick,
    TransferRequested,
    Unbridge,
    UpsertAgent,
    UpsertQueue,
    WrapUpDone,
)
from engine.model import AgentConfig, CenterConfig, OpenHours, QueueConfig, RoutingStep, WorkflowConfig

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()  # a Monday, 09:00 UTC


class Center:
    """An ACD with a clock: ``at(t, event)`` feeds at T0 + t; ``advance(t)`` ticks every timer up to T0 + t."""

    def __init__(self, config: CenterConfig) -> None:
        self.acd = Acd(config)
        self.now = T0
        self.log: list[object] = []

    def at(self, t: float, event: object) -> list[object]:
        self.now = T0 + t
        actions = self.acd.feed(event, self.now)  # type: ignore[arg-type]
        self.log.extend(actions)
        return actions

    def advance(self, t: float) -> list[object]:
        """Fire timers one deadline at a time, as the runtime does, until T0 + t."""
        out: list[object] = []
        while (deadline := self.acd.next_deadline()) is not None and deadline <= T0 + t:
            out += self.at(deadline - T0, Tick())
        self.now = T0 + t
        return out

    def ready(self, *agents: str, t: float = 0.0) -> None:
        for agent in agents:
            self.at(t, AgentLogin(agent))
            self.at(t, AgentReady(agent))


def of(kind: type, actions: list[object]) -> list:
    return [a for a in actions if isinstance(a, kind)]


def config(agents: tuple[AgentConfig, ...] = (), queues: tuple[QueueConfig, ...] = (), **kw) -> CenterConfig:
    agents = agents or (
        AgentConfig("a1", skills={"sales": 5, "en": 5}),
        AgentConfig("a2", skills={"sales": 3, "en": 5}),
        AgentConfig("a3", skills={"support": 7, "es": 8}),
    )
    queues = queues or (
        QueueConfig("sales", skills={"sales": 1}, wrap_up_s=10.0),
        QueueConfig("support", skills={"support": 1}, wrap_up_s=0.0),
    )
    return CenterConfig(skills=("sales", "support", "en", "es"), agents=agents, queues=queues, **kw)


def test_a_contact_is_offered_answered_wrapped_and_recorded() -> None:
    center = Center(config())
    center.ready("a1")
    offer = of(OfferContact, center.at(1, ContactArrived("c1", queue="sales", customer="+15550001")))
    assert offer == [OfferContact("a1", "c1", "voice", "sales", T0 + 21, "+15550001", {}, None)]
    assert of(Bridge, center.at(3, OfferAccepted("a1", "c1"))) == [Bridge("c1", "a1", None)]
    assert center.acd.agent_state("a1")[0] == "on-contact"
    hang = center.at(63, AgentHungUp("a1", "c1"))
    assert of(HangUp, hang) == [HangUp("c1", "agent-hangup")]
    assert center.acd.agent_state("a1")[0] == "wrap-up"
    assert center.acd.next_deadline() == T0 + 73  # wrap-up of 10 s, exactly
    done = center.advance(73)
    [record] = of(ContactRecord, done)
    assert (record.outcome, record.answered, record.ended, record.disposition) == ("answered", T0 + 3, T0 + 63,
                                                                                   "no-disposition")
    assert [h[1] for h in record.history] == ["queued", "offered", "connected", "ended", "wrap-up", "completed"]
    assert center.acd.agent_state("a1") == ("available", "", T0 + 73)
    assert center.acd.contacts == {}


def test_wrap_up_done_ends_wrap_up_early_with_the_disposition() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, OfferAccepted("a1", "c1"))
    center.at(5, AgentHungUp("a1", "c1"))
    with pytest.raises(AcdError, match="unknown disposition 'bogus'"):
        center.acd.validate(WrapUpDone("a1", "c1", "bogus"))
    [record] = of(ContactRecord, center.at(7, WrapUpDone("a1", "c1", "resolved", "sold two")))
    assert (record.disposition, record.notes) == ("resolved", "sold two")


def test_longest_idle_agent_gets_the_contact() -> None:
    center = Center(config())
    center.ready("a2", t=0)
    center.ready("a1", t=5)
    assert of(OfferContact, center.at(10, ContactArrived("c1", queue="sales")))[0].agent_id == "a2"


def test_ring_timeout_makes_agent_not_ready_missed_and_requeues_at_original_place() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(5, ContactArrived("c2", queue="sales"))
    actions = center.advance(20)
    assert of(CancelOffer, actions) == [CancelOffer("a1", "c1", "timeout")]
    assert center.acd.agent_state("a1") == ("not-ready", "missed", T0 + 20)
    assert center.acd.waiting("sales") == ["c1", "c2"]  # c1 back ahead of the later c2
    offer = of(OfferContact, center.at(30, AgentLogin("a2")) + center.at(30, AgentReady("a2")))
    assert [o.contact_id for o in offer] == ["c1"]


def test_vip_priority_first_then_arrival_order() -> None:
    center = Center(config())
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, ContactArrived("c2", queue="sales"))
    center.at(2, ContactArrived("vip", queue="sales", priority=5))
    center.at(3, ContactArrived("c3", queue="sales"))
    assert center.acd.waiting("sales") == ["vip", "c1", "c2", "c3"]
    center.ready("a1", t=4)
    assert center.acd.agents["a1"].offers.keys() == {"vip"}


def test_priority_aging_lets_a_long_waiter_overtake() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, aging_per_min=1.0),)
    center = Center(config(queues=queues))
    center.at(0, ContactArrived("old", queue="sales"))
    center.at(150, ContactArrived("vip", queue="sales", priority=2))  # old has aged 2.5 points by now
    assert center.acd.waiting("sales") == ["old", "vip"]


def test_workflow_steps_relax_requirements_as_the_contact_waits() -> None:
    agents = (AgentConfig("en", skills={"support": 5}), AgentConfig("es", skills={"support": 5, "es": 5}))
    queues = (QueueConfig("support", skills={"support": 1}),)
    flows = (WorkflowConfig("spanish-first", (RoutingStep("support", skills={"support": 1, "es": 5}, timeout_s=30),
                                              RoutingStep("support"))),)
    center = Center(config(agents=agents, queues=queues, workflows=flows))
    center.ready("en")
    center.at(0, AgentLogin("es"))
    assert of(OfferContact, center.at(1, ContactArrived("c1", workflow="spanish-first"))) == []
    actions = center.advance(31)
    assert [o.agent_id for o in of(OfferContact, actions)] == ["en"]
    assert of(OfferContact, center.advance(30)) == []  # nothing before the step timeout
    assert "step" in [s.state for s in of(ContactStateChanged, actions)]


def test_preferred_agent_first_then_anyone() -> None:
    center = Center(config())
    center.ready("a1", "a2")
    center.at(0, AgentNotReady("a2", "lunch"))
    arrive = center.at(1, ContactArrived("c1", queue="sales", preferred_agents=("a2",), preferred_timeout_s=15))
    assert of(OfferContact, arrive) == []
    assert [o.agent_id for o in of(OfferContact, center.advance(16))] == ["a1"]


def test_max_wait_overflows_keeping_arrival_order() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, max_wait_s=60, overflow_queue="support"),
              QueueConfig("support", skills={"support": 1}))
    center = Center(config(queues=queues))
    center.at(0, ContactArrived("c1", queue="sales"))
    actions = center.advance(60)
    assert [(s.state, s.queue) for s in of(ContactStateChanged, actions)] == [("overflowed", "sales"),
                                                                               ("queued", "support")]
    assert center.acd.waiting("support") == ["c1"]


def test_max_wait_without_overflow_tells_the_caller_and_ends() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, max_wait_s=60),)
    center = Center(config(queues=queues))
    center.at(0, ContactArrived("c1", queue="sales"))
    actions = center.advance(60)
    assert of(PlayPrompt, actions) == [PlayPrompt("c1", "max-wait")]
    assert of(ContactRecord, actions)[0].outcome == "max-wait"


def test_announcements_give_position_and_estimated_wait() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, announce_every_s=30),)
    center = Center(config(queues=queues))
    center.at(0, AgentLogin("a1"))  # staffed but not ready: contacts wait
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, ContactArrived("c2", queue="sales"))
    actions = center.advance(61)
    assert of(PlayAnnouncement, actions) == [
        PlayAnnouncement("c1", 1, 180.0), PlayAnnouncement("c2", 2, 360.0),
        PlayAnnouncement("c1", 1, 180.0), PlayAnnouncement("c2", 2, 360.0)]


def test_callback_keeps_its_place_and_is_dialled_when_it_reaches_an_agent() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, callback_after_s=100),)
    center = Center(config(queues=queues))
    center.at(0, AgentLogin("a1"))
    center.at(0, ContactArrived("c1", queue="sales"))
    assert of(OfferCallback, center.at(1, ContactArrived("c2", queue="sales"))) == [OfferCallback("c2", 360.0)]
    actions = center.at(2, CallbackRequested("c2", "+15550002"))
    assert of(HangUp, actions) == [HangUp("c2", "callback-scheduled")]
    assert center.at(3, CustomerHungUp("c2")) == []  # the caller hanging up after choosing a callback is expected
    center.at(4, ContactArrived("c3", queue="sales"))
    assert center.acd.waiting("sales") == ["c1", "c2", "c3"]
    center.at(5, AgentReady("a1"))
    center.at(6, OfferAccepted("a1", "c1"))
    center.at(7, AgentHungUp("a1", "c1"))
    actions = center.advance(40)
    [offer] = of(OfferContact, actions)
    assert (offer.contact_id, offer.callback_number) == ("c2", "+15550002")
    assert of(Bridge, center.at(41, OfferAccepted("a1", "c2"))) == [Bridge("c2", "a1", "+15550002")]


def test_closed_hours_play_closed_and_hang_up() -> None:
    hours = OpenHours(timezone="America/New_York", weekly={0: [(9 * 60, 17 * 60)]})
    queues = (QueueConfig("sales", skills={"sales": 1}, hours=hours),)
    center = Center(config(queues=queues))
    actions = center.at(0, ContactArrived("c1", queue="sales"))  # 04:00 in New York
    assert of(PlayPrompt, actions) == [PlayPrompt("c1", "closed")]
    assert of(ContactRecord, actions)[0].outcome == "closed"
    actions = center.at(6 * 3600, ContactArrived("c2", queue="sales"))  # 10:00 in New York
    assert of(ContactRecord, actions) == []
    assert center.acd.waiting("sales") == ["c2"]


def test_holiday_closes_the_queue() -> None:
    hours = OpenHours(timezone="UTC", holidays=("2026-01-05",))
    queues = (QueueConfig("sales", skills={"sales": 1}, hours=hours),)
    center = Center(config(queues=queues))
    assert of(ContactRecord, center.at(0, ContactArrived("c1", queue="sales")))[0].outcome == "closed"


def test_transfer_to_queue_keeps_history_and_emits_one_record() -> None:
    center = Center(config())
    center.ready("a1", "a3")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, OfferAccepted("a1", "c1"))
    actions = center.at(30, TransferRequested("a1", "c1", to_queue="support"))
    assert of(Unbridge, actions) == [Unbridge("c1", "a1")]
    assert [o.agent_id for o in of(OfferContact, actions)] == ["a3"]
    assert center.acd.agent_state("a1")[0] == "wrap-up"
    center.at(31, OfferAccepted("a3", "c1"))
    records = of(ContactRecord, center.at(90, AgentHungUp("a3", "c1")) + center.advance(200))
    assert len(records) == 1
    states = [h[1] for h in records[0].history]
    assert states[:4] == ["queued", "offered", "connected", "transferred"]
    assert records[0].agent_id == "a3" and records[0].queue == "support"


def test_transfer_to_a_busy_agent_waits_for_that_agent_then_falls_back() -> None:
    agents = (AgentConfig("a1", skills={"sales": 5}), AgentConfig("a2", skills={"sales": 5}),
              AgentConfig("a4", skills={"sales": 5}))
    center = Center(config(agents=agents, queues=(QueueConfig("sales", skills={"sales": 1}),)))
    center.ready("a1", "a2")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(0, ContactArrived("c2", queue="sales"))
    center.at(1, OfferAccepted("a1", "c1"))
    center.at(1, OfferAccepted("a2", "c2"))
    center.ready("a4", t=2)
    actions = center.at(5, TransferRequested("a1", "c1", to_agent="a2"))
    assert of(OfferContact, actions) == []  # a4 is free but the transfer is to a2
    assert [o.agent_id for o in of(OfferContact, center.advance(35))] == ["a4"]


def test_agent_disconnect_requeues_its_live_contact_at_the_head() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, AgentLogin("a2"))
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, OfferAccepted("a1", "c1"))
    center.at(2, ContactArrived("c2", queue="sales"))
    actions = center.at(10, AgentDisconnected("a1"))
    assert of(Unbridge, actions) == [Unbridge("c1", "a1")]
    assert center.acd.agent_state("a1") == ("not-ready", "disconnected", T0 + 10)
    assert center.acd.waiting("sales") == ["c1", "c2"]


def test_abandon_while_queued_and_while_ringing() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, ContactArrived("c2", queue="sales"))
    [record] = of(ContactRecord, center.at(5, CustomerHungUp("c2")))
    assert record.outcome == "abandoned" and center.acd.waiting("sales") == []
    actions = center.at(6, CustomerHungUp("c1"))  # c1 was ringing at a1
    assert of(CancelOffer, actions) == [CancelOffer("a1", "c1", "abandoned")]
    assert center.acd.agent_state("a1")[0] == "available"


def test_decline_holds_the_agent_briefly_and_offers_elsewhere() -> None:
    center = Center(config())
    center.ready("a1", "a2")
    center.at(0, ContactArrived("c1", queue="sales"))
    first = center.acd.contacts["c1"].agent
    actions = center.at(2, OfferDeclined(first, "c1"))
    other = {"a1": "a2", "a2": "a1"}[first]
    assert [o.agent_id for o in of(OfferContact, actions)] == [other]
    assert center.acd.agent_state(first) == ("not-ready", "declined", T0 + 2)
    center.advance(2 + DECLINE_DELAY_S)
    assert center.acd.agent_state(first)[0] == "available"


def test_logout_waits_for_the_live_contact() -> None:
    center = Center(config())
    center.ready("a2")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, OfferAccepted("a2", "c1"))
    center.at(2, AgentLogout("a2"))
    assert center.acd.agents["a2"].logged_in
    center.at(3, AgentHungUp("a2", "c1"))
    center.advance(20)
    assert center.acd.agent_state("a2")[0] == "logged-out"


def test_chat_agent_holds_several_chats_and_no_voice_meanwhile() -> None:
    agents = (AgentConfig("a1", skills={"support": 5}, capacity={"voice": 1, "chat": 2}),)
    queues = (QueueConfig("support", skills={"support": 1}),
              QueueConfig("chat", channel="chat", skills={"support": 1}))
    center = Center(config(agents=agents, queues=queues))
    center.ready("a1")
    offers = []
    for n in range(3):
        offers += of(OfferContact, center.at(n, ContactArrived(f"chat{n}", channel="chat", queue="chat")))
    assert [o.contact_id for o in offers] == ["chat0", "chat1"]
    assert of(OfferContact, center.at(4, ContactArrived("call", queue="support"))) == []
    for n in range(2):
        center.at(5, OfferAccepted("a1", f"chat{n}"))
        center.at(6, AgentHungUp("a1", f"chat{n}"))
    assert of(OfferContact, center.advance(35)) == []  # both chats in wrap-up (30 s) hold their slots
    # Free again: chat2 (arrived t=2) comes before the call (t=4); with a chat in hand, no voice.
    offers = of(OfferContact, center.advance(36))
    assert [o.contact_id for o in offers] == ["chat2"]


def test_not_ready_and_wrap_up_apply_across_queues() -> None:
    agents = (AgentConfig("a1", skills={"sales": 5, "support": 5}),)
    center = Center(config(agents=agents))
    center.ready("a1")
    center.at(0, AgentNotReady("a1", "training"))
    assert of(OfferContact, center.at(1, ContactArrived("c1", queue="sales"))) == []
    assert of(OfferContact, center.at(1, ContactArrived("c2", queue="support"))) == []
    assert [o.contact_id for o in of(OfferContact, center.at(2, AgentReady("a1")))] == ["c1"]


def test_bad_events_are_refused_and_change_nothing() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, ContactArrived("c1", queue="sales"))
    before = center.acd.digest()
    for event, message in [
        (ContactArrived("c1", queue="sales"), "already exists"),
        (ContactArrived("c9", queue="nope"), "unknown queue 'nope'"),
        (ContactArrived("c9", queue="sales", skills={"klingon": 3}), "unknown skill 'klingon'"),
        (ContactArrived("c9", queue="sales", skills={"en": 11}), "level 11"),
        (ContactArrived("c9", channel="chat", queue="sales"), "does not match queue"),
        (OfferAccepted("a2", "c1"), "no offer"),
        (AgentHungUp("a1", "c1"), "not connected"),
        (AgentReady("a3"), "not logged in"),
        (AgentLogin("zz"), "unknown agent 'zz'"),
        (TransferRequested("a1", "c1", to_queue="support"), "not connected"),
        (UpsertAgent(AgentConfig("a9", skills={"sales": 0})), "level must be"),
    ]:
        with pytest.raises(AcdError, match=message):
            center.acd.validate(event)
        with pytest.raises(AcdError, match=message):
            center.acd.feed(event, T0 + 1)
        assert center.acd.digest() == before


def test_a_contact_no_agent_could_ever_serve_is_rejected_clearly() -> None:
    center = Center(config())
    actions = center.at(0, ContactArrived("c1", queue="sales", skills={"es": 9}))
    assert of(PlayPrompt, actions) == [PlayPrompt("c1", "unavailable")]
    assert of(ContactRecord, actions)[0].outcome == "rejected"


def test_live_configuration_changes() -> None:
    center = Center(config())
    center.at(0, ContactArrived("c1", queue="support"))
    center.at(0, UpsertAgent(AgentConfig("a2", skills={"sales": 3, "support": 2})))
    assert [o.agent_id for o in of(OfferContact, center.at(1, AgentLogin("a2")) + center.at(1, AgentReady("a2")))] \
        == ["a2"]
    center.at(2, UpsertQueue(QueueConfig("support", skills={"support": 1}, strategy="round-robin")))
    assert center.acd.queues["support"].strategy == "round-robin"


def test_invalid_configuration_names_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"queues\[0\] \('sales'\): no agent can serve"):
        Acd(config(queues=(QueueConfig("sales", skills={"sales": 9}),)))
    with pytest.raises(ConfigError, match=r"agents\[0\].skills: unknown skill 'xx'"):
        Acd(config(agents=(AgentConfig("a1", skills={"xx": 1}),)))
    with pytest.raises(ConfigError, match="strategy: unknown strategy 'fastest'"):
        Acd(config(queues=(QueueConfig("sales", skills={"sales": 1}, strategy="fastest"),)))


def test_snapshot_restore_gives_the_same_state_and_the_same_future() -> None:
    queues = (QueueConfig("sales", skills={"sales": 1}, announce_every_s=20, wrap_up_s=5),
              QueueConfig("support", skills={"support": 1}))
    center = Center(config(queues=queues))
    center.ready("a1", "a2")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, ContactArrived("c2", queue="sales", priority=1))
    center.at(2, ContactArrived("c3", queue="sales"))
    center.at(3, ContactArrived("c4", queue="support"))
    center.at(4, OfferAccepted(center.acd.contacts["c1"].agent, "c1"))
    restored = Acd.restore(center.acd.snapshot())
    assert restored.digest() == center.acd.digest()
    assert restored.next_deadline() == center.acd.next_deadline()
    future = [(30, Tick()), (31, AgentHungUp(center.acd.contacts["c1"].agent, "c1")), (60, Tick()),
              (61, ContactArrived("c5", queue="sales"))]
    for t, event in future:
        assert restored.feed(event, T0 + t) == center.acd.feed(event, T0 + t)
    assert restored.digest() == center.acd.digest()


def test_every_transient_state_has_an_exit() -> None:
    """Agents that never answer, never hang up wrap-up: the clock alone frees every agent and contact."""
    queues = (QueueConfig("sales", skills={"sales": 1}, wrap_up_s=30, ring_timeout_s=10),)
    center = Center(config(queues=queues))
    center.ready("a1", "a2")
    for n in range(5):
        center.at(n, ContactArrived(f"c{n}", queue="sales"))
    center.advance(3600)
    assert {center.acd.agent_state(a)[0] for a in ("a1", "a2")} == {"not-ready"}
    assert all(c.state == "queued" for c in center.acd.contacts.values())
    assert center.acd.next_deadline() is None


def test_observers_see_every_agent_state_change() -> None:
    center = Center(config())
    center.ready("a1")
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, OfferAccepted("a1", "c1"))
    center.at(2, AgentHungUp("a1", "c1"))
    center.advance(12)
    states = [(s.state, s.reason) for s in of(AgentStateChanged, center.log)]
    assert states == [("not-ready", "login"), ("available", ""), ("reserved", ""), ("on-contact", ""),
                      ("wrap-up", ""), ("available", "")]


def test_queue_update_rebuilds_its_pools_and_keeps_waiting_contacts() -> None:
    center = Center(config())
    center.at(0, ContactArrived("c1", queue="sales"))
    center.at(1, ContactArrived("c2", queue="sales"))
    new = replace(config().queues[0], strategy="fewest-calls", priority=3)
    center.at(2, UpsertQueue(new))
    assert center.acd.waiting("sales") == ["c1", "c2"]
    center.ready("a2", t=3)
    assert center.acd.agents["a2"].offers.keys() == {"c1"}


# ------------------------------------------------------------------------------ live configuration: removal ----

def test_a_skill_added_live_can_be_required_and_served() -> None:
    acd = Acd(parse_config({"skills": ["a"], "agents": [{"id": "x", "skills": {"a": 1}}],
                            "queues": [{"id": "q", "skills": {"a": 1}}]}, "t"))
    assert acd.feed(AddSkill("french"), 0.0) == []
    with pytest.raises(AcdError, match="already exists"):
        acd.validate(AddSkill("french"))
    with pytest.raises(AcdError, match="non-empty"):
        acd.validate(AddSkill(" "))
    acd.feed(UpsertAgent(AgentConfig("y", skills={"french": 5})), 1.0)
    acd.feed(UpsertQueue(QueueConfig("fr", skills={"french": 3})), 2.0)
    acd.feed(AgentLogin("y"), 3.0)
    acd.feed(AgentReady("y"), 3.0)
    out = acd.feed(ContactArrived("c1", "voice", queue="fr", customer="+1"), 4.0)
    assert any(isinstance(a, OfferContact) and a.agent_id == "y" for a in out)
    assert acd.config_now().skills == ("a", "french")
    restored = Acd.restore(acd.snapshot())
    assert restored.digest() == acd.digest() and restored.config_now() == acd.config_now()


def test_a_queue_is_removed_only_when_nothing_refers_to_it() -> None:
    acd = Acd(parse_config({
        "skills": ["a"], "agents": [{"id": "x", "skills": {"a": 1}}],
        "queues": [{"id": "q", "skills": {"a": 1}}, {"id": "spill", "skills": {"a": 1}},
                   {"id": "main", "skills": {"a": 1}, "max_wait_s": 60, "overflow_queue": "spill"}],
        "workflows": [{"id": "w", "steps": [{"queue": "q"}]}]}, "t"))
    with pytest.raises(AcdError, match="in use by queue 'main'"):
        acd.validate(RemoveQueue("spill"))
    with pytest.raises(AcdError, match="in use by workflow 'w'"):
        acd.validate(RemoveQueue("q"))
    acd.feed(RemoveWorkflow("w"), 0.0)
    acd.feed(ContactArrived("c1", "voice", queue="q", customer="+1"), 1.0)
    with pytest.raises(AcdError, match="in use by contact 'c1'"):
        acd.validate(RemoveQueue("q"))
    acd.feed(CustomerHungUp("c1"), 2.0)
    acd.feed(RemoveQueue("q"), 3.0)
    assert "q" not in acd.queues and [q.id for q in acd.config_now().queues] == ["spill", "main"]
    with pytest.raises(AcdError, match="unknown queue"):
        acd.validate(ContactArrived("c2", "voice", queue="q", customer="+1"))
    with pytest.raises(AcdError, match="unknown workflow"):
        acd.validate(RemoveWorkflow("w"))
    assert Acd.restore(acd.snapshot()).digest() == acd.digest()
