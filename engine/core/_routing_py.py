"""Routing index — the pure-Python reference implementation (the source of truth for readers and type checkers).

``_routing_c.pyx`` is the compiled twin with the identical API and identical results for identical calls; the
selector in ``engine/core/__init__.py`` picks one. See ``docs/routing-core.md``.

Theory of operation
-------------------
* An *agent* has skills ``{skill: level}``, a capacity and a load per channel, a ready flag and routing statistics
  (``idle_since``, ``calls``, ``talk_time``, ``last_offer``).
* A *pool* is a routing target: requirements ``{skill: min_level}``, one channel, a strategy, a priority, an aging
  rate and an optional restriction to named agents. An agent is a *member* of a pool when it has every required
  skill at or above the level (and is in the restriction, if any). Memberships are kept current by ``add_pool``,
  ``add_agent`` and ``update_agent``.
* Each pool holds two indexed binary heaps: its *available* members (ready and free for the pool's channel) keyed
  by the pool's strategy, and its *waiting* contacts keyed by ``(-(priority - aging_rate * arrived), arrived, seq,
  contact)``. Every heap entry is a tuple whose last element is the id, and a position map (id -> index) allows
  removal of any entry in O(log n).
* *Free for a channel*: the agent is ready and holds no contact of an exclusive channel; for an exclusive channel
  its total load over all channels is 0 (and its capacity there is positive), otherwise its load on the channel is
  below its capacity there.
* Whenever an agent's state changes (ready, load, statistics, skills) it leaves every heap and re-enters those of
  its pools whose channel it is free for, with fresh keys.
* ``enqueue`` assigns the best available agent at once or stores the contact; ``match_agent`` gives an agent the
  best waiting contact over all its pools (effective priority ``priority + pool.priority + aging_rate * (now -
  arrived)``, then ``arrived``, then ``seq``, then contact id). ``set_ready``, ``release`` and ``update_agent`` do
  not match: the caller calls ``match_agent`` (repeatedly, for multi-capacity channels) afterwards. Once it has,
  no pool has both a waiting contact and an available agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["MAX_CHANNELS", "MAX_LEVEL", "MIN_LEVEL", "STRATEGIES", "RoutingIndex", "strategy_code"]

STRATEGIES: tuple[str, ...] = (
    "longest-idle",
    "fewest-calls",
    "least-talk-time",
    "best-skill-level",
    "round-robin",
    "random",
)
"""Agent-selection strategies; a strategy's numeric code is its index here."""

