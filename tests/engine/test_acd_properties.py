"""Random streams of events against the ACD: the invariants every real center relies on.

- no agent ever holds more contacts than its capacity, nor anything beside a voice contact;
- a contact is only offered to an agent with the skills its queue step requires;
- no contact is lost or duplicated: each arrival ends in exactly one record or is still in the ACD;
- a snapshot taken at any point restores to the same state and the same future;
- with the clock alone, every offer and wrap-up ends (nothing stuck).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.acd import Acd
from engine.errors import AcdError
from engine.events import (
    AgentDisconnected,
    AgentHungUp,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    CallbackRequested,
    ContactArrived,
    ContactRecord,
    CustomerHungUp,
    OfferAccepted,
    OfferContact,
    OfferDeclined,
    Tick,
    TransferRequested,
    WrapUpDone,
)
from engine.model import AgentConfig, CenterConfig, QueueConfig, RoutingStep, WorkflowConfig

AGENTS = (
    AgentConfig("a1", skills={"sales": 5, "es": 6}, capacity={"voice": 1, "chat": 2}),
    AgentConfig("a2", skills={"sales": 2, "support": 4}, capacity={"voice": 1, "chat": 3}),
    AgentConfig("a3", skills={"support": 8, "es": 9}, capacity={"voice": 1, "chat": 0}),
    AgentConfig("a4", skills={"sales": 9, "support": 1}, capacity={"voice": 0, "chat": 2}),
)
QUEUES = (
    QueueConfig("sales", skills={"sales": 1}, wrap_up_s=7, ring_timeout_s=9, max_wait_s=120, overflow_queue="support",
                announce_every_s=25, callback_after_s=200),
    QueueConfig("support", skills={"support": 3}, wrap_up_s=0, strategy="fewest-calls", aging_per_min=2),
    QueueConfig("vip", skills={"sales": 5}, priority=5, strategy="best-skill-level", wrap_up_s=3),
    QueueConfig("chat", channel="chat", skills={"sales": 1}, wrap_up_s=4, strategy="round-robin"),
)
FLOWS = (WorkflowConfig("es-first", (RoutingStep("support", skills={"es": 5}, timeout_s=20), RoutingStep("support"))),)
CONFIG = CenterConfig(skills=("sales", "support", "es"), agents=AGENTS, queues=QUEUES, workflows=FLOWS, seed=3)
AGENT_IDS = [a.id for a in AGENTS]


def event_strategy(contact_ids: list[str]) -> st.SearchStrategy:
    agent = st.sampled_from(AGENT_IDS)
    contact = st.sampled_from(contact_ids)
    arrival = st.builds(
        lambda n, target, prio, pref: ContactArrived(
            f"c{n}", channel="chat" if target == "chat" else "voice",
            queue=None if target == "es-first" else target, workflow="es-first" if target == "es-first" else None,
            priority=prio, preferred_agents=pref),
        st.integers(0, 30), st.sampled_from(["sales", "support", "vip", "chat", "es-first"]), st.integers(0, 3),
        st.sampled_from([(), ("a2",), ("a3",)]))
    return st.one_of(
        arrival, arrival,
        st.builds(AgentLogin, agent), st.builds(AgentReady, agent), st.builds(AgentReady, agent),
        st.builds(AgentNotReady, agent, st.sampled_from(["break", "lunch"])), st.builds(AgentLogout, agent),
        st.builds(AgentDisconnected, agent),
        st.builds(OfferAccepted, agent, contact), st.builds(OfferAccepted, agent, contact),
        st.builds(OfferDeclined, agent, contact), st.builds(AgentHungUp, agent, contact),
        st.builds(CustomerHungUp, contact),
        st.builds(WrapUpDone, agent, contact, st.sampled_from(["resolved", "escalated"])),
        st.builds(CallbackRequested, contact, st.just("+34910000000")),
        st.builds(TransferRequested, agent, contact, st.sampled_from([None, "support", "sales"]), st.none()),
        st.builds(Tick),
    )


def check_invariants(acd: Acd) -> None:
    for a in acd.agents.values():
        held: dict[str, int] = {}
        for cid in list(a.offers) + list(a.active) + list(a.wrapping):
            channel = acd.contacts[cid].channel
            held[channel] = held.get(channel, 0) + 1
        for channel, n in held.items():
            assert n <= a.config.capacity.get(channel, 0), (a.id, held)
        if held.get("voice"):
            assert sum(held.values()) == 1, (a.id, held)
        if not a.logged_in:
            assert not held, a.id
    for c in acd.contacts.values():
        if c.state == "offered":
            assert c.id in acd.agents[c.agent].offers
        if c.state == "queued":
            assert c.pool >= 0


def check_actions(acd: Acd, actions: list, recorded: Counter[str]) -> None:
    """Offers go only to agents with the skills (and preference) the contact's step asks; records are counted."""
    for action in actions:
        if isinstance(action, OfferContact):
            c = acd.contacts[action.contact_id]
            step = c.steps[c.step]
            needed = acd._step_requirements(c, step)
            skills = acd.agents[action.agent_id].config.skills
            assert all(skills.get(s, 0) >= lv for s, lv in needed.items())
            if step.preferred_agents:
                assert action.agent_id in step.preferred_agents
        if isinstance(action, ContactRecord):
            recorded[action.contact_id] += 1


