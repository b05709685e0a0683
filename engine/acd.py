"""The ACD: a sans-IO state machine that routes contacts to agents.

Theory of operation
-------------------
``Acd.feed(event, now)`` takes one event (``engine.events``) and the time, changes the state, and returns the
actions the outside world must carry out (offer, bridge, play, hang up) and the observer records (state changes,
call detail records). It never awaits, never reads a clock and draws no random numbers it was not given: the
same events at the same times give the same actions, which is what makes the journal replayable and hours of
call-center time testable in milliseconds. ``validate(event)`` says whether an event would be accepted; a
rejected event raises ``AcdError`` and leaves the state untouched (every handler checks before it changes).

Timers are internal: ``next_deadline()`` is the earliest one, and ``feed(Tick(), now)`` fires every timer due.
Every transient state has one, so nothing gets stuck: an offer rings until the queue's ring timeout (then the
agent goes not-ready "missed" and the contact goes back in line at its original place), wrap-up lasts the queue's
wrap-up time, a routing step lasts its timeout, waiting lasts the queue's max wait (then overflow).

Who takes what is decided by the routing core (``engine.core.RoutingIndex``): each queue step is a *pool* there
(required skills at minimum levels, optionally restricted to preferred agents); contacts wait in pools ordered by
priority (with aging) and arrival; available agents sit in pools ordered by the queue's strategy.

Agent states (``AGENT_STATES``) are derived, in this order of precedence::

    logged-out   not logged in
    reserved     an offer is ringing
    on-contact   talking / chatting
    wrap-up      after-contact work on at least one contact
    not-ready    logged in, taking nothing new (reason: break, missed, declined, disconnected, login, ...)
    available    logged in and ready

A contact's life (``CONTACT_STATES``, each step an observer ``ContactStateChanged``)::

    arrived -> queued -> offered -> connected -> ended -> completed
                 ^  |       |          |  (wrap-up by the agent; then the ContactRecord is emitted)
                 |  |       +- missed / declined / agent lost -> requeued (original place in line)
                 |  +- step / overflowed (moves queue, keeps place) ; callback-scheduled (keeps place)
                 |  +- abandoned (customer left) ; max-wait ; closed ; rejected
                 +------- transferred (from connected; the transferring agent wraps up)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from engine import core as core_module
from engine.config import is_open, validate_config
from engine.errors import AcdError, ConfigError
from engine.events import (
    Action,
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
    Event,
    HangUp,
    OfferAccepted,
    OfferCallback,
    OfferContact,
    OfferDeclined,
    PlayAnnouncement,
    PlayPrompt,
    RemoveAgent,
    RemoveQueue,
    RemoveWorkflow,
    SetDisposition,
    Tick,
    TransferRequested,
    Unbridge,
    UpsertAgent,
    UpsertQueue,
    UpsertWorkflow,
    WrapUpDone,
)
from engine.model import AgentConfig, CenterConfig, QueueConfig, RoutingStep, WorkflowConfig

AGENT_STATES = ("logged-out", "available", "reserved", "on-contact", "wrap-up", "not-ready")
CONTACT_STATES = (
    "queued", "offered", "connected", "ended", "completed", "abandoned", "requeued", "step", "overflowed",
    "callback-scheduled", "transferred", "max-wait", "closed", "rejected",
)
DECLINE_DELAY_S = 5.0
"""After declining an offer an agent is not offered anything for this long (FreeSWITCH's reject delay)."""
TRANSFER_TO_AGENT_TIMEOUT_S = 30.0
"""A contact transferred to a busy agent waits for that agent this long, then for anyone in the queue."""
DEFAULT_AHT_S = 180.0
"""Handle time assumed for wait estimates until a queue has completed contacts of its own."""
AHT_SMOOTHING = 0.05

# Timer kinds.
RING, WRAP, STEP, MAX_WAIT, ANNOUNCE, AGENT_HOLD = range(6)


class _Agent:
    """Mutable state of one agent. ``offers``/``wrapping`` map contact id -> timer token."""

    __slots__ = ("id", "idx", "config", "logged_in", "ready", "reason", "pending_logout", "offers", "active",
                 "wrapping", "state", "state_reason", "state_since", "hold_token")

    def __init__(self, config: AgentConfig, idx: int) -> None:
        self.id = config.id
        self.idx = idx
        self.config = config
        self.logged_in = False
        self.ready = False
        self.reason = ""
        self.pending_logout = False
        self.offers: dict[str, int] = {}
        self.active: set[str] = set()
        self.wrapping: dict[str, int] = {}
        self.state = "logged-out"
        self.state_reason = ""
        self.state_since = 0.0
        self.hold_token = 0


class _Contact:
    """Mutable state of one contact, from arrival to its call detail record."""

    __slots__ = ("id", "idx", "channel", "customer", "data", "priority", "skills", "callback_number", "arrived",
                 "seq", "state", "steps", "step", "step_base", "queue", "pool", "queue_entered", "agent",
                 "answered", "connected_at", "ended", "disposition", "notes", "history", "present", "outcome",
                 "wrappers", "tokens", "callback_offered", "talk_s")

    def __init__(self, event: ContactArrived, idx: int, seq: int, now: float) -> None:
        self.id = event.contact_id
        self.idx = idx
        self.channel = event.channel
        self.customer = event.customer
        self.data = dict(event.data)
        self.priority = event.priority
        self.skills = dict(event.skills)
        self.callback_number = event.callback_number
        self.arrived = now
        self.seq = seq
        self.state = "new"
        self.steps: list[RoutingStep] = []
        self.step = 0
        self.step_base = now
        self.queue = ""
        self.pool = -1
        self.queue_entered = now
        self.agent = ""
        self.answered: float | None = None
        self.connected_at = 0.0
        self.ended: float | None = None
        self.disposition = ""
        self.notes = ""
        self.history: list[tuple[float, str, str, str]] = []
        self.present = True
        self.outcome = ""
        self.wrappers: set[str] = set()
        self.tokens = [0, 0, 0, 0, 0, 0]
        self.callback_offered = False
        self.talk_s = 0.0


class Acd:
    """The routing state of one partition. See the module docstring for the theory of operation."""

    def __init__(self, config: CenterConfig, *, core: Any = None, agent_stats: dict[str, list[Any]] | None = None):
        """Build the ACD on a validated configuration (``ConfigError`` names what is wrong).

        ``core`` is the routing-core module to use (``engine.core`` picks the compiled one); ``agent_stats`` are
        routing statistics to start agents with (used by ``restore``).
        """
        validate_config(config)
        self._core_module = core if core is not None else core_module
        self.core = self._core_module.RoutingIndex(config.seed)
        self.config = config
        self.skills: dict[str, int] = {name: i for i, name in enumerate(config.skills)}
        self.channels: dict[str, int] = {}
        for name, exclusive in config.channels.items():
            self.channels[name] = len(self.channels)
            self.core.add_channel(self.channels[name], exclusive)
        self.dispositions = set(config.dispositions)
        self.default_disposition = "no-disposition" if "no-disposition" in self.dispositions else ""
        self.agents: dict[str, _Agent] = {}
        self.agent_by_idx: dict[int, _Agent] = {}
        self.queues: dict[str, QueueConfig] = {}
        self.workflows: dict[str, WorkflowConfig] = {}
        self.contacts: dict[str, _Contact] = {}
        self.contact_by_idx: dict[int, _Contact] = {}
        self.pools: dict[tuple[Any, ...], int] = {}
        self.pool_info: dict[int, tuple[str, dict[str, int], tuple[str, ...]]] = {}
        self.pool_refs: dict[int, int] = {}
        self.staffed: dict[str, int] = {}
        self.aht: dict[str, float] = {}
        self.timers: list[tuple[float, int, int, str, str]] = []
        self.next_token = 1
        self.next_seq = 1
        self.next_contact_idx = 1
        self.next_agent_idx = 1
        self.next_pool = 1
        stats = agent_stats or {}
        for queue in config.queues:
            self._put_queue(queue)
        for workflow in config.workflows:
            self.workflows[workflow.id] = workflow
        for agent in config.agents:
            self._put_agent(agent, stats.get(agent.id))
        self._handlers: dict[type, Callable[[Any, float], list[Action]]] = {
            Tick: self._on_tick,
            ContactArrived: self._on_contact_arrived,
            CustomerHungUp: self._on_customer_hung_up,
            CallbackRequested: self._on_callback_requested,
            AgentLogin: self._on_agent_login,
            AgentLogout: self._on_agent_logout,
            AgentReady: self._on_agent_ready,
            AgentNotReady: self._on_agent_not_ready,
            AgentDisconnected: self._on_agent_disconnected,
            OfferAccepted: self._on_offer_accepted,
            OfferDeclined: self._on_offer_declined,
            AgentHungUp: self._on_agent_hung_up,
            WrapUpDone: self._on_wrap_up_done,
            SetDisposition: self._on_set_disposition,
            TransferRequested: self._on_transfer,
            UpsertAgent: self._on_upsert_agent,
            RemoveAgent: self._on_remove_agent,
            UpsertQueue: self._on_upsert_queue,
            UpsertWorkflow: self._on_upsert_workflow,
            AddSkill: self._on_add_skill,
            RemoveQueue: self._on_remove_queue,
            RemoveWorkflow: self._on_remove_workflow,
        }

    # ------------------------------------------------------------------------------------------ public API ----

    def feed(self, event: Event, now: float) -> list[Action]:
        """Apply ``event`` at time ``now`` and return the actions it causes, in order.

        Raises ``AcdError`` (state unchanged) if the event cannot be accepted now.
        """
        handler = self._handlers.get(type(event))
        if handler is None:
            raise AcdError(f"unknown event type {type(event).__name__}")
        return handler(event, now)

    def validate(self, event: Event) -> None:
        """Raise ``AcdError`` if ``feed(event)`` would reject it. Used to refuse events before journaling them."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise AcdError(f"unknown event type {type(event).__name__}")
        checker = getattr(self, "_check" + handler.__name__[3:], None)
        if checker is not None:
            checker(event)

    def next_deadline(self) -> float | None:
        """The earliest pending timer, or None. ``feed(Tick(), t)`` with ``t`` at or after it fires it."""
        timers = self.timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def agent_state(self, agent_id: str) -> tuple[str, str, float]:
        """(state, reason, since) of an agent."""
        a = self._agent(agent_id)
        return a.state, a.state_reason, a.state_since

    def waiting(self, queue_id: str) -> list[str]:
        """Ids of the contacts waiting in a queue, best first (the order agents will get them)."""
        if queue_id not in self.queues:
            raise AcdError(f"unknown queue {queue_id!r}")
        return [c.id for c in sorted(
            (c for c in self.contacts.values() if c.state == "queued" and c.queue == queue_id), key=self._order)]

    def estimated_wait(self, contact_id: str) -> tuple[int, float]:
        """(position, estimated wait in seconds) of a waiting contact: position x AHT / staffed agents."""
        c = self.contacts.get(contact_id)
        if c is None or c.state != "queued":
            raise AcdError(f"contact {contact_id!r} is not waiting")
        position = self.core.position(c.idx)
        staffed = max(1, self.staffed.get(c.queue, 0))
        return position, position * self.aht.get(c.queue, DEFAULT_AHT_S) / staffed

    def digest(self) -> dict[str, Any]:
        """A canonical summary of the routing state: equal digests mean the same agents' states, the same
        contacts in the same places in line. Used to check recovery against the journal."""
        agents = {
            a.id: [a.state, a.state_reason, a.logged_in, a.ready, a.pending_logout, sorted(a.offers),
                   sorted(a.active), sorted(a.wrapping)]
            for a in self.agents.values()
        }
        queues = {q: self.waiting(q) for q in sorted(self.queues)}
        contacts = {
            c.id: [c.state, c.queue, c.agent, c.step, c.priority, c.arrived, c.seq, c.present]
            for c in self.contacts.values()
        }
        return {"agents": agents, "queues": queues, "contacts": contacts}

    # ------------------------------------------------------------------------------------------ snapshots ----

    def snapshot(self) -> dict[str, Any]:
        """The whole state as msgpack-able data; ``Acd.restore`` rebuilds an identical ACD from it."""
        agents = []
        for a in self.agents.values():
            agents.append({
                "id": a.id, "stats": list(self.core.agent_stats(a.idx)), "logged_in": a.logged_in,
                "ready": a.ready, "reason": a.reason, "pending_logout": a.pending_logout,
                "offers": dict(a.offers), "active": sorted(a.active), "wrapping": dict(a.wrapping),
                "state": a.state, "state_reason": a.state_reason, "state_since": a.state_since,
                "hold_token": a.hold_token,
            })
        contacts = []
        for c in sorted(self.contacts.values(), key=lambda c: c.seq):
            contacts.append({name: _plain(getattr(c, name)) for name in _Contact.__slots__})
        return {
            "format": 1,
            "config": self.config_now().to_dict(),
            "agents": agents,
            "contacts": contacts,
            "aht": dict(self.aht),
            "timers": [list(t) for t in self.timers if self._timer_live(t)],
            "counters": [self.next_token, self.next_seq, self.next_contact_idx, self.next_agent_idx,
                         self.core.offer_counter],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], *, core: Any = None) -> Acd:
        """Rebuild the ACD that ``snapshot`` described. Raises ``ConfigError`` for a snapshot it cannot read."""
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ConfigError("snapshot: unknown format (expected format 1)")
        config = CenterConfig.from_dict(data["config"])
        stats = {a["id"]: a["stats"] for a in data["agents"]}
        acd = cls(config, core=core, agent_stats=stats)
        for saved in data["agents"]:
            a = acd.agents[saved["id"]]
            for name in ("logged_in", "ready", "reason", "pending_logout", "state", "state_reason", "state_since",
                         "hold_token"):
                setattr(a, name, saved[name])
            a.offers = dict(saved["offers"])
            a.active = set(saved["active"])
            a.wrapping = dict(saved["wrapping"])
            if a.logged_in:
                acd._count_staffed(a, +1)
        for saved in data["contacts"]:
            c = _Contact.__new__(_Contact)
            for name in _Contact.__slots__:
                setattr(c, name, saved[name])
            c.steps = [RoutingStep.from_dict(s) for s in saved["steps"]]
            c.history = [tuple(h) for h in saved["history"]]
            c.wrappers = set(saved["wrappers"])
            c.tokens = list(saved["tokens"])
            c.data = dict(saved["data"])
            c.skills = dict(saved["skills"])
            acd.contacts[c.id] = c
            acd.contact_by_idx[c.idx] = c
        # Loads: every offer, live contact and wrap-up holds one unit of its channel on the agent.
        for a in acd.agents.values():
            for cid in list(a.offers) + sorted(a.active) + list(a.wrapping):
                acd.core.add_load(a.idx, acd.channels[acd.contacts[cid].channel])
            if a.logged_in and a.ready and not a.hold_token:
                acd.core.set_ready(a.idx, True, stats[a.id][0])  # at its idle_since: keeps the saved value
        for c in sorted(acd.contacts.values(), key=lambda c: c.seq):
            if c.state == "queued":
                step = c.steps[c.step]
                c.pool = acd._pool_for(c.queue, acd._step_requirements(c, step), step.preferred_agents)
                acd.pool_refs[c.pool] = acd.pool_refs.get(c.pool, 0) + 1
                acd.core.enqueue(c.idx, c.pool, c.priority + step.priority, c.arrived, c.seq, 0.0)
        acd.aht = dict(data["aht"])
        acd.timers = [tuple(t) for t in data["timers"]]  # type: ignore[misc]
        heapq.heapify(acd.timers)
        acd.next_token, acd.next_seq, acd.next_contact_idx, acd.next_agent_idx, offer_counter = data["counters"]
        acd.core.offer_counter = offer_counter
        return acd

    def config_now(self) -> CenterConfig:
        """The configuration as it stands now, with every live change applied."""
        return CenterConfig(
            skills=self.config.skills,
            channels=self.config.channels,
            agents=tuple(a.config for a in self.agents.values()),
            queues=tuple(self.queues.values()),
            workflows=tuple(self.workflows.values()),
            dispositions=self.config.dispositions,
            seed=self.config.seed,
        )

    # ------------------------------------------------------------------------------------------- helpers ----

    def _agent(self, agent_id: str) -> _Agent:
        a = self.agents.get(agent_id)
        if a is None:
            raise AcdError(f"unknown agent {agent_id!r}")
        return a

    def _contact(self, contact_id: str) -> _Contact:
        c = self.contacts.get(contact_id)
        if c is None:
            raise AcdError(f"unknown contact {contact_id!r}")
        return c

    def _skill_ids(self, skills: dict[str, int], where: str) -> dict[int, int]:
        out = {}
        for name, level in skills.items():
            sid = self.skills.get(name)
            if sid is None:
                raise AcdError(f"{where}: unknown skill {name!r}")
            out[sid] = level
        return out

    def _order(self, c: _Contact) -> tuple[float, float, int]:
        queue = self.queues[c.queue]
        step_priority = c.steps[c.step].priority if c.steps else 0
        aging = queue.aging_per_min / 60.0
        return (-(c.priority + step_priority - aging * c.arrived), c.arrived, c.seq)

    def _timer(self, at: float, kind: int, owner: str, ref: str = "") -> int:
        token = self.next_token
        self.next_token += 1
        heapq.heappush(self.timers, (at, token, kind, owner, ref))
        return token

    def _timer_live(self, timer: tuple[float, int, int, str, str]) -> bool:
        _, token, kind, owner, ref = timer
        if kind == RING:
            a = self.agents.get(owner)
            return a is not None and a.offers.get(ref) == token
        if kind == WRAP:
            a = self.agents.get(owner)
            return a is not None and a.wrapping.get(ref) == token
        if kind == AGENT_HOLD:
            a = self.agents.get(owner)
            return a is not None and a.hold_token == token
        c = self.contacts.get(owner)
        return c is not None and c.tokens[kind] == token

    def _record(self, c: _Contact, state: str, now: float, out: list[Action], detail: dict[str, Any] | None = None,
                agent: str | None = None) -> None:
        agent_id = c.agent if agent is None else agent
        c.history.append((now, state, c.queue, agent_id))
        out.append(ContactStateChanged(c.id, state, c.queue, agent_id, now, detail or {}))

    def _refresh_agent(self, a: _Agent, now: float, out: list[Action]) -> None:
        """Derive the agent's display state and tell observers if it changed."""
        if not a.logged_in:
            state, reason = "logged-out", ""
        elif a.offers:
            state, reason = "reserved", ""
        elif a.active:
            state, reason = "on-contact", ""
        elif a.wrapping:
            state, reason = "wrap-up", ""
        elif not a.ready or a.hold_token:
            state, reason = "not-ready", a.reason
        else:
            state, reason = "available", ""
        if state != a.state or reason != a.state_reason:
            a.state, a.state_reason, a.state_since = state, reason, now
            out.append(AgentStateChanged(a.id, state, reason, now))

    # ------------------------------------------------------------------------------------ configuration ----

    def _put_queue(self, queue: QueueConfig) -> None:
        self._skill_ids(queue.skills, f"queue {queue.id!r}")
        old = self.queues.get(queue.id)
        self.queues[queue.id] = queue
        self.aht.setdefault(queue.id, DEFAULT_AHT_S)
        if old is None:
            self._pool_for(queue.id, dict(queue.skills), ())
            return
        # Routing parameters changed: rebuild this queue's pools and move the waiting contacts into them.
        rebuilt: dict[int, int] = {}
        for key, pool in list(self.pools.items()):
            if key[0] != queue.id:
                continue
            _, reqs, agents = self.pool_info[pool]
            del self.pools[key]
            new_pool = self._pool_for(queue.id, reqs, agents)
            rebuilt[pool] = new_pool
        for c in sorted(self.contacts.values(), key=lambda c: c.seq):
            if c.state == "queued" and c.pool in rebuilt:
                old_pool, c.pool = c.pool, rebuilt[c.pool]
                self.pool_refs[c.pool] = self.pool_refs.get(c.pool, 0) + 1
                self.pool_refs.pop(old_pool, None)
                self.core.move_contact(c.idx, c.pool, c.priority + c.steps[c.step].priority, c.arrived)
        for pool in rebuilt:
            self.core.remove_pool(pool)
            self.pool_info.pop(pool, None)
            self.pool_refs.pop(pool, None)
        self.staffed[queue.id] = sum(1 for a in self.agents.values() if a.logged_in and self._serves(a, queue.id))

    def _pool_for(self, queue_id: str, requirements: dict[str, int], agents: tuple[str, ...]) -> int:
        """The core pool for (queue, requirements, restriction), created on first use."""
        key = (queue_id, tuple(sorted(requirements.items())), tuple(sorted(agents)))
        pool = self.pools.get(key)
        if pool is not None:
            return pool
        queue = self.queues[queue_id]
        pool = self.next_pool
        self.next_pool += 1
        restriction = [self.agents[a].idx for a in agents if a in self.agents] if agents else None
        self.core.add_pool(
            pool, self._skill_ids(requirements, f"queue {queue_id!r}"), self.channels[queue.channel],
            queue.strategy, priority=queue.priority, aging_rate=queue.aging_per_min / 60.0, agents=restriction,
        )
        self.pools[key] = pool
        self.pool_info[pool] = (queue_id, dict(requirements), tuple(sorted(agents)))
        return pool

    def _release_pool_ref(self, pool: int) -> None:
        refs = self.pool_refs.get(pool, 0) - 1
        if refs > 0:
            self.pool_refs[pool] = refs
            return
        self.pool_refs.pop(pool, None)
        info = self.pool_info.get(pool)
        if info is not None and info[2]:  # pools restricted to named agents are per-contact: drop them
            del self.pools[(info[0], tuple(sorted(info[1].items())), info[2])]
            del self.pool_info[pool]
            self.core.remove_pool(pool)

    def _serves(self, a: _Agent, queue_id: str) -> bool:
        queue = self.queues[queue_id]
        if a.config.capacity.get(queue.channel, 0) <= 0:
            return False
        skills = a.config.skills
        return all(skills.get(s, 0) >= level for s, level in queue.skills.items())

    def _count_staffed(self, a: _Agent, delta: int) -> None:
        for qid in self.queues:
            if self._serves(a, qid):
                self.staffed[qid] = self.staffed.get(qid, 0) + delta

    def _put_agent(self, config: AgentConfig, stats: list[Any] | None = None) -> None:
        skills = self._skill_ids(config.skills, f"agent {config.id!r}")
        capacity = {}
        for name, n in config.capacity.items():
            if name not in self.channels:
                raise AcdError(f"agent {config.id!r}: unknown channel {name!r} in capacity")
            capacity[self.channels[name]] = n
        a = self.agents.get(config.id)
        if a is None:
            a = _Agent(config, self.next_agent_idx)
            self.next_agent_idx += 1
            self.agents[config.id] = a
            self.agent_by_idx[a.idx] = a
            if stats:
                idle_since, calls, talk, last_offer = stats
                self.core.add_agent(a.idx, skills, capacity, idle_since=idle_since, calls=calls, talk_time=talk,
                                    last_offer=last_offer)
            else:
                self.core.add_agent(a.idx, skills, capacity)
            return
        if a.logged_in:
            self._count_staffed(a, -1)
        a.config = config
        self.core.update_agent(a.idx, skills, capacity)
        if a.logged_in:
            self._count_staffed(a, +1)

    def _check_upsert_agent(self, event: UpsertAgent) -> None:
        self._check_config_change(agents=[event.agent])

    def _on_upsert_agent(self, event: UpsertAgent, now: float) -> list[Action]:
        self._check_upsert_agent(event)
        self._put_agent(event.agent)
        out: list[Action] = []
        self._match_agent(self.agents[event.agent.id], now, out)
        return out

    def _check_remove_agent(self, event: RemoveAgent) -> None:
        a = self._agent(event.agent_id)
        if a.logged_in:
            raise AcdError(f"agent {event.agent_id!r} is logged in: log it out before removing it")

    def _on_remove_agent(self, event: RemoveAgent, now: float) -> list[Action]:
        self._check_remove_agent(event)
        a = self.agents.pop(event.agent_id)
        del self.agent_by_idx[a.idx]
        self.core.remove_agent(a.idx)
        return []

    def _check_config_change(self, *, agents: list[AgentConfig] = (), queues: list[QueueConfig] = (),  # type: ignore[assignment]
                             workflows: list[WorkflowConfig] = ()) -> None:  # type: ignore[assignment]
        current = self.config_now()
        new_agents = {a.id: a for a in current.agents} | {a.id: a for a in agents}
        new_queues = {q.id: q for q in current.queues} | {q.id: q for q in queues}
        new_flows = {w.id: w for w in current.workflows} | {w.id: w for w in workflows}
        candidate = CenterConfig(
            skills=current.skills, channels=current.channels, agents=tuple(new_agents.values()),
            queues=tuple(new_queues.values()), workflows=tuple(new_flows.values()),
            dispositions=current.dispositions, seed=current.seed)
        try:
            validate_config(candidate)
        except ConfigError as exc:
            raise AcdError(str(exc)) from None
        for q in queues:
            old = self.queues.get(q.id)
            if old is not None and old.channel != q.channel:
                raise AcdError(f"queue {q.id!r}: the channel of an existing queue cannot change")

    def _check_upsert_queue(self, event: UpsertQueue) -> None:
        self._check_config_change(queues=[event.queue])

    def _on_upsert_queue(self, event: UpsertQueue, now: float) -> list[Action]:
        self._check_upsert_queue(event)
        self._put_queue(event.queue)
        out: list[Action] = []
        for a in self.agents.values():
            self._match_agent(a, now, out)
        return out

    def _check_upsert_workflow(self, event: UpsertWorkflow) -> None:
        self._check_config_change(workflows=[event.workflow])

    def _on_upsert_workflow(self, event: UpsertWorkflow, now: float) -> list[Action]:
        self._check_upsert_workflow(event)
        self.workflows[event.workflow.id] = event.workflow
        return []

    def _check_add_skill(self, event: AddSkill) -> None:
        name = event.name
        if not isinstance(name, str) or not name or name != name.strip():
            raise AcdError(f"skill {name!r}: a skill needs a non-empty name without surrounding blanks")
        if name in self.skills:
            raise AcdError(f"skill {name!r} already exists")

    def _on_add_skill(self, event: AddSkill, now: float) -> list[Action]:
        self._check_add_skill(event)
        self.skills[event.name] = len(self.skills)
        self.config = replace(self.config, skills=self.config.skills + (event.name,))
        return []

    def _check_remove_queue(self, event: RemoveQueue) -> None:
        qid = event.queue_id
        if qid not in self.queues:
            raise AcdError(f"unknown queue {qid!r}")
        users = [f"contact {c.id!r}" for c in self.contacts.values()
                 if c.queue == qid or any(step.queue == qid for step in c.steps)]
        users += [f"workflow {w.id!r}" for w in self.workflows.values() if any(s.queue == qid for s in w.steps)]
        users += [f"queue {q.id!r}" for q in self.queues.values()
                  if q.id != qid and qid in (q.overflow_queue, q.closed_queue)]
        if users:
            raise AcdError(f"queue {qid!r} is in use by {', '.join(sorted(users)[:5])}"
                           f"{' and more' if len(users) > 5 else ''}")

    def _on_remove_queue(self, event: RemoveQueue, now: float) -> list[Action]:
        self._check_remove_queue(event)
        qid = event.queue_id
        for key, pool in list(self.pools.items()):
            if key[0] == qid:
                del self.pools[key]
                self.pool_info.pop(pool, None)
                self.pool_refs.pop(pool, None)
                self.core.remove_pool(pool)
        del self.queues[qid]
        self.aht.pop(qid, None)
        self.staffed.pop(qid, None)
        return []

    def _check_remove_workflow(self, event: RemoveWorkflow) -> None:
        if event.workflow_id not in self.workflows:
            raise AcdError(f"unknown workflow {event.workflow_id!r}")

    def _on_remove_workflow(self, event: RemoveWorkflow, now: float) -> list[Action]:
        self._check_remove_workflow(event)
        del self.workflows[event.workflow_id]
        return []

    # ----------------------------------------------------------------------------------------- contacts ----

    def _resolve_steps(self, event: ContactArrived) -> list[RoutingStep]:
        if (event.queue is None) == (event.workflow is None):
            raise AcdError(f"contact {event.contact_id!r}: give exactly one of queue and workflow")
        if event.queue is not None:
            if event.queue not in self.queues:
                raise AcdError(f"contact {event.contact_id!r}: unknown queue {event.queue!r}")
            steps = [RoutingStep(queue=event.queue)]
        else:
            workflow = self.workflows.get(event.workflow)  # type: ignore[arg-type]
            if workflow is None:
                raise AcdError(f"contact {event.contact_id!r}: unknown workflow {event.workflow!r}")
            steps = list(workflow.steps)
        preferred = tuple(a for a in event.preferred_agents if a in self.agents)
        if preferred:
            first = steps[0]
            steps.insert(0, RoutingStep(queue=first.queue, skills=first.skills, preferred_agents=preferred,
                                        priority=first.priority, timeout_s=event.preferred_timeout_s))
        return steps

    def _check_contact_arrived(self, event: ContactArrived) -> None:
        if event.contact_id in self.contacts:
            raise AcdError(f"contact {event.contact_id!r} already exists")
        if event.channel not in self.channels:
            raise AcdError(f"contact {event.contact_id!r}: unknown channel {event.channel!r}")
        steps = self._resolve_steps(event)
        for step in steps:
            queue = self.queues[step.queue]
            if queue.channel != event.channel:
                raise AcdError(f"contact {event.contact_id!r}: channel {event.channel!r} does not match queue "
                               f"{queue.id!r} ({queue.channel})")
        self._skill_ids(event.skills, f"contact {event.contact_id!r}")
        for name, level in event.skills.items():
            if not 1 <= level <= 10:
                raise AcdError(f"contact {event.contact_id!r}: skill {name!r} level {level} is not in 1..10")

    def _on_contact_arrived(self, event: ContactArrived, now: float) -> list[Action]:
        self._check_contact_arrived(event)
        c = _Contact(event, self.next_contact_idx, self.next_seq, now)
        self.next_contact_idx += 1
        self.next_seq += 1
        self.contacts[c.id] = c
        self.contact_by_idx[c.idx] = c
        out: list[Action] = []
        steps = self._resolve_steps(event)
        first_queue = self.queues[steps[0].queue]
        if not is_open(first_queue.hours, now):
            if first_queue.closed_queue is None:
                c.queue = first_queue.id
                self._finish_unserved(c, "closed", now, out)
                return out
            steps = [RoutingStep(queue=first_queue.closed_queue)]
        if not any(self._possible(c, step) for step in steps):
            c.queue = steps[0].queue
            self._finish_unserved(c, "rejected", now, out)
            return out
        c.steps = steps
        c.step_base = now
        self._enter_step(c, 0, now, out, "queued")
        return out

    def _step_requirements(self, c: _Contact, step: RoutingStep) -> dict[str, int]:
        reqs = dict(self.queues[step.queue].skills if step.skills is None else step.skills)
        for name, level in c.skills.items():
            reqs[name] = max(level, reqs.get(name, 0))
        return reqs

    def _possible(self, c: _Contact, step: RoutingStep) -> bool:
        pool = self._pool_for(step.queue, self._step_requirements(c, step), step.preferred_agents)
        possible = self.core.pool_members(pool) > 0
        if not possible and pool not in self.pool_refs:
            self.pool_refs[pool] = 1
            self._release_pool_ref(pool)
        return possible

    def _enter_step(self, c: _Contact, index: int, now: float, out: list[Action], state: str,
                    detail: dict[str, Any] | None = None) -> None:
        """Put a contact (not currently waiting) into step ``index`` of its steps, offering it if an agent is free."""
        step = c.steps[index]
        if c.queue != step.queue or state == "queued":
            c.queue_entered = now
        c.step = index
        c.queue = step.queue
        c.state = "queued"
        c.agent = ""
        c.pool = self._pool_for(step.queue, self._step_requirements(c, step), step.preferred_agents)
        self.pool_refs[c.pool] = self.pool_refs.get(c.pool, 0) + 1
        self._record(c, state, now, out, detail)
        agent_idx = self.core.enqueue(c.idx, c.pool, c.priority + step.priority, c.arrived, c.seq, now)
        if agent_idx >= 0:
            self._release_pool_ref(c.pool)
            self._offer(c, self.agent_by_idx[agent_idx], now, out)
            return
        self._arm_waiting_timers(c, now, out)

    def _arm_waiting_timers(self, c: _Contact, now: float, out: list[Action]) -> None:
        queue = self.queues[c.queue]
        step = c.steps[c.step]
        if step.timeout_s is not None and c.step + 1 < len(c.steps):
            elapsed = sum(s.timeout_s or 0.0 for s in c.steps[: c.step + 1])
            c.tokens[STEP] = self._timer(max(now, c.step_base + elapsed), STEP, c.id)
        if queue.max_wait_s is not None:
            c.tokens[MAX_WAIT] = self._timer(c.queue_entered + queue.max_wait_s, MAX_WAIT, c.id)
        if c.present and queue.announce_every_s:
            c.tokens[ANNOUNCE] = self._timer(now + queue.announce_every_s, ANNOUNCE, c.id)
        if c.present and not c.callback_offered and queue.callback_after_s is not None and c.channel == "voice":
            position, ewt = self.estimated_wait(c.id)
            if ewt > queue.callback_after_s:
                c.callback_offered = True
                out.append(OfferCallback(c.id, ewt))

    def _leave_queue(self, c: _Contact) -> None:
        """Take a waiting contact out of its pool and cancel its waiting timers."""
        self.core.remove_contact(c.idx)
        self._release_pool_ref(c.pool)
        c.pool = -1
        c.tokens[STEP] = c.tokens[MAX_WAIT] = c.tokens[ANNOUNCE] = 0

    def _offer(self, c: _Contact, a: _Agent, now: float, out: list[Action]) -> None:
        queue = self.queues[c.queue]
        c.state = "offered"
        c.agent = a.id
        c.tokens[STEP] = c.tokens[MAX_WAIT] = c.tokens[ANNOUNCE] = 0
        deadline = now + queue.ring_timeout_s
        a.offers[c.id] = self._timer(deadline, RING, a.id, c.id)
        out.append(OfferContact(a.id, c.id, c.channel, c.queue, deadline, c.customer, c.data, c.callback_number))
        self._record(c, "offered", now, out, {"wait_s": now - c.queue_entered})
        self._refresh_agent(a, now, out)

    def _requeue(self, c: _Contact, now: float, out: list[Action], reason: str) -> None:
        """Put an offered or connected contact back in line at its original place (arrival order)."""
        index = c.step
        while index + 1 < len(c.steps) and c.steps[index].timeout_s is not None and \
                now >= c.step_base + sum(s.timeout_s or 0.0 for s in c.steps[: index + 1]):
            index += 1
        self._enter_step(c, index, now, out, "requeued", {"reason": reason})

    def _match_agent(self, a: _Agent, now: float, out: list[Action]) -> None:
        """Offer the agent the best waiting contacts it can take now (several for multi-capacity channels)."""
        if not (a.logged_in and a.ready) or a.hold_token:
            return
        while True:
            idx = self.core.match_agent(a.idx, now)
            if idx < 0:
                return
            c = self.contact_by_idx[idx]
            self._release_pool_ref(c.pool)
            c.pool = -1
            self._offer(c, a, now, out)

    def _finish_unserved(self, c: _Contact, outcome: str, now: float, out: list[Action]) -> None:
        """End a contact that never reached an agent: closed, rejected, max-wait."""
        prompt = {"closed": "closed", "rejected": "unavailable", "max-wait": "max-wait"}[outcome]
        self._record(c, outcome, now, out)
        if c.present:
            out.append(PlayPrompt(c.id, prompt))
            out.append(HangUp(c.id, outcome))
        c.present = False
        c.outcome = outcome
        c.ended = now
        self._close(c, now, out)

    def _close(self, c: _Contact, now: float, out: list[Action]) -> None:
        """Emit the contact's record and forget it, once the customer is gone and no agent still works on it."""
        if c.wrappers or c.state in ("queued", "offered", "connected"):
            return
        out.append(ContactRecord(
            c.id, c.channel, c.customer, c.queue, c.agent, c.arrived, c.answered, c.ended if c.ended else now,
            c.outcome, c.disposition, c.notes, tuple(c.history), c.data))
        del self.contacts[c.id]
        del self.contact_by_idx[c.idx]

    def _check_customer_hung_up(self, event: CustomerHungUp) -> None:
        self._contact(event.contact_id)

    def _on_customer_hung_up(self, event: CustomerHungUp, now: float) -> list[Action]:
        c = self._contact(event.contact_id)
        out: list[Action] = []
        if c.state == "connected":
            self._end_conversation(c, now, out, "customer")
            return out
        if not c.present:
            return out  # a scheduled callback, or already told to hang up: nothing left to do
        if c.state == "queued":
            self._leave_queue(c)
        elif c.state == "offered":
            a = self.agents[c.agent]
            self._withdraw_offer(a, c, "abandoned", now, out)
            self._release_agent_unit(a, c, now, handled=False)
        else:
            return out
        c.present = False
        c.state = "abandoned"
        c.outcome = "abandoned"
        c.ended = now
        self._record(c, "abandoned", now, out, {"wait_s": now - c.queue_entered})
        agent = self.agents.get(c.agent)
        c.agent = ""
        self._close(c, now, out)
        if agent is not None:
            self._refresh_agent(agent, now, out)
            self._after_release(agent, now, out)
        return out

    def _check_callback_requested(self, event: CallbackRequested) -> None:
        c = self._contact(event.contact_id)
        if c.state != "queued" or not c.present:
            raise AcdError(f"contact {event.contact_id!r} is not waiting: no callback to schedule")
        if not event.number:
            raise AcdError(f"contact {event.contact_id!r}: callback number is empty")

    def _on_callback_requested(self, event: CallbackRequested, now: float) -> list[Action]:
        self._check_callback_requested(event)
        c = self.contacts[event.contact_id]
        c.callback_number = event.number
        c.present = False
        c.tokens[MAX_WAIT] = c.tokens[ANNOUNCE] = 0
        out: list[Action] = [PlayPrompt(c.id, "callback-confirmed"), HangUp(c.id, "callback-scheduled")]
        self._record(c, "callback-scheduled", now, out, {"number": event.number})
        return out

    def _withdraw_offer(self, a: _Agent, c: _Contact, reason: str, now: float, out: list[Action]) -> None:
        del a.offers[c.id]
        out.append(CancelOffer(a.id, c.id, reason))

    def _release_agent_unit(self, a: _Agent, c: _Contact, now: float, *, handled: bool, talk_s: float = 0.0) -> None:
        self.core.release(a.idx, self.channels[c.channel], now, talk_s, handled)

    def _after_release(self, a: _Agent, now: float, out: list[Action]) -> None:
        """After an agent let go of something: log it out if it asked to, else offer it the next contact."""
        if a.pending_logout and not (a.offers or a.active or a.wrapping):
            self._logout_now(a, now, out)
            return
        self._match_agent(a, now, out)

    # ------------------------------------------------------------------------------------------- offers ----

    def _check_offer(self, agent_id: str, contact_id: str) -> tuple[_Agent, _Contact]:
        a = self._agent(agent_id)
        if contact_id not in a.offers:
            raise AcdError(f"agent {agent_id!r} has no offer of contact {contact_id!r}")
        return a, self.contacts[contact_id]

    def _check_offer_accepted(self, event: OfferAccepted) -> None:
        self._check_offer(event.agent_id, event.contact_id)

    def _on_offer_accepted(self, event: OfferAccepted, now: float) -> list[Action]:
        a, c = self._check_offer(event.agent_id, event.contact_id)
        del a.offers[c.id]
        a.active.add(c.id)
        c.state = "connected"
        c.connected_at = now
        if c.answered is None:
            c.answered = now
        out: list[Action] = [Bridge(c.id, a.id, c.callback_number)]
        self._record(c, "connected", now, out, {"wait_s": now - c.queue_entered, "total_wait_s": now - c.arrived})
        self._refresh_agent(a, now, out)
        return out

    def _check_offer_declined(self, event: OfferDeclined) -> None:
        self._check_offer(event.agent_id, event.contact_id)

    def _on_offer_declined(self, event: OfferDeclined, now: float) -> list[Action]:
        a, c = self._check_offer(event.agent_id, event.contact_id)
        out: list[Action] = []
        self._withdraw_offer(a, c, "declined", now, out)
        self._release_agent_unit(a, c, now, handled=False)
        self._hold_agent(a, "declined", DECLINE_DELAY_S, now)
        self._requeue(c, now, out, "declined")
        self._refresh_agent(a, now, out)
        self._after_release(a, now, out)
        return out

    def _hold_agent(self, a: _Agent, reason: str, seconds: float, now: float) -> None:
        """Keep a ready agent from new offers for ``seconds`` (after a decline)."""
        if not a.ready:
            return
        a.reason = reason
        self.core.set_ready(a.idx, False, now)
        a.hold_token = self._timer(now + seconds, AGENT_HOLD, a.id)

    def _ring_timeout(self, a: _Agent, c: _Contact, now: float, out: list[Action]) -> None:
        self._withdraw_offer(a, c, "timeout", now, out)
        self._release_agent_unit(a, c, now, handled=False)
        self._set_not_ready(a, "missed", now)
        self._requeue(c, now, out, "missed")
        self._refresh_agent(a, now, out)
        self._after_release(a, now, out)

    # ------------------------------------------------------------------------------------ conversations ----

    def _check_active(self, agent_id: str, contact_id: str) -> tuple[_Agent, _Contact]:
        a = self._agent(agent_id)
        if contact_id not in a.active:
            raise AcdError(f"agent {agent_id!r} is not connected to contact {contact_id!r}")
        return a, self.contacts[contact_id]

    def _check_agent_hung_up(self, event: AgentHungUp) -> None:
        self._check_active(event.agent_id, event.contact_id)

    def _on_agent_hung_up(self, event: AgentHungUp, now: float) -> list[Action]:
        _, c = self._check_active(event.agent_id, event.contact_id)
        out: list[Action] = [HangUp(c.id, "agent-hangup")]
        self._end_conversation(c, now, out, "agent")
        return out

    def _end_conversation(self, c: _Contact, now: float, out: list[Action], by: str) -> None:
        """The conversation is over (either side hung up): the customer is gone, the agent wraps up."""
        a = self.agents[c.agent]
        a.active.discard(c.id)
        c.present = False
        c.state = "ended"
        c.ended = now
        c.outcome = "answered"
        c.talk_s += now - c.connected_at
        self._record(c, "ended", now, out, {"by": by, "talk_s": now - c.connected_at})
        self._start_wrap(a, c, now, out)

    def _start_wrap(self, a: _Agent, c: _Contact, now: float, out: list[Action]) -> None:
        wrap_s = self.queues[c.queue].wrap_up_s
        c.wrappers.add(a.id)
        if wrap_s <= 0:
            self._finish_wrap(a, c, now, out)
            return
        a.wrapping[c.id] = self._timer(now + wrap_s, WRAP, a.id, c.id)
        self._record(c, "wrap-up", now, out, agent=a.id)
        self._refresh_agent(a, now, out)

    def _finish_wrap(self, a: _Agent, c: _Contact, now: float, out: list[Action]) -> None:
        a.wrapping.pop(c.id, None)
        c.wrappers.discard(a.id)
        if not c.disposition:
            c.disposition = self.default_disposition
        handle_s = c.talk_s + (now - (c.ended or now)) if c.state == "ended" else c.talk_s
        self._release_agent_unit(a, c, now, handled=True, talk_s=c.talk_s)
        if c.state == "ended":
            previous = self.aht.get(c.queue, DEFAULT_AHT_S)
            self.aht[c.queue] = previous + AHT_SMOOTHING * (handle_s - previous)
            c.state = "completed"
            self._record(c, "completed", now, out, {"disposition": c.disposition, "talk_s": c.talk_s,
                                                     "handle_s": handle_s}, agent=a.id)
        self._close(c, now, out)
        self._refresh_agent(a, now, out)
        self._after_release(a, now, out)

    def _check_wrap(self, agent_id: str, contact_id: str, disposition: str) -> tuple[_Agent, _Contact]:
        a = self._agent(agent_id)
        if contact_id not in a.wrapping and contact_id not in a.active:
            raise AcdError(f"agent {agent_id!r} is neither on nor wrapping up contact {contact_id!r}")
        if disposition not in self.dispositions:
            raise AcdError(f"unknown disposition {disposition!r} (known: {', '.join(sorted(self.dispositions))})")
        return a, self.contacts[contact_id]

    def _check_wrap_up_done(self, event: WrapUpDone) -> None:
        a, _ = self._check_wrap(event.agent_id, event.contact_id, event.disposition)
        if event.contact_id not in a.wrapping:
            raise AcdError(f"agent {event.agent_id!r} is not wrapping up contact {event.contact_id!r}")

    def _on_wrap_up_done(self, event: WrapUpDone, now: float) -> list[Action]:
        self._check_wrap_up_done(event)
        a, c = self.agents[event.agent_id], self.contacts[event.contact_id]
        c.disposition, c.notes = event.disposition, event.notes or c.notes
        out: list[Action] = []
        self._finish_wrap(a, c, now, out)
        return out

    def _check_set_disposition(self, event: SetDisposition) -> None:
        self._check_wrap(event.agent_id, event.contact_id, event.disposition)

    def _on_set_disposition(self, event: SetDisposition, now: float) -> list[Action]:
        self._check_set_disposition(event)
        c = self.contacts[event.contact_id]
        c.disposition, c.notes = event.disposition, event.notes or c.notes
        return []

    def _check_transfer(self, event: TransferRequested) -> None:
        self._check_active(event.agent_id, event.contact_id)
        c = self.contacts[event.contact_id]
        if (event.to_queue is None) == (event.to_agent is None):
            raise AcdError("transfer: give exactly one of to_queue and to_agent")
        if event.to_queue is not None:
            queue = self.queues.get(event.to_queue)
            if queue is None:
                raise AcdError(f"transfer: unknown queue {event.to_queue!r}")
            if queue.channel != c.channel:
                raise AcdError(f"transfer: queue {event.to_queue!r} does not take {c.channel} contacts")
        else:
            target = self._agent(event.to_agent)  # type: ignore[arg-type]
            if not target.logged_in:
                raise AcdError(f"transfer: agent {event.to_agent!r} is not logged in")
            if event.to_agent == event.agent_id:
                raise AcdError("transfer: an agent cannot transfer a contact to itself")
            if target.config.capacity.get(c.channel, 0) <= 0:
                raise AcdError(f"transfer: agent {event.to_agent!r} takes no {c.channel} contacts")

    def _on_transfer(self, event: TransferRequested, now: float) -> list[Action]:
        self._check_transfer(event)
        a, c = self.agents[event.agent_id], self.contacts[event.contact_id]
        wrap_s = self.queues[c.queue].wrap_up_s
        a.active.discard(c.id)
        c.talk_s += now - c.connected_at
        out: list[Action] = [Unbridge(c.id, a.id)]
        target = event.to_queue or f"agent:{event.to_agent}"
        self._record(c, "transferred", now, out, {"to": target, "talk_s": now - c.connected_at})
        if event.to_queue is not None:
            c.steps = [RoutingStep(queue=event.to_queue)]
        else:
            c.steps = [RoutingStep(queue=c.queue, skills={}, preferred_agents=(event.to_agent,),  # type: ignore[arg-type]
                                   timeout_s=TRANSFER_TO_AGENT_TIMEOUT_S), RoutingStep(queue=c.queue)]
        c.step_base = now
        c.state = "transferring"
        c.wrappers.add(a.id)
        self._enter_step(c, 0, now, out, "queued", {"transferred_from": a.id})
        if wrap_s > 0:
            a.wrapping[c.id] = self._timer(now + wrap_s, WRAP, a.id, c.id)
            self._refresh_agent(a, now, out)
        else:
            self._finish_wrap(a, c, now, out)
        return out

    # -------------------------------------------------------------------------------------------- agents ----

    def _check_agent_login(self, event: AgentLogin) -> None:
        if self._agent(event.agent_id).logged_in:
            raise AcdError(f"agent {event.agent_id!r} is already logged in")

    def _on_agent_login(self, event: AgentLogin, now: float) -> list[Action]:
        self._check_agent_login(event)
        a = self.agents[event.agent_id]
        a.logged_in = True
        a.ready = False
        a.reason = "login"
        a.pending_logout = False
        self._count_staffed(a, +1)
        out: list[Action] = []
        self._refresh_agent(a, now, out)
        return out

    def _check_logged_in(self, agent_id: str) -> _Agent:
        a = self._agent(agent_id)
        if not a.logged_in:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        return a

    def _check_agent_logout(self, event: AgentLogout) -> None:
        self._check_logged_in(event.agent_id)

    def _on_agent_logout(self, event: AgentLogout, now: float) -> list[Action]:
        a = self._check_logged_in(event.agent_id)
        out: list[Action] = []
        self._set_not_ready(a, "logging-out", now)
        for cid in list(a.offers):
            c = self.contacts[cid]
            self._withdraw_offer(a, c, "logout", now, out)
            self._release_agent_unit(a, c, now, handled=False)
            self._requeue(c, now, out, "agent-logout")
        if a.active or a.wrapping:
            a.pending_logout = True
            self._refresh_agent(a, now, out)
        else:
            self._logout_now(a, now, out)
        return out

    def _logout_now(self, a: _Agent, now: float, out: list[Action]) -> None:
        a.logged_in = False
        a.pending_logout = False
        a.ready = False
        a.hold_token = 0
        self.core.set_ready(a.idx, False, now)
        self._count_staffed(a, -1)
        self._refresh_agent(a, now, out)

    def _set_not_ready(self, a: _Agent, reason: str, now: float) -> None:
        a.ready = False
        a.reason = reason
        a.hold_token = 0
        self.core.set_ready(a.idx, False, now)

    def _check_agent_ready(self, event: AgentReady) -> None:
        a = self._check_logged_in(event.agent_id)
        if a.pending_logout:
            raise AcdError(f"agent {event.agent_id!r} is logging out")

    def _on_agent_ready(self, event: AgentReady, now: float) -> list[Action]:
        self._check_agent_ready(event)
        a = self.agents[event.agent_id]
        a.ready = True
        a.reason = ""
        a.hold_token = 0
        self.core.set_ready(a.idx, True, now)
        out: list[Action] = []
        self._refresh_agent(a, now, out)
        self._match_agent(a, now, out)
        return out

    def _check_agent_not_ready(self, event: AgentNotReady) -> None:
        self._check_logged_in(event.agent_id)
        if not event.reason:
            raise AcdError("not-ready: a reason is required")

    def _on_agent_not_ready(self, event: AgentNotReady, now: float) -> list[Action]:
        self._check_agent_not_ready(event)
        a = self.agents[event.agent_id]
        self._set_not_ready(a, event.reason, now)
        out: list[Action] = []
        self._refresh_agent(a, now, out)
        return out

    def _check_agent_disconnected(self, event: AgentDisconnected) -> None:
        self._check_logged_in(event.agent_id)

    def _on_agent_disconnected(self, event: AgentDisconnected, now: float) -> list[Action]:
        a = self._check_logged_in(event.agent_id)
        out: list[Action] = []
        self._set_not_ready(a, "disconnected", now)
        for cid in sorted(a.offers):
            c = self.contacts[cid]
            self._withdraw_offer(a, c, "disconnected", now, out)
            self._release_agent_unit(a, c, now, handled=False)
            self._requeue(c, now, out, "agent-disconnected")
        for cid in sorted(a.active):
            c = self.contacts[cid]
            a.active.discard(cid)
            c.talk_s += now - c.connected_at
            out.append(Unbridge(cid, a.id))
            self._release_agent_unit(a, c, now, handled=False)
            self._requeue(c, now, out, "agent-disconnected")
        for cid in sorted(a.wrapping):
            self._finish_wrap(a, self.contacts[cid], now, out)
        self._refresh_agent(a, now, out)
        return out

    # -------------------------------------------------------------------------------------------- timers ----

    def _on_tick(self, event: Tick, now: float) -> list[Action]:
        out: list[Action] = []
        timers = self.timers
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)
            if self._timer_live(timer):
                self._fire(timer, now, out)
        return out

    def _fire(self, timer: tuple[float, int, int, str, str], now: float, out: list[Action]) -> None:
        _, _, kind, owner, ref = timer
        if kind == RING:
            self._ring_timeout(self.agents[owner], self.contacts[ref], now, out)
        elif kind == WRAP:
            self._finish_wrap(self.agents[owner], self.contacts[ref], now, out)
        elif kind == AGENT_HOLD:
            a = self.agents[owner]
            a.hold_token = 0
            a.reason = ""
            self.core.set_ready(a.idx, True, now)
            self._refresh_agent(a, now, out)
            self._match_agent(a, now, out)
        elif kind == STEP:
            c = self.contacts[owner]
            self._leave_queue(c)
            self._enter_step(c, c.step + 1, now, out, "step", {"step": c.step + 1})
        elif kind == MAX_WAIT:
            c = self.contacts[owner]
            queue = self.queues[c.queue]
            self._leave_queue(c)
            if queue.overflow_queue is not None:
                c.steps = [RoutingStep(queue=queue.overflow_queue)]
                c.step_base = now
                self._record(c, "overflowed", now, out, {"to": queue.overflow_queue})
                self._enter_step(c, 0, now, out, "queued", {"moved_from": queue.id})
            else:
                c.state = "unserved"
                self._finish_unserved(c, "max-wait", now, out)
        elif kind == ANNOUNCE:
            c = self.contacts[owner]
            position, ewt = self.estimated_wait(c.id)
            out.append(PlayAnnouncement(c.id, position, ewt))
            queue = self.queues[c.queue]
            if not c.callback_offered and queue.callback_after_s is not None and ewt > queue.callback_after_s:
                c.callback_offered = True
                out.append(OfferCallback(c.id, ewt))
            c.tokens[ANNOUNCE] = self._timer(now + (queue.announce_every_s or 0.0), ANNOUNCE, c.id)


def _plain(value: Any) -> Any:
    """msgpack-able copy of a contact attribute."""
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, RoutingStep):
        return value.to_dict()
    if isinstance(value, dict):
        return dict(value)
    return value