LONGEST_IDLE, FEWEST_CALLS, LEAST_TALK_TIME, BEST_SKILL_LEVEL, ROUND_ROBIN, RANDOM = range(6)
MIN_LEVEL = 1
MAX_LEVEL = 10
MAX_CHANNELS = 16
"""How many channels one index may register (the compiled core keeps per-agent loads in fixed arrays)."""

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """The splitmix64 finaliser on a 64-bit value (Python ints masked to 64 bits)."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def strategy_code(strategy: int | str) -> int:
    """The numeric code of ``strategy`` (a code or a name from ``STRATEGIES``); ``ValueError`` if unknown."""
    if isinstance(strategy, str):
        if strategy in STRATEGIES:
            return STRATEGIES.index(strategy)
    elif isinstance(strategy, int) and 0 <= strategy < len(STRATEGIES):
        return int(strategy)
    raise ValueError(f"unknown strategy {strategy!r}")


def _check_id(kind: str, value: int) -> int:
    if value < 0:
        raise ValueError(f"negative {kind} id {value}")
    return value


def _check_levels(owner: str, levels: Mapping[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for skill, level in levels.items():
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"{owner}: skill {skill} level {level} not in 1..10")
        out[skill] = level
    return out


class _IndexedHeap:
    """A binary min-heap of tuples whose last element is a unique id, with O(log n) removal by id."""

    __slots__ = ("heap", "pos")

    def __init__(self) -> None:
        self.heap: list[tuple] = []
        self.pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.heap)

    def __contains__(self, ident: int) -> bool:
        return ident in self.pos

    def push(self, entry: tuple) -> None:
        heap = self.heap
        heap.append(entry)
        self._sift_up(len(heap) - 1, entry)

    def pop(self) -> tuple:
        """Remove and return the smallest entry (the heap must not be empty)."""
        heap = self.heap
        top = heap[0]
        last = heap.pop()
        del self.pos[top[-1]]
        if heap:
            self._sift_down(0, last)
        return top

    def remove(self, ident: int) -> tuple:
        """Remove and return the entry with id ``ident`` (which must be present)."""
        heap = self.heap
        i = self.pos.pop(ident)
        entry = heap[i]
        last = heap.pop()
        if i < len(heap):
            if last < entry:
                self._sift_up(i, last)
            else:
                self._sift_down(i, last)
        return entry

    def _sift_up(self, i: int, entry: tuple) -> None:
        heap, pos = self.heap, self.pos
        while i > 0:
            parent = (i - 1) >> 1
            above = heap[parent]
            if entry < above:
                heap[i] = above
                pos[above[-1]] = i
                i = parent
            else:
                break
        heap[i] = entry
        pos[entry[-1]] = i

    def _sift_down(self, i: int, entry: tuple) -> None:
        heap, pos = self.heap, self.pos
        n = len(heap)
        child = 2 * i + 1
        while child < n:
            right = child + 1
            if right < n and heap[right] < heap[child]:
                child = right
            below = heap[child]
            if below < entry:
                heap[i] = below
                pos[below[-1]] = i
                i = child
                child = 2 * i + 1
            else:
                break
        heap[i] = entry
        pos[entry[-1]] = i


class _Agent:
    __slots__ = ("id", "skills", "capacity", "load", "total_load", "exclusive_load", "ready",
                 "idle_since", "calls", "talk_time", "last_offer", "pools")

    def __init__(self, ident: int, skills: dict[int, int], capacity: dict[int, int], idle_since: float,
                 calls: int, talk_time: float, last_offer: int) -> None:
        self.id = ident
        self.skills = skills
        self.capacity = capacity
        self.load: dict[int, int] = {}
        self.total_load = 0
        self.exclusive_load = 0
        self.ready = False
        self.idle_since = idle_since
        self.calls = calls
        self.talk_time = talk_time
        self.last_offer = last_offer
        self.pools: dict[int, _Pool] = {}  # member pools by id


class _Pool:
    __slots__ = ("id", "requirements", "channel", "strategy", "priority", "aging_rate", "restriction",
                 "members", "agents", "contacts")

    def __init__(self, ident: int, requirements: dict[int, int], channel: int, strategy: int, priority: int,
                 aging_rate: float, restriction: frozenset[int] | None) -> None:
        self.id = ident
        self.requirements = requirements
        self.channel = channel
        self.strategy = strategy
        self.priority = priority
        self.aging_rate = aging_rate
        self.restriction = restriction
        self.members: set[int] = set()
        self.agents = _IndexedHeap()  # available members, keyed by strategy
        self.contacts = _IndexedHeap()  # waiting contacts: (-(priority - aging*arrived), arrived, seq, id)

    def admits(self, agent: _Agent) -> bool:
        if self.restriction is not None and agent.id not in self.restriction:
            return False
        skills = agent.skills
        for skill, level in self.requirements.items():
            if skills.get(skill, 0) < level:
                return False
        return True


class _Contact:
    __slots__ = ("id", "pool", "priority", "arrived", "seq")

    def __init__(self, ident: int, pool: _Pool, priority: int, arrived: float, seq: int) -> None:
        self.id = ident
        self.pool = pool
        self.priority = priority
        self.arrived = arrived
        self.seq = seq


class RoutingIndex:
    """Pools of available agents and waiting contacts for one partition. See the module docstring."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed & _MASK64
        self._exclusive: dict[int, bool] = {}
        self._agents: dict[int, _Agent] = {}
        self._pools: dict[int, _Pool] = {}
        self._contacts: dict[int, _Contact] = {}
        self._offer_counter = 0

    # ---------------------------------------------------------------- counters
    @property
    def offer_counter(self) -> int:
        """The global offer counter: each assignment increments it and stamps the agent's ``last_offer``."""
        return self._offer_counter

    @offer_counter.setter
    def offer_counter(self, value: int) -> None:
        self._offer_counter = value

    # ---------------------------------------------------------------- channels
    def add_channel(self, channel: int, exclusive: bool) -> None:
        """Register a channel. An exclusive channel's contact is the only one its agent holds."""
        _check_id("channel", channel)
        if channel in self._exclusive:
            raise ValueError(f"channel {channel} already exists")
        if len(self._exclusive) >= MAX_CHANNELS:
            raise ValueError(f"too many channels (max {MAX_CHANNELS})")
        self._exclusive[channel] = bool(exclusive)

    def _channel(self, channel: int) -> int:
        if channel not in self._exclusive:
            raise KeyError(f"unknown channel {channel}")
        return channel

    # ---------------------------------------------------------------- agents
    def _agent(self, agent: int) -> _Agent:
        a = self._agents.get(agent)
        if a is None:
            raise KeyError(f"unknown agent {agent}")
        return a

    def _check_capacity(self, agent: int, capacity: Mapping[int, int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for channel, n in capacity.items():
            self._channel(channel)
            if n < 0:
                raise ValueError(f"agent {agent}: capacity {n} on channel {channel} is negative")
            out[channel] = n
        return out

    def add_agent(self, agent: int, skills: Mapping[int, int], capacity: Mapping[int, int], *,
                  idle_since: float = 0.0, calls: int = 0, talk_time: float = 0.0, last_offer: int = 0) -> None:
        """Add an agent, not ready and without load; it joins every pool that admits it.

        ``ValueError`` if it exists or a level/capacity is out of range; ``KeyError`` for an unknown channel.
        """
        _check_id("agent", agent)
        if agent in self._agents:
            raise ValueError(f"agent {agent} already exists")
        levels = _check_levels(f"agent {agent}", skills)
        cap = self._check_capacity(agent, capacity)
        a = _Agent(agent, levels, cap, float(idle_since), int(calls), float(talk_time), int(last_offer))
        self._agents[agent] = a
        for pool in self._pools.values():
            if pool.admits(a):
                pool.members.add(agent)
                a.pools[pool.id] = pool

    def update_agent(self, agent: int, skills: Mapping[int, int], capacity: Mapping[int, int]) -> None:
        """Replace an agent's skills and capacity and recompute its memberships; load, ready and statistics stay.

        Does not match: the caller calls ``match_agent`` afterwards.
        """
        a = self._agent(agent)
        levels = _check_levels(f"agent {agent}", skills)
        cap = self._check_capacity(agent, capacity)
        self._leave_heaps(a)
        for pool in a.pools.values():
            pool.members.discard(agent)
        a.pools = {}
        a.skills = levels
        a.capacity = cap
        for pool in self._pools.values():
            if pool.admits(a):
                pool.members.add(agent)
                a.pools[pool.id] = pool
        self._enter_heaps(a)

    def remove_agent(self, agent: int) -> None:
        """Remove an agent; ``ValueError`` if it still holds load."""
        a = self._agent(agent)
        if a.total_load:
            raise ValueError(f"agent {agent} has load")
        self._leave_heaps(a)
        for pool in a.pools.values():
            pool.members.discard(agent)
        del self._agents[agent]

    def has_agent(self, agent: int) -> bool:
        return agent in self._agents

    def set_ready(self, agent: int, ready: bool, now: float) -> None:
        """Make an agent ready (it enters the heaps of pools it is free for) or not ready (it leaves them all).

        Becoming ready with no load sets ``idle_since = now``. Does not match.
        """
        a = self._agent(agent)
        ready = bool(ready)
        if ready and not a.ready and a.total_load == 0:
            a.idle_since = float(now)
        a.ready = ready
        self._rekey(a)

    def agent_stats(self, agent: int) -> tuple[float, int, float, int]:
        """``(idle_since, calls, talk_time, last_offer)``."""
        a = self._agent(agent)
        return (a.idle_since, a.calls, a.talk_time, a.last_offer)

    def agent_load(self, agent: int, channel: int) -> int:
        a = self._agent(agent)
        self._channel(channel)
        return a.load.get(channel, 0)

    def agent_pools(self, agent: int) -> list[int]:
        """The pools the agent is a member of, sorted."""
        return sorted(self._agent(agent).pools)

    def add_load(self, agent: int, channel: int) -> None:
        """Add one unit of load on ``channel`` without an offer (restoring a snapshot); statistics unchanged."""
        a = self._agent(agent)
        self._channel(channel)
        self._load(a, channel)
        self._rekey(a)

    def release(self, agent: int, channel: int, now: float, talk_time: float = 0.0, handled: bool = True) -> None:
        """Remove one unit of load on ``channel`` (``ValueError`` if none).

        If ``handled``: ``calls += 1`` and ``talk_time += talk_time``. At zero total load ``idle_since = now``.
        The agent re-enters the heaps where it is free. Does not match.
        """
        a = self._agent(agent)
        self._channel(channel)
        if a.load.get(channel, 0) <= 0:
            raise ValueError(f"agent {agent} has no load on channel {channel}")
        a.load[channel] -= 1
        a.total_load -= 1
        if self._exclusive[channel]:
            a.exclusive_load -= 1
        if handled:
            a.calls += 1
            a.talk_time += talk_time
        if a.total_load == 0:
            a.idle_since = float(now)
        self._rekey(a)

    # ---------------------------------------------------------------- pools
    def _pool(self, pool: int) -> _Pool:
        p = self._pools.get(pool)
        if p is None:
            raise KeyError(f"unknown pool {pool}")
        return p

    def add_pool(self, pool: int, requirements: Mapping[int, int], channel: int, strategy: int | str, *,
                 priority: int = 0, aging_rate: float = 0.0, agents: Iterable[int] | None = None) -> None:
        """Add a routing target; its members are computed now (and kept current as agents come and change)."""
        _check_id("pool", pool)
        if pool in self._pools:
            raise ValueError(f"pool {pool} already exists")
        reqs = _check_levels(f"pool {pool}", requirements)
        self._channel(channel)
        code = strategy_code(strategy)
        if not aging_rate >= 0:
            raise ValueError(f"pool {pool}: aging_rate {aging_rate} is negative")
        restriction = None if agents is None else frozenset(agents)
        p = _Pool(pool, reqs, channel, code, int(priority), float(aging_rate), restriction)
        self._pools[pool] = p
        candidates = self._agents.values() if restriction is None else (
            self._agents[i] for i in sorted(restriction) if i in self._agents)
        for a in candidates:
            if p.admits(a):
                p.members.add(a.id)
                a.pools[pool] = p
                if self._free(a, channel):
                    p.agents.push(self._agent_key(a, p))

    def remove_pool(self, pool: int) -> None:
        """Remove a pool; ``ValueError`` if contacts wait in it."""
        p = self._pool(pool)
        if p.contacts:
            raise ValueError(f"pool {pool} has waiting contacts")
        for ident in p.members:
            del self._agents[ident].pools[pool]
        del self._pools[pool]

    def has_pool(self, pool: int) -> bool:
        return pool in self._pools

    def pool_members(self, pool: int) -> int:
        return len(self._pool(pool).members)

    def pool_available(self, pool: int) -> int:
        return len(self._pool(pool).agents)

    def pool_waiting(self, pool: int) -> int:
        return len(self._pool(pool).contacts)

    def oldest_arrival(self, pool: int) -> float | None:
        """The smallest ``arrived`` among the pool's waiting contacts, ``None`` if none wait (O(n))."""
        heap = self._pool(pool).contacts.heap
        if not heap:
            return None
        return min(entry[1] for entry in heap)

    # ---------------------------------------------------------------- contacts
    def enqueue(self, contact: int, pool: int, priority: int, arrived: float, seq: int, now: float) -> int:
        """Assign the pool's best available agent (returns its id; the contact is not stored) or wait (returns -1).

        ``ValueError`` if the contact already waits.
        """
        _check_id("contact", contact)
        if contact in self._contacts:
            raise ValueError(f"contact {contact} already waiting")
        return self._enqueue(contact, self._pool(pool), int(priority), float(arrived), seq)

    def _enqueue(self, contact: int, p: _Pool, priority: int, arrived: float, seq: int) -> int:
        if p.agents:
            a = self._agents[p.agents.heap[0][-1]]
            self._assign(a, p.channel)
            return a.id
        self._contacts[contact] = _Contact(contact, p, priority, arrived, seq)
        p.contacts.push((-(priority - p.aging_rate * arrived), arrived, seq, contact))
        return -1

    def move_contact(self, contact: int, pool: int, priority: int, now: float = 0.0) -> int:
        """Move a waiting contact to another pool (keeping ``arrived`` and ``seq``); returns as ``enqueue``."""
        c = self._contacts.get(contact)
        if c is None:
            raise KeyError(f"unknown contact {contact}")
        p = self._pool(pool)
        c.pool.contacts.remove(contact)
        del self._contacts[contact]
        return self._enqueue(contact, p, int(priority), c.arrived, c.seq)

    def remove_contact(self, contact: int) -> bool:
        """Remove a waiting contact (abandoned, timed out); ``True`` if it was waiting."""
        c = self._contacts.pop(contact, None)
        if c is None:
            return False
        c.pool.contacts.remove(contact)
        return True

    def contact_pool(self, contact: int) -> int:
        c = self._contacts.get(contact)
        return -1 if c is None else c.pool.id

    def position(self, contact: int) -> int:
        """1-based rank of a waiting contact in its pool (O(n)); 0 if it is not waiting."""
        c = self._contacts.get(contact)
        if c is None:
            return 0
        heap = c.pool.contacts
        mine = heap.heap[heap.pos[contact]]
        return 1 + sum(1 for entry in heap.heap if entry < mine)

    def match_agent(self, agent: int, now: float) -> int:
        """Give the agent the best waiting contact over its pools whose channel it is free for.

        Returns the contact id (the contact leaves the index and the agent takes a unit of load), or -1.
        """
        a = self._agent(agent)
        if not a.ready or a.exclusive_load:
            return -1
        best: tuple[float, float, int, int] | None = None
        best_pool: _Pool | None = None
        for p in a.pools.values():
            if not p.contacts or not self._free(a, p.channel):
                continue
            c = self._contacts[p.contacts.heap[0][-1]]
            cand = (-((c.priority + p.priority) + p.aging_rate * (now - c.arrived)), c.arrived, c.seq, c.id)
            if best is None or cand < best:
                best, best_pool = cand, p
        if best_pool is None:
            return -1
        contact = best_pool.contacts.pop()[-1]
        del self._contacts[contact]
        self._assign(a, best_pool.channel)
        return contact

    # ---------------------------------------------------------------- internals
    def _free(self, a: _Agent, channel: int) -> bool:
        if not a.ready or a.exclusive_load:
            return False
        cap = a.capacity.get(channel, 0)
        if self._exclusive[channel]:
            return cap > 0 and a.total_load == 0
        return a.load.get(channel, 0) < cap

    def _agent_key(self, a: _Agent, p: _Pool) -> tuple:
        s = p.strategy
        if s == LONGEST_IDLE:
            first: int | float = a.load.get(p.channel, 0)
        elif s == FEWEST_CALLS:
            first = a.calls
        elif s == LEAST_TALK_TIME:
            first = a.talk_time
        elif s == BEST_SKILL_LEVEL:
            first = -sum(a.skills[k] for k in p.requirements)
        elif s == ROUND_ROBIN:
            first = a.last_offer
        else:
            first = _splitmix64(self._seed ^ ((a.id * 0x9E3779B97F4A7C15) & _MASK64)
                                ^ ((a.last_offer * 0xBF58476D1CE4E5B9) & _MASK64))
        return (first, a.idle_since, a.id)

    def _leave_heaps(self, a: _Agent) -> None:
        for p in a.pools.values():
            if a.id in p.agents:
                p.agents.remove(a.id)

    def _enter_heaps(self, a: _Agent) -> None:
        if not a.ready or a.exclusive_load:
            return
        for p in a.pools.values():
            if self._free(a, p.channel):
                p.agents.push(self._agent_key(a, p))

    def _rekey(self, a: _Agent) -> None:
        self._leave_heaps(a)
        self._enter_heaps(a)

    def _load(self, a: _Agent, channel: int) -> None:
        a.load[channel] = a.load.get(channel, 0) + 1
        a.total_load += 1
        if self._exclusive[channel]:
            a.exclusive_load += 1

    def _assign(self, a: _Agent, channel: int) -> None:
        self._load(a, channel)
        self._offer_counter += 1
        a.last_offer = self._offer_counter
        self._rekey(a)
