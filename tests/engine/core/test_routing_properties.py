"""Property tests of the routing index (both implementations) and a differential test between them.

A random stream of operations is applied through a small driver that behaves like the ACD: after ``set_ready``,
``release`` and ``update_agent`` it calls ``match_agent`` for that agent until it returns -1. The driver keeps its
own model (who holds what, what waits where) and checks every answer against it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import engine.core

VOICE, CHAT = 0, 1
EXCLUSIVE = {VOICE: True, CHAT: False}
ERROR = object()
AGENTS = range(6)
SKILLS = range(3)

skills_st = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=3)
capacity_st = st.fixed_dictionaries({VOICE: st.sampled_from([0, 1, 1, 1]), CHAT: st.integers(0, 3)})
initial_agents_st = st.lists(st.tuples(skills_st, capacity_st, st.booleans()), min_size=1, max_size=len(AGENTS))
pool_st = st.tuples(
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2),
    st.sampled_from([VOICE, CHAT]),
    st.integers(0, 5),  # strategy
    st.integers(0, 2),  # priority
    st.sampled_from([0.0, 0.5, 2.0]),  # aging rate
    st.one_of(st.none(), st.lists(st.sampled_from(AGENTS), max_size=3)),
)
op_st = st.one_of(
    st.tuples(st.just("add_agent"), st.sampled_from(AGENTS), skills_st, capacity_st),
    st.tuples(st.just("update_agent"), st.sampled_from(AGENTS), skills_st, capacity_st),
    st.tuples(st.just("remove_agent"), st.sampled_from(AGENTS)),
    st.tuples(st.just("set_ready"), st.sampled_from(AGENTS), st.booleans()),
    st.tuples(st.just("release"), st.sampled_from(AGENTS), st.sampled_from([VOICE, CHAT]), st.booleans()),
    st.tuples(st.just("enqueue"), st.integers(0, 4), st.integers(0, 3)),
    st.tuples(st.just("enqueue"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("enqueue"), st.integers(0, 2), st.integers(0, 1)),
    st.tuples(st.just("move_contact"), st.integers(0, 40), st.integers(0, 4), st.integers(0, 3)),
    st.tuples(st.just("remove_contact"), st.integers(0, 40)),
    st.tuples(st.just("match_agent"), st.sampled_from(AGENTS)),
    st.tuples(st.just("add_pool"), st.integers(0, 4), pool_st),
    st.tuples(st.just("remove_pool"), st.integers(0, 4)),
    st.tuples(st.just("tick"), st.sampled_from([0.0, 0.5, 3.0])),
    st.tuples(st.just("burst"), st.integers(0, 2), st.integers(0, 1), st.integers(2, 6)),
    st.tuples(st.just("release_all")),
)


class Driver:
    """Applies operations to one index, checks them against a model, and records every answer."""

    def __init__(self, core: ModuleType, seed: int, agents: list[Any]) -> None:
        self.r = core.RoutingIndex(seed)
        for ch, excl in EXCLUSIVE.items():
            self.r.add_channel(ch, excl)
        self.now = 0.0
        self.next_contact = 0
        self.trace: list[Any] = []
        self.skills: dict[int, dict[int, int]] = {}
        self.capacity: dict[int, dict[int, int]] = {}
        self.load: dict[int, dict[int, int]] = {}
        self.pools: dict[int, tuple[Any, ...]] = {}
        self.waiting: dict[int, tuple[int, int, float, int]] = {}  # contact -> (pool, priority, arrived, seq)
        self.assigned: dict[int, int] = {}
        self.removed: set[int] = set()
        for p in range(3):  # a few pools from the start
            self.apply(("add_pool", p, ({p: 1} if p else {}, VOICE if p != 1 else CHAT, p, 0, 0.0, None)))
        for a, (skills, cap, ready) in enumerate(agents):
            self.apply(("add_agent", a, skills, cap))
            if ready:
                self.apply(("set_ready", a, True))

    # -------------------------------------------------------------- model checks
    def member(self, agent: int, pool: int) -> bool:
        reqs, _, _, _, _, restriction = self.pools[pool]
        if restriction is not None and agent not in restriction:
            return False
        return all(self.skills[agent].get(s, 0) >= lvl for s, lvl in reqs.items())

    def take(self, agent: int, contact: int, pool: int, priority: int, arrived: float, seq: int) -> None:
        """Check and record the assignment of ``contact`` (from ``pool``) to ``agent``."""
        assert agent in self.skills, "assigned to an unknown agent"
        assert self.member(agent, pool), f"agent {agent} not a member of pool {pool}"
        ch = self.pools[pool][1]
        load = self.load[agent]
        if EXCLUSIVE[ch]:
            assert sum(load.values()) == 0, "exclusive contact offered to a loaded agent"
        else:
            assert load[VOICE] == 0, "contact offered to an agent holding an exclusive contact"
        load[ch] += 1
        assert load[ch] <= self.capacity[agent][ch], "capacity exceeded"
        # equal priority in the same pool: arrival order
        for other, (opool, oprio, oarr, oseq) in self.waiting.items():
            if opool == pool and oprio == priority and other != contact:
                assert (arrived, seq) < (oarr, oseq), f"contact {contact} overtook {other} of equal priority"
        assert contact not in self.assigned and contact not in self.removed, "contact duplicated"
        self.assigned[contact] = agent

    def settle(self, agent: int) -> None:
        while True:
            got = self.call("match_agent", agent, self.now)
            if got is ERROR or got == -1:
                return
            self.matched(agent, got)

    def matched(self, agent: int, contact: int) -> None:
        assert contact in self.waiting, f"matched contact {contact} was not waiting"
        pool, prio, arr, seq = self.waiting.pop(contact)
        self.take(agent, contact, pool, prio, arr, seq)

    def check_invariants(self) -> None:
        r = self.r
        for pool in self.pools:
            assert not (r.pool_waiting(pool) and r.pool_available(pool)), f"pool {pool} waiting and available"
            assert r.pool_waiting(pool) == sum(1 for w in self.waiting.values() if w[0] == pool)
            assert r.pool_members(pool) == sum(1 for a in self.skills if self.member(a, pool))
        for c in range(self.next_contact):
            states = [c in self.waiting, c in self.assigned, c in self.removed]
            assert sum(states) == 1, f"contact {c} lost or duplicated: {states}"
            assert (r.contact_pool(c) != -1) == (c in self.waiting)
        for a in self.skills:
            for ch in EXCLUSIVE:
                assert r.agent_load(a, ch) == self.load[a][ch]

    # -------------------------------------------------------------- operations
    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            out = getattr(self.r, name)(*args, **kwargs)
        except (KeyError, ValueError) as exc:
            self.trace.append((name, type(exc).__name__, str(exc)))
            return ERROR
        self.trace.append((name, out))
        return out

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "add_agent":
            _, a, skills, cap = op
            if self.call("add_agent", a, skills, cap, idle_since=self.now) is not ERROR:
                self.skills[a], self.capacity[a], self.load[a] = dict(skills), dict(cap), {VOICE: 0, CHAT: 0}
        elif kind == "update_agent":
            _, a, skills, cap = op
            if self.call("update_agent", a, skills, cap) is not ERROR:
                self.skills[a], self.capacity[a] = dict(skills), dict(cap)
                self.settle(a)
        elif kind == "remove_agent":
            if self.call("remove_agent", op[1]) is not ERROR:
                del self.skills[op[1]], self.capacity[op[1]], self.load[op[1]]
        elif kind == "set_ready":
            if self.call("set_ready", op[1], op[2], self.now) is not ERROR:
                self.settle(op[1])
        elif kind == "release":
            _, a, ch, handled = op
            if self.call("release", a, ch, self.now, 1.5, handled) is not ERROR:
                self.load[a][ch] -= 1
                self.settle(a)
        elif kind == "enqueue":
            _, pool, prio = op
            c = self.next_contact
            got = self.call("enqueue", c, pool, prio, self.now, c, self.now)
            if got is ERROR:
                return
            self.next_contact += 1
            if got == -1:
                self.waiting[c] = (pool, prio, self.now, c)
            else:
                self.take(got, c, pool, prio, self.now, c)
        elif kind == "move_contact":
            _, c, pool, prio = op
            got = self.call("move_contact", c, pool, prio, self.now)
            if got is ERROR:
                return
            _, _, arr, seq = self.waiting.pop(c)
            if got == -1:
                self.waiting[c] = (pool, prio, arr, seq)
            else:
                self.take(got, c, pool, prio, arr, seq)
        elif kind == "remove_contact":
            if self.call("remove_contact", op[1]):
                del self.waiting[op[1]]
                self.removed.add(op[1])
        elif kind == "match_agent":
            got = self.call("match_agent", op[1], self.now)
            if got is not ERROR and got != -1:
                self.matched(op[1], got)
        elif kind == "add_pool":
            _, pool, (reqs, ch, strategy, prio, aging, restriction) = op
            if self.call("add_pool", pool, reqs, ch, strategy, priority=prio, aging_rate=aging,
                         agents=restriction) is not ERROR:
                self.pools[pool] = (dict(reqs), ch, strategy, prio, aging,
                                    None if restriction is None else set(restriction))
        elif kind == "remove_pool":
            if self.call("remove_pool", op[1]) is not ERROR:
                del self.pools[op[1]]
        elif kind == "tick":
            self.now += op[1]
        elif kind == "burst":  # several contacts of one priority into one pool, a little apart
            _, pool, prio, n = op
            for _ in range(n):
                self.apply(("enqueue", pool, prio))
                self.now += 0.25
        elif kind == "release_all":  # every agent finishes everything and is ready (matched one by one)
            for a in sorted(self.skills):
                for ch in EXCLUSIVE:
                    for _ in range(self.load[a][ch]):
                        self.apply(("release", a, ch, True))
                self.apply(("set_ready", a, True))
        self.check_invariants()

    def snapshot(self) -> Any:
        r = self.r
        return (
            [(a, r.agent_stats(a), r.agent_pools(a), r.agent_load(a, VOICE), r.agent_load(a, CHAT))
             for a in sorted(self.skills)],
            [(p, r.pool_members(p), r.pool_available(p), r.pool_waiting(p), r.oldest_arrival(p))
             for p in sorted(self.pools)],
            [(c, r.contact_pool(c), r.position(c)) for c in range(self.next_contact)],
            r.offer_counter,
        )


def impls() -> list[ModuleType]:
    out = [engine.core.load("python")]
    try:
        out.append(engine.core.load("cython"))
    except ImportError:
        pass
    return out


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(agents=initial_agents_st, ops=st.lists(op_st, min_size=10, max_size=60), seed=st.integers(0, 2**64 - 1))
def test_properties_hold(core_impl: ModuleType, agents: list[Any], ops: list[Any], seed: int) -> None:
    """Capacity / exclusivity, membership, arrival order, conservation of contacts, no waiting-and-available."""
    d = Driver(core_impl, seed, agents)
    for op in ops:
        d.apply(op)
    event("assigned: " + ("none" if not d.assigned else "1-4" if len(d.assigned) < 5 else "5+"))


@SETTINGS
@given(agents=initial_agents_st, ops=st.lists(op_st, min_size=10, max_size=80), seed=st.integers(0, 2**64 - 1))
def test_implementations_agree(agents: list[Any], ops: list[Any], seed: int) -> None:
    """The same operation stream gives identical answers (and errors) on both implementations."""
    both = impls()
    if len(both) < 2:
        pytest.skip("compiled routing core not built")
    py, cy = Driver(both[0], seed, agents), Driver(both[1], seed, agents)
    assert py.trace == cy.trace
    for op in ops:
        py.apply(op)
        cy.apply(op)
        assert py.trace == cy.trace, op
    assert py.snapshot() == cy.snapshot()


def test_larger_random_stream_agrees() -> None:
    """A longer deterministic stream with many agents and pools (exercises heap depth and slot reuse)."""
    import random

    both = impls()
    if len(both) < 2:
        pytest.skip("compiled routing core not built")
    rng = random.Random(7)
    indexes = [core.RoutingIndex(99) for core in both]
    outs: list[list[Any]] = [[], []]
    for r in indexes:
        r.add_channel(VOICE, True)
        r.add_channel(CHAT, False)
        for p in range(30):
            r.add_pool(p, {p % 10: 1 + p % 3}, VOICE if p % 4 else CHAT, p % 6, priority=p % 3,
                       aging_rate=(p % 5) * 0.25)
    for a in range(200):
        skills = {s: rng.randint(1, 10) for s in rng.sample(range(10), rng.randint(1, 5))}
        for r in indexes:
            r.add_agent(a, skills, {VOICE: 1, CHAT: 2})
    contact = 0
    now = 0.0
    for _ in range(20000):
        now += rng.random() * 0.1
        x = rng.random()
        a = rng.randrange(200)
        args: tuple[Any, ...]
        if x < 0.4:
            name, args = "enqueue", (contact, rng.randrange(30), rng.randint(0, 3), now, contact, now)
            contact += 1
        elif x < 0.55:
            name, args = "set_ready", (a, rng.random() < 0.8, now)
        elif x < 0.75:
            name, args = "release", (a, rng.choice([VOICE, CHAT]), now, rng.random() * 60, rng.random() < 0.9)
        elif x < 0.9:
            name, args = "match_agent", (a, now)
        elif x < 0.97:
            name, args = "remove_contact", (rng.randrange(contact + 1),)
        else:
            name, args = "move_contact", (rng.randrange(contact + 1), rng.randrange(30), rng.randint(0, 3), now)
        for r, out in zip(indexes, outs, strict=True):
            try:
                out.append(getattr(r, name)(*args))
            except (KeyError, ValueError) as exc:
                out.append((type(exc).__name__, str(exc)))
    assert outs[0] == outs[1]
    for a in range(200):
        assert indexes[0].agent_stats(a) == indexes[1].agent_stats(a)
    for c in range(contact):
        assert indexes[0].position(c) == indexes[1].position(c)
