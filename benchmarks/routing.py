"""Routing-core benchmark: nanoseconds per routing decision, compiled core vs pure-Python reference.

Setup: ``--skills`` skills and one pool per skill (requirement ``{skill: 1}``, voice; mostly longest-idle, some
fewest-calls / round-robin / best-skill-level), ``--agents`` agents with 4..8 random skills each, every agent busy,
and ``--waiting`` contacts waiting spread over the pools. Then a steady-state loop of routing decisions, half of
each kind, drawn from a seeded stream prepared before timing:

* an agent finishes (``release``) and ``match_agent`` gives it the best waiting contact across its pools;
* a new contact arrives (``enqueue``); no agent is free, so it waits.

The floor is CPython's C ``heapq``: one ``heappush`` + ``heappop`` pair on a heap of ``--waiting`` ``(float, int)``
tuples, i.e. the cheapest possible "one contact in, one contact out" with the standard library.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import time
from types import ModuleType
from typing import Any

import engine.core

VOICE = 0
# longest-idle dominant, a few of the others
_STRATEGY_CYCLE = ("longest-idle",) * 7 + ("fewest-calls", "round-robin", "best-skill-level")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=10_000, help="agents (default 10000)")
    parser.add_argument("--skills", type=int, default=200, help="skills, one pool each (default 200)")
    parser.add_argument("--waiting", type=int, default=100_000, help="contacts waiting in steady state (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the setup and of the decision stream")
    parser.add_argument("--decisions", type=int, default=1_000_000,
                        help="routing decisions timed on the compiled core (default 1000000)")
    parser.add_argument("--python-decisions", type=int, default=None,
                        help="decisions timed on the reference (default: decisions / 20)")
    parser.add_argument("--json", action="store_true", help="print JSON (the CLI does)")


def _setup(core: ModuleType, agents: int, skills: int, waiting: int, seed: int) -> tuple[Any, list[int], int]:
    """An index with every agent busy and ``waiting`` contacts waiting. Returns (index, busy agents, next id)."""
    rng = random.Random(seed)
    r = core.RoutingIndex(seed)
    r.add_channel(VOICE, True)
    for s in range(skills):
        r.add_pool(s, {s: 1}, VOICE, _STRATEGY_CYCLE[s % len(_STRATEGY_CYCLE)])
    for a in range(agents):
        chosen = rng.sample(range(skills), rng.randint(4, min(8, skills)))
        r.add_agent(a, {s: rng.randint(1, 10) for s in chosen}, {VOICE: 1},
                    idle_since=0.0, calls=rng.randint(0, 50), talk_time=0.0)
        r.set_ready(a, True, rng.random())
    contact = 0
    now = 1.0
    busy = 0
    while busy < agents or contact - busy < waiting:
        got = r.enqueue(contact, rng.randrange(skills), rng.randint(0, 2), now, contact, now)
        if got >= 0:
            busy += 1
        contact += 1
        now += 0.001
        if contact > 10 * (agents + waiting):
            raise RuntimeError("setup did not reach steady state")
    return r, list(range(agents)), contact


def _stream(n: int, agents: int, skills: int, seed: int) -> list[tuple[int, int, int]]:
    """(kind, agent or pool, priority): kind 0 = release + match_agent, 1 = enqueue."""
    rng = random.Random(seed * 7919 + 1)
    return [(i & 1, rng.randrange(agents) if not (i & 1) else rng.randrange(skills), rng.randint(0, 2))
            for i in range(n)]


def _time_decisions(core: ModuleType, args: argparse.Namespace, n: int, chunks: int) -> dict[str, Any]:
    """Run ``n`` decisions in ``chunks`` timed chunks; the figure is the best chunk (least disturbed by the rest
    of the machine), the median is reported beside it."""
    t0 = time.perf_counter()
    r, _, next_contact = _setup(core, args.agents, args.skills, args.waiting, args.seed)
    setup_s = time.perf_counter() - t0
    stream = _stream(n, args.agents, args.skills, args.seed)
    # agents that are currently busy (all of them after setup); a released agent that finds nothing stays free
    busy = bytearray(b"\x01") * args.agents
    release, match, enqueue = r.release, r.match_agent, r.enqueue
    now = 1000.0
    contact = next_contact
    offers_before = r.offer_counter
    assigned = 0
    size = max(1, n // chunks)
    per_chunk: list[float] = []
    for start in range(0, n, size):
        part = stream[start:start + size]
        t = time.perf_counter_ns()
        for kind, x, prio in part:
            now += 0.01
            if kind:
                got = enqueue(contact, x, prio, now, contact, now)
                contact += 1
                if got >= 0:  # a free agent took it at once
                    busy[got] = 1
                    assigned += 1
            else:
                if busy[x]:
                    release(x, VOICE, now, 30.0)
                busy[x] = match(x, now) >= 0
        per_chunk.append((time.perf_counter_ns() - t) / len(part))
    offers = r.offer_counter - offers_before
    matched = offers - assigned
    waiting_now = sum(r.pool_waiting(p) for p in range(args.skills))
    return {"ns_per_decision": min(per_chunk), "median_ns_per_decision": round(statistics.median(per_chunk), 1),
            "decisions": n, "chunks": len(per_chunk), "setup_s": round(setup_s, 3),
            "matched": matched, "assigned_on_arrival": assigned, "enqueued": contact - next_contact,
            "agents_left_idle": args.agents - sum(busy), "waiting_after": waiting_now}


def _heapq_floor(waiting: int, seed: int, pairs: int, chunks: int) -> tuple[float, float]:
    """(best, median) ns per heappush + heappop on a heap of ``waiting`` (float, int) tuples."""
    rng = random.Random(seed)
    heap = [(rng.random() * 1000.0, i) for i in range(waiting)]
    heapq.heapify(heap)
    items = [(rng.random() * 2000.0, waiting + i) for i in range(pairs)]
    push, pop = heapq.heappush, heapq.heappop
    size = max(1, pairs // chunks)
    per_chunk = []
    for start in range(0, pairs, size):
        part = items[start:start + size]
        t = time.perf_counter_ns()
        for item in part:
            push(heap, item)
            pop(heap)
        per_chunk.append((time.perf_counter_ns() - t) / len(part))
    return min(per_chunk), statistics.median(per_chunk)


def _implementation_checks(args: argparse.Namespace) -> dict[str, Any]:
    """Both implementations, same small workload: identical decisions (a smoke differential check)."""
    results = {}
    for name in ("python", "cython"):
        core = engine.core.load(name)
        r, _, contact = _setup(core, 300, 20, 2000, args.seed)
        out = []
        busy = bytearray(b"\x01") * 300
        now = 1000.0
        for kind, x, prio in _stream(4000, 300, 20, args.seed):
            now += 0.01
            if kind == 0:
                if busy[x]:
                    r.release(x, VOICE, now, 30.0)
                got = r.match_agent(x, now)
                busy[x] = 1 if got >= 0 else 0
            else:
                got = r.enqueue(contact, x, prio, now, contact, now)
                contact += 1
                if got >= 0:
                    busy[got] = 1
            out.append(got)
        results[name] = (out, [r.agent_stats(a) for a in range(300)], r.offer_counter)
    return {"identical_decisions": results["python"] == results["cython"], "decisions_compared": 4000,
            "selected_by_default": engine.core.IMPLEMENTATION}


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.decisions
    n_py = args.python_decisions or max(1, n // 20)
    cy = _time_decisions(engine.core.load("cython"), args, n, 50)
    py = _time_decisions(engine.core.load("python"), args, n_py, 20)
    floor, floor_median = _heapq_floor(args.waiting, args.seed, min(n, 400_000), 20)
    out: dict[str, Any] = {
        "agents": args.agents,
        "skills": args.skills,
        "waiting": args.waiting,
        "seed": args.seed,
        "decisions": n,
        "python_decisions": n_py,
        "cython_ns_per_decision": round(cy["ns_per_decision"], 1),
        "python_ns_per_decision": round(py["ns_per_decision"], 1),
        "heapq_floor_ns_per_pushpop": round(floor, 1),
        "heapq_floor_median_ns": round(floor_median, 1),
        "ratio_python_over_cython": round(py["ns_per_decision"] / cy["ns_per_decision"], 2),
        "ratio_cython_over_floor": round(cy["ns_per_decision"] / floor, 2),
        "cython_detail": cy,
        "python_detail": py,
        "implementation_checks": _implementation_checks(args),
    }
    return out


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
