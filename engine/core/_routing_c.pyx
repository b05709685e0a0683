# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Routing index — the compiled implementation. Same API and same results as ``_routing_py.py`` (the reference,
which documents every method); see ``docs/routing-core.md`` for the data structures.

Everything on the hot path is C: ids map to dense slots through open-addressing hash tables (int64 -> int32),
agents / pools / contacts live in realloc'd arrays of structs, and each pool's two heaps are arrays of small
structs carrying their keys inline, with back-pointers for O(log n) removal by id.
"""

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

cimport cython

STRATEGIES = (
    "longest-idle",
    "fewest-calls",
    "least-talk-time",
    "best-skill-level",
    "round-robin",
    "random",
)
MIN_LEVEL = 1
MAX_LEVEL = 10
cdef enum:
    C_MAX_CHANNELS = 16
    INLINE_MEMBERS = 8
    CDEG = 4                 # arity of the contact heaps (shallow: fewer cache misses per pop)
MAX_CHANNELS = C_MAX_CHANNELS

__all__ = ["MAX_CHANNELS", "MAX_LEVEL", "MIN_LEVEL", "STRATEGIES", "RoutingIndex", "strategy_code"]

cdef enum:
    LONGEST_IDLE = 0
    FEWEST_CALLS = 1
    LEAST_TALK_TIME = 2
    BEST_SKILL_LEVEL = 3
    ROUND_ROBIN = 4
    RANDOM = 5

cdef uint64_t SIGN = 0x8000000000000000ULL
_MASK64 = (1 << 64) - 1


def strategy_code(strategy):
    """The numeric code of ``strategy`` (a code or a name from ``STRATEGIES``); ``ValueError`` if unknown."""
    if isinstance(strategy, str):
        if strategy in STRATEGIES:
            return STRATEGIES.index(strategy)
    elif isinstance(strategy, int) and 0 <= strategy < len(STRATEGIES):
        return int(strategy)
    raise ValueError(f"unknown strategy {strategy!r}")


cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    cdef uint64_t z = x + 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef void* xrealloc(void* p, size_t n) except NULL:
    cdef void* q = realloc(p, n if n > 0 else 1)
    if q == NULL:
        raise MemoryError()
    return q


# ------------------------------------------------------------------ id -> slot hash map (linear probing)

cdef struct Slot:
    int64_t key       # -1 = empty
    int64_t val

cdef struct IdMap:
    int32_t* direct   # ids below direct_max: a plain array (dense small ids: one load, no hashing)
    int64_t ndirect
    int64_t direct_max
    Slot* slots       # other ids: open addressing
    uint64_t mask
    int64_t used
    int bits


cdef int idmap_init(IdMap* m, int bits) except -1:
    cdef uint64_t n = (<uint64_t>1) << bits
    cdef uint64_t i
    if m.slots == NULL:
        m.direct = NULL
        m.ndirect = 0
    m.slots = <Slot*>xrealloc(NULL, n * sizeof(Slot))
    for i in range(n):
        m.slots[i].key = -1
    m.mask = n - 1
    m.used = 0
    m.bits = bits
    return 0


cdef void idmap_free(IdMap* m) noexcept:
    free(m.slots)
    free(m.direct)
    m.slots = NULL
    m.direct = NULL


cdef inline uint64_t idmap_hash(const IdMap* m, int64_t key) noexcept nogil:
    # Fibonacci hashing of key >> 2, keeping the two low bits: runs of consecutive ids share a cache line.
    return ((((<uint64_t>key >> 2) * 0x9E3779B97F4A7C15ULL) >> (66 - m.bits)) << 2) | (<uint64_t>key & 3)


cdef extern from *:
    void __builtin_prefetch(const void*) noexcept nogil


cdef inline void idmap_prefetch(const IdMap* m, int64_t key) noexcept nogil:
    if key >= m.direct_max:
        __builtin_prefetch(&m.slots[idmap_hash(m, key)])


cdef inline int32_t idmap_get(const IdMap* m, int64_t key) noexcept nogil:
    cdef uint64_t i
    cdef int64_t k
    if key < m.direct_max:
        return m.direct[key] if key < m.ndirect else -1
    i = idmap_hash(m, key)
    while True:
        k = m.slots[i].key
        if k == key:
            return <int32_t>m.slots[i].val
        if k == -1:
            return -1
        i = (i + 1) & m.mask


cdef int idmap_put(IdMap* m, int64_t key, int32_t val) except -1:
    cdef Slot* old
    cdef uint64_t old_n, i, j
    cdef int64_t n
    if key < m.direct_max:
        if key >= m.ndirect:
            n = m.ndirect * 2 if m.ndirect else 64
            while n <= key:
                n *= 2
            if n > m.direct_max:
                n = m.direct_max
            m.direct = <int32_t*>xrealloc(m.direct, n * sizeof(int32_t))
            for i in range(<uint64_t>m.ndirect, <uint64_t>n):
                m.direct[i] = -1
            m.ndirect = n
        m.direct[key] = val
        return 0
    if (m.used + 1) * 2 > <int64_t>(m.mask + 1):
        old = m.slots
        old_n = m.mask + 1
        idmap_init(m, m.bits + 1)
        for i in range(old_n):
            if old[i].key != -1:
                j = idmap_hash(m, old[i].key)
                while m.slots[j].key != -1:
                    j = (j + 1) & m.mask
                m.slots[j] = old[i]
                m.used += 1
        free(old)
    i = idmap_hash(m, key)
    while m.slots[i].key != -1 and m.slots[i].key != key:
        i = (i + 1) & m.mask
    if m.slots[i].key == -1:
        m.used += 1
    m.slots[i].key = key
    m.slots[i].val = val
    return 0


cdef void idmap_del(IdMap* m, int64_t key) noexcept nogil:
    """Delete ``key`` (if present) with backward-shift deletion: no tombstones."""
    cdef uint64_t i, j, home
    if key < m.direct_max:
        if key < m.ndirect:
            m.direct[key] = -1
        return
    i = idmap_hash(m, key)
    while True:
        if m.slots[i].key == -1:
            return
        if m.slots[i].key == key:
            break
        i = (i + 1) & m.mask
    j = i
    while True:
        j = (j + 1) & m.mask
        if m.slots[j].key == -1:
            break
        home = idmap_hash(m, m.slots[j].key)
        # move slot j into the hole at i unless its home lies cyclically in (i, j]
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            m.slots[i] = m.slots[j]
            i = j
    m.slots[i].key = -1
    m.used -= 1


# ------------------------------------------------------------------ records

cdef struct Member:          # one pool membership, in the agent
    int32_t pool             # pool slot
    int32_t hpos             # index in the pool's agent heap, -1 if not available there
    int32_t mpos             # index in the pool's member array
    int32_t skill_sum        # sum of the agent's levels over the pool's requirements

cdef struct PoolMember:      # one member, in the pool
    int32_t agent            # agent slot
    int32_t mi               # index in the agent's Member array

cdef struct AEntry:          # available agent, in a pool's heap: key (ku, kf, idle, id)
    uint64_t ku
    double kf
    double idle
    int64_t id
    int32_t agent
    int32_t mi

cdef struct CEntry:          # waiting contact, in a pool's CDEG-ary heap: key (k, arrived, seq, id)
    double k                 # -(priority - aging_rate * arrived)
    double arrived
    int64_t seq
    int64_t slot             # contact slot (its id, for the last tie-break, is there)

cdef struct Agent:          # hot fields first; memberships inline up to INLINE_MEMBERS (no pointer chase)
    int64_t id               # -1 = free slot
    Member* mem              # NULL while the memberships fit in mem_inline
    int32_t nmem
    int32_t cap_mem
    int32_t total_load
    int32_t exclusive_load
    int32_t ready
    int32_t nskills
    double idle_since
    int64_t calls
    double talk_time
    int64_t last_offer
    int32_t load[C_MAX_CHANNELS]
    int32_t capacity[C_MAX_CHANNELS]
    Member mem_inline[INLINE_MEMBERS]
    int64_t* skill_ids
    int32_t* levels

cdef struct Pool:
    int32_t channel          # dense channel index (hot fields first: one cache line)
    int32_t strategy
    int32_t na
    int32_t nc
    AEntry* aheap
    CEntry* cheap
    int64_t top_priority     # priority and id of the contact at cheap[0] (saves a miss per pool in match)
    int64_t top_id
    int64_t priority
    double aging_rate
    int64_t id               # -1 = free slot
    int32_t cap_a
    int32_t cap_c
    int32_t nreq
    int64_t* req_skill
    int32_t* req_level
    bint restricted
    int64_t* restriction     # sorted agent ids
    int32_t nrestriction
    PoolMember* members
    int32_t nmembers
    int32_t cap_members

cdef struct Contact:
    int64_t id
    int64_t priority
    int32_t pool             # pool slot; -1 = free slot
    int32_t next_free        # free-slot list (heap positions live in the compact ``chpos`` array)


cdef inline Member* mem_of(Agent* a) noexcept nogil:
    return a.mem if a.mem != NULL else a.mem_inline


cdef inline bint a_less(const AEntry* x, const AEntry* y) noexcept nogil:
    if x.ku != y.ku:
        return x.ku < y.ku
    if x.kf != y.kf:
        return x.kf < y.kf
    if x.idle != y.idle:
        return x.idle < y.idle
    return x.id < y.id


cdef inline bint c_less(const CEntry* x, const CEntry* y, const Contact* contacts) noexcept nogil:
    if x.k != y.k:
        return x.k < y.k
    if x.arrived != y.arrived:
        return x.arrived < y.arrived
    if x.seq != y.seq:
        return x.seq < y.seq
    return contacts[x.slot].id < contacts[y.slot].id


cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object, int*) except? -1


cdef inline int64_t lookup_id(object value) except? -2:
    """``value`` as an id to look up: -1 if it cannot be one (too large, negative) -- never raises for an int."""
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow:
        return -1
    return v if v >= 0 else -1


cdef inline int64_t as_id(object value, str kind) except? -1:
    cdef int64_t v = value
    if v < 0:
        raise ValueError(f"negative {kind} id {value}")
    return v


@cython.final
cdef class RoutingIndex:
    """Pools of available agents and waiting contacts for one partition (see ``_routing_py.RoutingIndex``)."""

    cdef uint64_t seed
    cdef int64_t _offer_counter
    cdef IdMap channel_map
    cdef int32_t nchannels
    cdef bint exclusive[C_MAX_CHANNELS]
    cdef int64_t channel_ids[C_MAX_CHANNELS]
    cdef IdMap agent_map
    cdef Agent* agents
    cdef int32_t nagent_slots
    cdef int32_t cap_agents
    cdef int32_t free_agent           # head of the free-slot list (through .calls), -1 if none
    cdef IdMap pool_map
    cdef Pool* pools
    cdef int32_t npool_slots
    cdef int32_t cap_pools
    cdef int32_t free_pool
    cdef IdMap contact_map
    cdef Contact* contacts
    cdef int32_t* chpos              # contact slot -> index in its pool's heap
    cdef int32_t ncontact_slots
    cdef int32_t cap_contacts
    cdef int32_t free_contact
    # An agent just released is kept out of its pools' heaps until the next call: if that call is match_agent for
    # the same agent and finds a contact (the common case under load), the agent never enters and leaves them.
    # Every other public call first puts it in (_flush), so what any call observes is as if it had entered at once.
    cdef int32_t pending

    def __cinit__(self, seed=0):
        self.seed = <uint64_t>(seed & _MASK64)
        self._offer_counter = 0
        memset(&self.channel_map, 0, sizeof(IdMap))
        memset(&self.agent_map, 0, sizeof(IdMap))
        memset(&self.pool_map, 0, sizeof(IdMap))
        memset(&self.contact_map, 0, sizeof(IdMap))
        idmap_init(&self.channel_map, 4)
        idmap_init(&self.agent_map, 4)
        idmap_init(&self.pool_map, 4)
        idmap_init(&self.contact_map, 4)
        self.channel_map.direct_max = 1 << 10
        self.agent_map.direct_max = 1 << 20   # agent / pool ids below 2**20: direct arrays (at most 4 MiB)
        self.pool_map.direct_max = 1 << 20
        self.nchannels = 0
        self.agents = NULL
        self.nagent_slots = 0
        self.cap_agents = 0
        self.free_agent = -1
        self.pools = NULL
        self.npool_slots = 0
        self.cap_pools = 0
        self.free_pool = -1
        self.contacts = NULL
        self.chpos = NULL
        self.ncontact_slots = 0
        self.cap_contacts = 0
        self.free_contact = -1
        self.pending = -1

    def __dealloc__(self):
        cdef int32_t i
        if self.agents != NULL:
            for i in range(self.nagent_slots):
                if self.agents[i].id >= 0:
                    self._free_agent_arrays(&self.agents[i])
            free(self.agents)
        if self.pools != NULL:
            for i in range(self.npool_slots):
                if self.pools[i].id >= 0:
                    self._free_pool_arrays(&self.pools[i])
            free(self.pools)
        free(self.contacts)
        free(self.chpos)
        idmap_free(&self.channel_map)
        idmap_free(&self.agent_map)
        idmap_free(&self.pool_map)
        idmap_free(&self.contact_map)

    cdef void _free_agent_arrays(self, Agent* a) noexcept:
        free(a.skill_ids)
        free(a.levels)
        free(a.mem)
        a.skill_ids = NULL
        a.levels = NULL
        a.mem = NULL

    cdef void _free_pool_arrays(self, Pool* p) noexcept:
        free(p.req_skill)
        free(p.req_level)
        free(p.restriction)
        free(p.members)
        free(p.aheap)
        free(p.cheap)
        p.req_skill = NULL
        p.req_level = NULL
        p.restriction = NULL
        p.members = NULL
        p.aheap = NULL
        p.cheap = NULL

    # ---------------------------------------------------------------- counters
    @property
    def offer_counter(self):
        """The global offer counter: each assignment increments it and stamps the agent's ``last_offer``."""
        self._flush()
        return self._offer_counter

    @offer_counter.setter
    def offer_counter(self, value):
        self._flush()
        self._offer_counter = value

    # ---------------------------------------------------------------- channels
    def add_channel(self, channel, exclusive):
        self._flush()
        cdef int64_t c = as_id(channel, "channel")
        if idmap_get(&self.channel_map, c) >= 0:
            raise ValueError(f"channel {channel} already exists")
        if self.nchannels >= C_MAX_CHANNELS:
            raise ValueError(f"too many channels (max {C_MAX_CHANNELS})")
        idmap_put(&self.channel_map, c, self.nchannels)
        self.exclusive[self.nchannels] = bool(exclusive)
        self.channel_ids[self.nchannels] = c
        self.nchannels += 1

    cdef int32_t _channel(self, object channel) except -1:
        cdef int32_t ci = -1
        cdef int64_t c
        c = lookup_id(channel)
        if c >= 0:
            ci = idmap_get(&self.channel_map, c)
        if ci < 0:
            raise KeyError(f"unknown channel {channel}")
        return ci

    # ---------------------------------------------------------------- agents
    cdef int32_t _agent(self, object agent) except -1:
        cdef int32_t s = -1
        cdef int64_t a
        a = lookup_id(agent)
        if a >= 0:
            s = idmap_get(&self.agent_map, a)
        if s < 0:
            raise KeyError(f"unknown agent {agent}")
        # the record spans several cache lines: ask for all of them at once rather than one miss after another
        cdef const char* rec = <const char*>&self.agents[s]
        cdef size_t off = 0
        while off < sizeof(Agent):
            __builtin_prefetch(rec + off)
            off += 64
        return s

    cdef object _check_levels(self, str owner, object levels):
        out = []
        for skill, level in levels.items():
            if not 1 <= level <= 10:
                raise ValueError(f"{owner}: skill {skill} level {level} not in 1..10")
            out.append((<int64_t>skill, <int32_t>level))
        return out

    cdef object _check_capacity(self, object agent, object capacity):
        out = []
        for channel, n in capacity.items():
            ci = self._channel(channel)
            if n < 0:
                raise ValueError(f"agent {agent}: capacity {n} on channel {channel} is negative")
            out.append((ci, <int32_t>n))
        return out

    cdef int _set_skills_capacity(self, Agent* a, list levels, list capacity) except -1:
        cdef int32_t i = 0
        cdef int32_t n = len(levels)
        a.skill_ids = <int64_t*>xrealloc(a.skill_ids, n * sizeof(int64_t))
        a.levels = <int32_t*>xrealloc(a.levels, n * sizeof(int32_t))
        for skill, level in levels:
            a.skill_ids[i] = skill
            a.levels[i] = level
            i += 1
        a.nskills = n
        for i in range(C_MAX_CHANNELS):
            a.capacity[i] = 0
        for ci, cap in capacity:
            a.capacity[<int32_t>ci] = cap
        return 0

    def add_agent(self, agent, skills, capacity, *, idle_since=0.0, calls=0, talk_time=0.0, last_offer=0):
        self._flush()
        cdef int64_t aid = as_id(agent, "agent")
        cdef int32_t slot, p
        cdef Agent* a
        if idmap_get(&self.agent_map, aid) >= 0:
            raise ValueError(f"agent {agent} already exists")
        levels = self._check_levels(f"agent {agent}", skills)
        cap = self._check_capacity(agent, capacity)
        cdef double c_idle = idle_since
        cdef int64_t c_calls = calls
        cdef double c_talk = talk_time
        cdef int64_t c_last = last_offer
        if self.free_agent >= 0:
            slot = self.free_agent
            self.free_agent = <int32_t>self.agents[slot].calls
        else:
            if self.nagent_slots == self.cap_agents:
                self.cap_agents = self.cap_agents * 2 if self.cap_agents else 16
                self.agents = <Agent*>xrealloc(self.agents, self.cap_agents * sizeof(Agent))
            slot = self.nagent_slots
            self.nagent_slots += 1
        a = &self.agents[slot]
        memset(a, 0, sizeof(Agent))
        a.cap_mem = INLINE_MEMBERS
        a.id = aid
        a.idle_since = c_idle
        a.calls = c_calls
        a.talk_time = c_talk
        a.last_offer = c_last
        self._set_skills_capacity(a, levels, cap)
        idmap_put(&self.agent_map, aid, slot)
        for p in range(self.npool_slots):
            if self.pools[p].id >= 0 and self._admits(&self.pools[p], a):
                self._add_member(slot, p)

    def update_agent(self, agent, skills, capacity):
        self._flush()
        cdef int32_t slot = self._agent(agent)
        cdef int32_t p
        levels = self._check_levels(f"agent {agent}", skills)
        cap = self._check_capacity(agent, capacity)
        cdef Agent* a = &self.agents[slot]
        while a.nmem > 0:
            self._remove_member(slot, a.nmem - 1)
        self._set_skills_capacity(a, levels, cap)
        for p in range(self.npool_slots):
            if self.pools[p].id >= 0 and self._admits(&self.pools[p], a):
                self._add_member(slot, p)
        self._enter_heaps(slot)

    def remove_agent(self, agent):
        self._flush()
        cdef int32_t slot = self._agent(agent)
        cdef Agent* a = &self.agents[slot]
        if a.total_load:
            raise ValueError(f"agent {agent} has load")
        while a.nmem > 0:
            self._remove_member(slot, a.nmem - 1)
        idmap_del(&self.agent_map, a.id)
        self._free_agent_arrays(a)
        a.id = -1
        a.calls = self.free_agent
        self.free_agent = slot

    def has_agent(self, agent):
        try:
            self._agent(agent)
        except KeyError:
            return False
        return True

    def set_ready(self, agent, ready, double now):
        self._flush()
        cdef int32_t slot = self._agent(agent)
        cdef Agent* a = &self.agents[slot]
        cdef bint r = bool(ready)
        if r and not a.ready and a.total_load == 0:
            a.idle_since = now
        a.ready = r
        self._rekey(slot)

    def agent_stats(self, agent):
        cdef Agent* a = &self.agents[self._agent(agent)]
        return (a.idle_since, a.calls, a.talk_time, a.last_offer)

    def agent_load(self, agent, channel):
        cdef Agent* a = &self.agents[self._agent(agent)]
        return a.load[self._channel(channel)]

    def agent_pools(self, agent):
        cdef Agent* a = &self.agents[self._agent(agent)]
        cdef int32_t i
        return sorted([self.pools[mem_of(a)[i].pool].id for i in range(a.nmem)])

    def add_load(self, agent, channel):
        self._flush()
        cdef int32_t slot = self._agent(agent)
        cdef int32_t ci = self._channel(channel)
        self._load(&self.agents[slot], ci)
        self._rekey(slot)

    def release(self, agent, channel, double now, double talk_time=0.0, handled=True):
        self._flush()
        cdef int32_t slot = self._agent(agent)
        cdef int32_t ci = self._channel(channel)
        cdef Agent* a = &self.agents[slot]
        if a.load[ci] <= 0:
            raise ValueError(f"agent {agent} has no load on channel {channel}")
        a.load[ci] -= 1
        a.total_load -= 1
        if self.exclusive[ci]:
            a.exclusive_load -= 1
        if handled:
            a.calls += 1
            a.talk_time += talk_time
        if a.total_load == 0:
            a.idle_since = now
        self._leave_heaps(slot)
        self.pending = slot

    # ---------------------------------------------------------------- pools
    cdef int32_t _pool(self, object pool) except -1:
        cdef int32_t s = -1
        cdef int64_t p
        p = lookup_id(pool)
        if p >= 0:
            s = idmap_get(&self.pool_map, p)
        if s < 0:
            raise KeyError(f"unknown pool {pool}")
        return s

    def add_pool(self, pool, requirements, channel, strategy, *, priority=0, aging_rate=0.0, agents=None):
        self._flush()
        cdef int64_t pid = as_id(pool, "pool")
        cdef int32_t slot, i, s, n
        cdef Pool* p
        cdef int64_t aid
        if idmap_get(&self.pool_map, pid) >= 0:
            raise ValueError(f"pool {pool} already exists")
        reqs = self._check_levels(f"pool {pool}", requirements)
        cdef int32_t ci = self._channel(channel)
        cdef int32_t code = strategy_code(strategy)
        if not aging_rate >= 0:
            raise ValueError(f"pool {pool}: aging_rate {aging_rate} is negative")
        cdef int64_t c_priority = priority
        cdef double c_aging = aging_rate
        restriction = None if agents is None else sorted(set(agents))
        if self.free_pool >= 0:
            slot = self.free_pool
            self.free_pool = <int32_t>self.pools[slot].priority
        else:
            if self.npool_slots == self.cap_pools:
                self.cap_pools = self.cap_pools * 2 if self.cap_pools else 16
                self.pools = <Pool*>xrealloc(self.pools, self.cap_pools * sizeof(Pool))
            slot = self.npool_slots
            self.npool_slots += 1
        p = &self.pools[slot]
        memset(p, 0, sizeof(Pool))
        p.id = pid
        p.channel = ci
        p.strategy = code
        p.priority = c_priority
        p.aging_rate = c_aging
        n = len(reqs)
        p.nreq = n
        p.req_skill = <int64_t*>xrealloc(NULL, n * sizeof(int64_t))
        p.req_level = <int32_t*>xrealloc(NULL, n * sizeof(int32_t))
        i = 0
        for skill, level in reqs:
            p.req_skill[i] = skill
            p.req_level[i] = level
            i += 1
        if restriction is not None:
            p.restricted = True
            n = len(restriction)
            p.nrestriction = n
            p.restriction = <int64_t*>xrealloc(NULL, n * sizeof(int64_t))
            for i in range(n):
                p.restriction[i] = restriction[i]
        idmap_put(&self.pool_map, pid, slot)
        if restriction is not None:
            for i in range(p.nrestriction):
                aid = p.restriction[i]
                s = idmap_get(&self.agent_map, aid) if aid >= 0 else -1
                if s >= 0 and self._admits(&self.pools[slot], &self.agents[s]):
                    self._add_member_and_enter(s, slot)
        else:
            for s in range(self.nagent_slots):
                if self.agents[s].id >= 0 and self._admits(&self.pools[slot], &self.agents[s]):
                    self._add_member_and_enter(s, slot)

    cdef int _add_member_and_enter(self, int32_t s, int32_t pslot) except -1:
        cdef int32_t mi = self._add_member(s, pslot)
        if self._free(&self.agents[s], self.pools[pslot].channel):
            self._apush(pslot, s, mi)
        return 0

    def remove_pool(self, pool):
        self._flush()
        cdef int32_t slot = self._pool(pool)
        cdef Pool* p = &self.pools[slot]
        cdef PoolMember pm
        if p.nc:
            raise ValueError(f"pool {pool} has waiting contacts")
        while p.nmembers > 0:
            pm = p.members[p.nmembers - 1]
            self._remove_member(pm.agent, pm.mi)
        idmap_del(&self.pool_map, p.id)
        self._free_pool_arrays(p)
        p.id = -1
        p.priority = self.free_pool
        self.free_pool = slot

    def has_pool(self, pool):
        try:
            self._pool(pool)
        except KeyError:
            return False
        return True

    def pool_members(self, pool):
        return self.pools[self._pool(pool)].nmembers

    def pool_available(self, pool):
        self._flush()
        return self.pools[self._pool(pool)].na

    def pool_waiting(self, pool):
        return self.pools[self._pool(pool)].nc

    def oldest_arrival(self, pool):
        cdef Pool* p = &self.pools[self._pool(pool)]
        cdef int32_t i
        cdef double best
        if p.nc == 0:
            return None
        best = p.cheap[0].arrived
        for i in range(1, p.nc):
            if p.cheap[i].arrived < best:
                best = p.cheap[i].arrived
        return best

    # ---------------------------------------------------------------- contacts
    def enqueue(self, contact, pool, priority, double arrived, seq, double now):
        self._flush()
        cdef int64_t cid = as_id(contact, "contact")
        cdef int64_t pid = lookup_id(pool)
        cdef int32_t ps = idmap_get(&self.pool_map, pid) if pid >= 0 else -1
        cdef Pool* pp
        # start the likely cache misses together: the contact's hash slot and the heap slots a push touches
        idmap_prefetch(&self.contact_map, cid)
        if ps >= 0:
            pp = &self.pools[ps]
            if pp.na == 0 and pp.nc < pp.cap_c:
                __builtin_prefetch(&pp.cheap[pp.nc])
                __builtin_prefetch(&pp.cheap[(pp.nc - 1) // CDEG])
        if idmap_get(&self.contact_map, cid) >= 0:
            raise ValueError(f"contact {contact} already waiting")
        cdef int32_t pslot = self._pool(pool)
        return self._enqueue(cid, pslot, priority, arrived, seq)

    cdef int64_t _enqueue(self, int64_t cid, int32_t pslot, int64_t priority, double arrived,
                          int64_t seq) except -2:
        cdef Pool* p = &self.pools[pslot]
        cdef int32_t s, cs
        cdef CEntry e
        if p.na > 0:
            s = p.aheap[0].agent
            self._assign(s, p.channel)
            return self.agents[s].id
        if self.free_contact >= 0:
            cs = self.free_contact
            self.free_contact = self.contacts[cs].next_free
        else:
            if self.ncontact_slots == self.cap_contacts:
                self.cap_contacts = self.cap_contacts * 2 if self.cap_contacts else 64
                self.contacts = <Contact*>xrealloc(self.contacts, self.cap_contacts * sizeof(Contact))
                self.chpos = <int32_t*>xrealloc(self.chpos, self.cap_contacts * sizeof(int32_t))
            cs = self.ncontact_slots
            self.ncontact_slots += 1
        idmap_put(&self.contact_map, cid, cs)
        self.contacts[cs].pool = pslot
        self.contacts[cs].id = cid
        self.contacts[cs].priority = priority
        e.k = -(<double>priority - p.aging_rate * arrived)
        e.arrived = arrived
        e.seq = seq
        e.slot = cs
        p = &self.pools[pslot]
        if p.nc == p.cap_c:
            p.cap_c = p.cap_c * 2 if p.cap_c else 16
            p.cheap = <CEntry*>xrealloc(p.cheap, p.cap_c * sizeof(CEntry))
        p.nc += 1
        self._c_sift_up(p, p.nc - 1, &e)
        return -1

    def move_contact(self, contact, pool, priority, now=0.0):
        self._flush()
        cdef int32_t cs = -1
        cdef int64_t cid
        cid = lookup_id(contact)
        if cid >= 0:
            cs = idmap_get(&self.contact_map, cid)
        if cs < 0:
            raise KeyError(f"unknown contact {contact}")
        cdef int32_t pslot = self._pool(pool)
        cdef int64_t c_priority = priority
        cdef CEntry e = self._remove_contact(cs)
        return self._enqueue(cid, pslot, c_priority, e.arrived, e.seq)

    cdef CEntry _remove_contact(self, int32_t cs) noexcept:
        cdef Contact* c = &self.contacts[cs]
        cdef Pool* p = &self.pools[c.pool]
        cdef int32_t i = self.chpos[cs]
        cdef CEntry e = p.cheap[i]
        self._c_remove_at(p, i)
        idmap_del(&self.contact_map, c.id)
        c.pool = -1
        c.next_free = self.free_contact
        self.free_contact = cs
        return e

    def remove_contact(self, contact):
        self._flush()
        cdef int32_t cs = -1
        cdef int64_t cid
        cid = lookup_id(contact)
        if cid >= 0:
            cs = idmap_get(&self.contact_map, cid)
        if cs < 0:
            return False
        self._remove_contact(cs)
        return True

    def contact_pool(self, contact):
        cdef int32_t cs = -1
        cdef int64_t cid
        cid = lookup_id(contact)
        if cid >= 0:
            cs = idmap_get(&self.contact_map, cid)
        if cs < 0:
            return -1
        return self.pools[self.contacts[cs].pool].id

    def position(self, contact):
        cdef int32_t cs = -1
        cdef int64_t cid
        cdef int32_t i, rank = 1
        cid = lookup_id(contact)
        if cid >= 0:
            cs = idmap_get(&self.contact_map, cid)
        if cs < 0:
            return 0
        cdef Pool* p = &self.pools[self.contacts[cs].pool]
        cdef CEntry* mine = &p.cheap[self.chpos[cs]]
        for i in range(p.nc):
            if c_less(&p.cheap[i], mine, self.contacts):
                rank += 1
        return rank

    def match_agent(self, agent, double now):
        cdef int32_t slot = self._agent(agent)
        cdef int64_t got
        if self.pending != slot:
            self._flush()
            return self._match(slot, now)
        self.pending = -1
        got = self._match(slot, now)
        if got < 0:
            self._enter_heaps(slot)  # nothing for it: now it waits in its pools
        return got

    cdef inline int _flush(self) except -1:
        cdef int32_t s = self.pending
        if s >= 0:
            self.pending = -1
            self._enter_heaps(s)
        return 0

    cdef int64_t _match(self, int32_t slot, double now) except -2:
        cdef Agent* a = &self.agents[slot]
        cdef int32_t i, cs, best_pool = -1
        cdef Pool* p
        cdef CEntry* c
        cdef double eff, best_eff = 0.0, best_arrived = 0.0
        cdef int64_t best_seq = 0, best_id = 0, cid
        if not a.ready or a.exclusive_load:
            return -1
        for i in range(a.nmem):
            p = &self.pools[mem_of(a)[i].pool]
            if p.nc == 0 or not self._free(a, p.channel):
                continue
            c = &p.cheap[0]
            eff = <double>(p.top_priority + p.priority) + p.aging_rate * (now - c.arrived)
            if best_pool < 0 or eff > best_eff or (eff == best_eff and (
                    c.arrived < best_arrived or (c.arrived == best_arrived and (
                        c.seq < best_seq or (c.seq == best_seq and p.top_id < best_id))))):
                best_pool = mem_of(a)[i].pool
                best_eff = eff
                best_arrived = c.arrived
                best_seq = c.seq
                best_id = p.top_id
        if best_pool < 0:
            return -1
        # pop the head; its id is known (cached in the pool), so the contact record is only written, never read
        p = &self.pools[best_pool]
        cid = best_id
        cs = <int32_t>p.cheap[0].slot
        idmap_prefetch(&self.contact_map, cid)  # its miss overlaps the sift-down
        self._c_remove_at(p, 0)
        idmap_del(&self.contact_map, cid)
        self.contacts[cs].pool = -1
        self.contacts[cs].next_free = self.free_contact
        self.free_contact = cs
        self._assign(slot, self.pools[best_pool].channel)
        return cid

    # ---------------------------------------------------------------- internals
    cdef inline bint _free(self, const Agent* a, int32_t ci) noexcept:
        if not a.ready or a.exclusive_load:
            return False
        if self.exclusive[ci]:
            return a.capacity[ci] > 0 and a.total_load == 0
        return a.load[ci] < a.capacity[ci]

    cdef bint _admits(self, const Pool* p, const Agent* a) noexcept:
        cdef int32_t i, j, lo, hi, mid
        cdef bint ok
        if p.restricted:
            lo = 0
            hi = p.nrestriction
            while lo < hi:
                mid = (lo + hi) >> 1
                if p.restriction[mid] < a.id:
                    lo = mid + 1
                else:
                    hi = mid
            if lo >= p.nrestriction or p.restriction[lo] != a.id:
                return False
        for i in range(p.nreq):
            ok = False
            for j in range(a.nskills):
                if a.skill_ids[j] == p.req_skill[i]:
                    ok = a.levels[j] >= p.req_level[i]
                    break
            if not ok:
                return False
        return True

    cdef int32_t _add_member(self, int32_t s, int32_t pslot) except -1:
        """Record agent slot ``s`` as a member of pool slot ``pslot`` (not in its heap yet); returns the Member index."""
        cdef Agent* a = &self.agents[s]
        cdef Pool* p = &self.pools[pslot]
        cdef int32_t i, j, total = 0
        for i in range(p.nreq):
            for j in range(a.nskills):
                if a.skill_ids[j] == p.req_skill[i]:
                    total += a.levels[j]
                    break
        cdef Member* mem
        if a.nmem == a.cap_mem:
            if a.mem == NULL:
                a.mem = <Member*>xrealloc(NULL, 2 * a.cap_mem * sizeof(Member))
                memcpy(a.mem, a.mem_inline, a.nmem * sizeof(Member))
            else:
                a.mem = <Member*>xrealloc(a.mem, 2 * a.cap_mem * sizeof(Member))
            a.cap_mem *= 2
        if p.nmembers == p.cap_members:
            p.cap_members = p.cap_members * 2 if p.cap_members else 16
            p.members = <PoolMember*>xrealloc(p.members, p.cap_members * sizeof(PoolMember))
        mem = mem_of(a)
        mem[a.nmem].pool = pslot
        mem[a.nmem].hpos = -1
        mem[a.nmem].mpos = p.nmembers
        mem[a.nmem].skill_sum = total
        p.members[p.nmembers].agent = s
        p.members[p.nmembers].mi = a.nmem
        p.nmembers += 1
        a.nmem += 1
        return a.nmem - 1

    cdef void _remove_member(self, int32_t s, int32_t mi) noexcept:
        cdef Agent* a = &self.agents[s]
        cdef Member m = mem_of(a)[mi]
        cdef Member moved
        cdef Pool* p = &self.pools[m.pool]
        cdef PoolMember pm
        cdef int32_t last
        if m.hpos >= 0:
            self._a_remove_at(p, m.hpos)
        last = p.nmembers - 1
        if m.mpos != last:
            pm = p.members[last]
            p.members[m.mpos] = pm
            mem_of(&self.agents[pm.agent])[pm.mi].mpos = m.mpos
        p.nmembers -= 1
        last = a.nmem - 1
        if mi != last:
            moved = mem_of(a)[last]
            mem_of(a)[mi] = moved
            p = &self.pools[moved.pool]
            p.members[moved.mpos].mi = mi
            if moved.hpos >= 0:
                p.aheap[moved.hpos].mi = mi
        a.nmem -= 1

    cdef int _apush(self, int32_t pslot, int32_t s, int32_t mi) except -1:
        cdef Pool* p = &self.pools[pslot]
        cdef Agent* a = &self.agents[s]
        cdef AEntry e
        cdef int32_t st = p.strategy
        e.kf = 0.0
        e.ku = 0
        if st == LONGEST_IDLE:
            e.ku = (<uint64_t><int64_t>a.load[p.channel]) ^ SIGN
        elif st == FEWEST_CALLS:
            e.ku = (<uint64_t>a.calls) ^ SIGN
        elif st == LEAST_TALK_TIME:
            e.kf = a.talk_time
        elif st == BEST_SKILL_LEVEL:
            e.ku = (<uint64_t>(-<int64_t>mem_of(a)[mi].skill_sum)) ^ SIGN
        elif st == ROUND_ROBIN:
            e.ku = (<uint64_t>a.last_offer) ^ SIGN
        else:
            e.ku = splitmix64(self.seed ^ ((<uint64_t>a.id) * 0x9E3779B97F4A7C15ULL)
                              ^ ((<uint64_t>a.last_offer) * 0xBF58476D1CE4E5B9ULL))
        e.idle = a.idle_since
        e.id = a.id
        e.agent = s
        e.mi = mi
        if p.na == p.cap_a:
            p.cap_a = p.cap_a * 2 if p.cap_a else 16
            p.aheap = <AEntry*>xrealloc(p.aheap, p.cap_a * sizeof(AEntry))
        p.na += 1
        self._a_sift_up(p, p.na - 1, &e)
        return 0

    cdef inline void _a_place(self, Pool* p, int32_t i, const AEntry* e) noexcept:
        p.aheap[i] = e[0]
        mem_of(&self.agents[e.agent])[e.mi].hpos = i

    cdef void _a_sift_up(self, Pool* p, int32_t i, const AEntry* e) noexcept:
        cdef int32_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if a_less(e, &p.aheap[parent]):
                self._a_place(p, i, &p.aheap[parent])
                i = parent
            else:
                break
        self._a_place(p, i, e)

    cdef void _a_sift_down(self, Pool* p, int32_t i, const AEntry* e) noexcept:
        cdef int32_t n = p.na
        cdef int32_t child = 2 * i + 1
        while child < n:
            if child + 1 < n and a_less(&p.aheap[child + 1], &p.aheap[child]):
                child += 1
            if a_less(&p.aheap[child], e):
                self._a_place(p, i, &p.aheap[child])
                i = child
                child = 2 * i + 1
            else:
                break
        self._a_place(p, i, e)

    cdef void _a_remove_at(self, Pool* p, int32_t i) noexcept:
        cdef AEntry gone = p.aheap[i]
        cdef AEntry last
        mem_of(&self.agents[gone.agent])[gone.mi].hpos = -1
        p.na -= 1
        if i < p.na:
            last = p.aheap[p.na]
            if a_less(&last, &gone):
                self._a_sift_up(p, i, &last)
            else:
                self._a_sift_down(p, i, &last)

    cdef inline void _c_place(self, Pool* p, int32_t i, const CEntry* e) noexcept:
        p.cheap[i] = e[0]
        self.chpos[e.slot] = i

    cdef inline void _c_top(self, Pool* p) noexcept:
        """Refresh the cached priority and id of the pool's head (after a sift that reached the root)."""
        cdef Contact* c = &self.contacts[p.cheap[0].slot]
        p.top_priority = c.priority
        p.top_id = c.id

    cdef void _c_sift_up(self, Pool* p, int32_t i, const CEntry* e) noexcept:
        cdef int32_t parent
        cdef Contact* cs = self.contacts
        while i > 0:
            parent = (i - 1) // CDEG
            if c_less(e, &p.cheap[parent], cs):
                self._c_place(p, i, &p.cheap[parent])
                i = parent
            else:
                break
        self._c_place(p, i, e)
        if i == 0:
            self._c_top(p)

    cdef void _c_sift_down(self, Pool* p, int32_t i, const CEntry* e) noexcept:
        cdef int32_t n = p.nc
        cdef int32_t child, best, last
        cdef int32_t start = i
        cdef Contact* cs = self.contacts
        while True:
            child = CDEG * i + 1
            if child >= n:
                break
            best = child
            last = child + CDEG if child + CDEG <= n else n
            child += 1
            while child < last:
                if c_less(&p.cheap[child], &p.cheap[best], cs):
                    best = child
                child += 1
            if c_less(&p.cheap[best], e, cs):
                if i == 0:  # the new head: fetch its contact record while the sift goes on
                    __builtin_prefetch(&cs[p.cheap[best].slot])
                self._c_place(p, i, &p.cheap[best])
                i = best
            else:
                break
        self._c_place(p, i, e)
        if start == 0:
            self._c_top(p)

    cdef void _c_remove_at(self, Pool* p, int32_t i) noexcept:
        cdef CEntry gone = p.cheap[i]
        cdef CEntry last
        p.nc -= 1
        if i < p.nc:
            last = p.cheap[p.nc]
            if c_less(&last, &gone, self.contacts):
                self._c_sift_up(p, i, &last)
            else:
                self._c_sift_down(p, i, &last)

    cdef void _leave_heaps(self, int32_t s) noexcept:
        cdef Agent* a = &self.agents[s]
        cdef int32_t i
        for i in range(a.nmem):
            if mem_of(a)[i].hpos >= 0:
                self._a_remove_at(&self.pools[mem_of(a)[i].pool], mem_of(a)[i].hpos)

    cdef int _enter_heaps(self, int32_t s) except -1:
        cdef Agent* a = &self.agents[s]
        cdef int32_t i
        if not a.ready or a.exclusive_load:
            return 0
        for i in range(a.nmem):
            if self._free(a, self.pools[mem_of(a)[i].pool].channel):
                self._apush(mem_of(a)[i].pool, s, i)
        return 0

    cdef inline int _rekey(self, int32_t s) except -1:
        self._leave_heaps(s)
        return self._enter_heaps(s)

    cdef inline void _load(self, Agent* a, int32_t ci) noexcept:
        a.load[ci] += 1
        a.total_load += 1
        if self.exclusive[ci]:
            a.exclusive_load += 1

    cdef int _assign(self, int32_t s, int32_t ci) except -1:
        cdef Agent* a = &self.agents[s]
        self._load(a, ci)
        self._offer_counter += 1
        a.last_offer = self._offer_counter
        return self._rekey(s)