def stateful_event(data: st.DataObject, acd: Acd, ids: list[str]) -> object:
    """Draw an event, mostly one that makes sense now (accept a live offer, hang up a live call), sometimes not."""
    offers = sorted((a.id, c) for a in acd.agents.values() for c in a.offers)
    active = sorted((a.id, c) for a in acd.agents.values() for c in a.active)
    wrapping = sorted((a.id, c) for a in acd.agents.values() for c in a.wrapping)
    queued = sorted(c.id for c in acd.contacts.values() if c.state == "queued")
    kind = data.draw(st.sampled_from(["random", "random", "accept", "accept", "accept", "decline", "hangup",
                                      "hangup", "customer-hangup", "wrap", "transfer", "transfer", "abandon",
                                      "callback", "ready"]))
    if kind == "accept" and offers:
        return OfferAccepted(*data.draw(st.sampled_from(offers)))
    if kind == "decline" and offers:
        return OfferDeclined(*data.draw(st.sampled_from(offers)))
    if kind == "hangup" and active:
        return AgentHungUp(*data.draw(st.sampled_from(active)))
    if kind == "customer-hangup" and active:
        return CustomerHungUp(data.draw(st.sampled_from(active))[1])
    if kind == "wrap" and wrapping:
        return WrapUpDone(*data.draw(st.sampled_from(wrapping)), "resolved")
    if kind == "transfer" and active:
        agent, contact = data.draw(st.sampled_from(active))
        target = data.draw(st.sampled_from([("support", None), ("sales", None), (None, "a2"), (None, "a3")]))
        return TransferRequested(agent, contact, *target)
    if kind == "abandon" and queued:
        return CustomerHungUp(data.draw(st.sampled_from(queued)))
    if kind == "callback" and queued:
        return CallbackRequested(data.draw(st.sampled_from(queued)), "+34910000000")
    if kind == "random":
        return data.draw(event_strategy(ids))
    agent = data.draw(st.sampled_from(AGENT_IDS))
    return AgentLogin(agent) if not acd.agents[agent].logged_in else AgentReady(agent)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_event_streams_keep_every_invariant(data: st.DataObject) -> None:
    acd = Acd(CONFIG)
    ids = [f"c{n}" for n in range(31)]
    now = 1_767_600_000.0
    arrived: Counter[str] = Counter()
    recorded: Counter[str] = Counter()
    steps = data.draw(st.integers(1, 150))
    snapshot_at = data.draw(st.integers(0, steps))
    twin: Acd | None = None
    for agent in AGENT_IDS:
        acd.feed(AgentLogin(agent), now)
        acd.feed(AgentReady(agent), now)
    for i in range(steps):
        if i == snapshot_at:
            twin = Acd.restore(acd.snapshot())
            assert twin.digest() == acd.digest()
        event = stateful_event(data, acd, ids)
        if isinstance(event, ContactArrived) and data.draw(st.booleans()):
            event = replace(event, contact_id=f"fresh{i}")  # mostly new ids; sometimes a clash, to be refused
        now += data.draw(st.sampled_from([0.0, 0.5, 2.0, 8.0, 30.0]))
        ticked = acd.feed(Tick(), now)
        if twin is not None:
            assert twin.feed(Tick(), now) == ticked
        check_actions(acd, ticked, recorded)  # before the event: a refused event must not hide what the tick did
        try:
            actions = acd.feed(event, now)  # type: ignore[arg-type]
        except AcdError:
            if twin is not None:
                with pytest.raises(AcdError):
                    twin.feed(event, now)  # type: ignore[arg-type]
            check_invariants(acd)  # a refused event changes nothing
            continue
        if twin is not None:
            assert twin.feed(event, now) == actions  # type: ignore[arg-type]
        if isinstance(event, ContactArrived):
            arrived[event.contact_id] += 1
        check_actions(acd, actions, recorded)
        check_invariants(acd)
    # Ids are reused once a contact is over: each arrival ends in one record, or is still in the ACD.
    for cid, n in arrived.items():
        assert recorded[cid] == n - (cid in acd.contacts), cid
    assert set(recorded) <= set(arrived)
    # The clock alone ends every ring and wrap-up.
    for _ in range(200):
        deadline = acd.next_deadline()
        if deadline is None or deadline > now + 3600:
            break
        now = max(now, deadline)
        acd.feed(Tick(), now)
    for a in acd.agents.values():
        assert not a.offers and not a.wrapping, a.id
