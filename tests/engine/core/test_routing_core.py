"""Unit tests of the routing index, run on both implementations through ``core_impl``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import engine.core

VOICE, CHAT, EMAIL = 0, 1, 2
ROOT = Path(engine.core.__file__).resolve().parents[2]  # the tree engine.core was imported from


def make(core: ModuleType, seed: int = 0) -> Any:
    r = core.RoutingIndex(seed)
    r.add_channel(VOICE, True)
    r.add_channel(CHAT, False)
    r.add_channel(EMAIL, False)
    return r


def agent(r: Any, ident: int, skills: dict[int, int], capacity: dict[int, int] | None = None, *,
          ready: bool = True, now: float = 0.0, **stats: Any) -> None:
    r.add_agent(ident, skills, {VOICE: 1} if capacity is None else capacity, **stats)
    if ready:
        r.set_ready(ident, True, now)


# ------------------------------------------------------------------ selector

def test_compiled_core_is_loaded_by_default() -> None:
    """In a normal install (extension built, no SWITCHBOARD_PURE_PYTHON) the selector picks the compiled core."""
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_PURE_PYTHON"}
    out = subprocess.run([sys.executable, "-c", "import engine.core as c; print(c.IMPLEMENTATION, c.RoutingIndex.__module__)"],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["cython", "engine.core._routing_c"]
    if "SWITCHBOARD_PURE_PYTHON" not in os.environ:
        assert engine.core.IMPLEMENTATION == "cython"


def test_pure_python_env_selects_reference() -> None:
    env = dict(os.environ, SWITCHBOARD_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, "-c", "import engine.core as c; print(c.IMPLEMENTATION, c.RoutingIndex.__module__)"],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["python", "engine.core._routing_py"]


def test_load_names() -> None:
    assert engine.core.load("python").__name__ == "engine.core._routing_py"
    with pytest.raises(ValueError, match="unknown implementation"):
        engine.core.load("rust")


def test_same_public_api() -> None:
    py = engine.core.load("python")
    try:
        c = engine.core.load("cython")
    except ImportError:
        pytest.skip("not built")
    public = {n for n in dir(py.RoutingIndex) if not n.startswith("_")}
    assert public <= {n for n in dir(c.RoutingIndex) if not n.startswith("_")}
    assert py.STRATEGIES == c.STRATEGIES and py.MAX_CHANNELS == c.MAX_CHANNELS


# ------------------------------------------------------------------ basics

def test_enqueue_waits_then_match(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(10, {1: 1}, VOICE, "longest-idle")
    assert r.enqueue(100, 10, 0, 1.0, 1, 1.0) == -1
    assert r.pool_waiting(10) == 1 and r.contact_pool(100) == 10 and r.position(100) == 1
    assert r.oldest_arrival(10) == 1.0
    agent(r, 7, {1: 3}, ready=False)
    assert r.pool_members(10) == 1 and r.pool_available(10) == 0
    assert r.match_agent(7, 2.0) == -1  # not ready
    r.set_ready(7, True, 2.0)
    assert r.pool_available(10) == 1  # set_ready does not match
    assert r.match_agent(7, 2.0) == 100
    assert r.pool_waiting(10) == 0 and r.pool_available(10) == 0
    assert r.contact_pool(100) == -1 and r.position(100) == 0 and r.oldest_arrival(10) is None
    assert r.agent_load(7, VOICE) == 1
    assert r.agent_stats(7) == (2.0, 0, 0.0, 1)
    assert r.offer_counter == 1
    assert r.match_agent(7, 3.0) == -1


def test_enqueue_assigns_available_agent(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, 0)
    agent(r, 3, {}, now=5.0)
    assert r.enqueue(50, 1, 0, 6.0, 1, 6.0) == 3
    assert r.contact_pool(50) == -1 and r.agent_load(3, VOICE) == 1
    assert r.enqueue(50, 1, 0, 6.0, 2, 6.0) == -1  # not stored before: may be enqueued again
    r.release(3, VOICE, 10.0, talk_time=4.0)
    assert r.agent_stats(3) == (10.0, 1, 4.0, 1)
    assert r.match_agent(3, 10.0) == 50
    r.release(3, VOICE, 12.0, talk_time=9.0, handled=False)
    assert r.agent_stats(3) == (12.0, 1, 4.0, 2)


def test_remove_and_move_contact(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {1: 1}, VOICE, 0)
    r.add_pool(2, {2: 1}, VOICE, 0)
    for c in range(5):
        assert r.enqueue(c, 1, 0, float(c), c, float(c)) == -1
    assert [r.position(c) for c in range(5)] == [1, 2, 3, 4, 5]
    assert r.remove_contact(2) is True and r.remove_contact(2) is False
    assert [r.position(c) for c in range(5)] == [1, 2, 0, 3, 4]
    assert r.move_contact(0, 2, 0, 9.0) == -1
    assert r.contact_pool(0) == 2 and r.pool_waiting(1) == 3 and r.oldest_arrival(1) == 1.0
    assert r.move_contact(1, 2, 5, 9.0) == -1
    assert r.position(1) == 1 and r.position(0) == 2  # priority 5 beats the earlier arrival
    agent(r, 9, {2: 1})
    assert r.match_agent(9, 10.0) == 1
    assert r.move_contact(3, 2, 0, 11.0) == -1  # agent 9 is busy
    r.release(9, VOICE, 12.0)
    assert r.match_agent(9, 12.0) == 0  # arrived 0.0 before 3.0
    r.release(9, VOICE, 13.0)
    assert r.pool_waiting(2) == 1 and r.match_agent(9, 13.0) == 3
    r.release(9, VOICE, 14.0)
    # an agent available in the target pool takes the moved contact at once
    assert r.move_contact(4, 2, 0, 15.0) == 9
    assert r.contact_pool(4) == -1 and r.pool_waiting(1) == 0 and r.pool_waiting(2) == 0


def test_priority_and_arrival_order(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, 0)
    r.enqueue(1, 1, 0, 1.0, 1, 1.0)
    r.enqueue(2, 1, 3, 2.0, 2, 2.0)
    r.enqueue(3, 1, 0, 1.0, 0, 2.0)  # same arrival, smaller seq
    r.enqueue(4, 1, 3, 2.0, 3, 2.0)
    assert [r.position(c) for c in (1, 2, 3, 4)] == [4, 1, 3, 2]
    got = []
    for a in range(4):
        agent(r, a, {}, now=3.0)
        got.append(r.match_agent(a, 3.0))
    assert got == [2, 4, 3, 1]


def test_aging_across_pools(core_impl: ModuleType) -> None:
    """A low-priority contact that has waited long enough overtakes a fresh high-priority one in another pool."""
    r = make(core_impl)
    r.add_pool(1, {1: 1}, VOICE, 0, priority=0, aging_rate=1.0)  # one point per second
    r.add_pool(2, {2: 1}, VOICE, 0, priority=10)
    r.enqueue(1, 1, 0, 0.0, 1, 0.0)
    r.enqueue(2, 2, 0, 15.0, 2, 15.0)
    agent(r, 1, {1: 1, 2: 1}, now=16.0)
    assert r.match_agent(1, 5.0) == 2  # at t=5: 5 < 10
    assert r.enqueue(3, 2, 0, 15.0, 3, 15.0) == -1
    r.release(1, VOICE, 20.0)
    assert r.match_agent(1, 20.0) == 1  # at t=20: 20 > 10
    # aging inside a pool: the older contact gains more
    r2 = make(core_impl)
    r2.add_pool(1, {}, VOICE, 0, aging_rate=0.5)
    r2.enqueue(1, 1, 0, 0.0, 1, 0.0)
    r2.enqueue(2, 1, 4, 10.0, 2, 10.0)  # 4 - 0.5*10 = -1 < 0 - 0 = 0: contact 1 first
    assert r2.position(1) == 1 and r2.position(2) == 2


def test_pool_priority_across_pools(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {1: 1}, VOICE, 0)
    r.add_pool(2, {2: 1}, VOICE, 0, priority=1)
    r.enqueue(1, 1, 0, 0.0, 1, 0.0)
    r.enqueue(2, 2, 0, 5.0, 2, 5.0)
    agent(r, 1, {1: 1, 2: 1})
    assert r.agent_pools(1) == [1, 2]
    assert r.match_agent(1, 6.0) == 2
    r.release(1, VOICE, 7.0)
    assert r.match_agent(1, 7.0) == 1


# ------------------------------------------------------------------ channels

def test_exclusive_voice_vs_multi_chat(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, 0)
    r.add_pool(2, {}, CHAT, 0)
    agent(r, 1, {}, capacity={VOICE: 1, CHAT: 3})
    assert r.pool_available(1) == 1 and r.pool_available(2) == 1
    assert r.enqueue(10, 2, 0, 10.0, 10, 10.0) == 1
    assert r.pool_available(1) == 0 and r.pool_available(2) == 1  # some load: voice not offered
    assert r.enqueue(11, 2, 0, 11.0, 11, 11.0) == 1
    assert r.enqueue(12, 2, 0, 12.0, 12, 12.0) == 1
    assert r.pool_available(2) == 0  # chat full
    assert r.enqueue(13, 2, 0, 13.0, 13, 13.0) == -1
    assert r.match_agent(1, 20.0) == -1
    assert r.agent_load(1, CHAT) == 3
    r.enqueue(20, 1, 0, 21.0, 20, 21.0)
    assert r.match_agent(1, 21.0) == -1  # voice needs zero load
    for _ in range(3):
        r.release(1, CHAT, 22.0)
    assert r.agent_stats(1)[0] == 22.0
    assert r.match_agent(1, 22.0) in (13, 20)


def test_exclusive_contact_blocks_everything(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, 0)
    r.add_pool(2, {}, CHAT, 0)
    agent(r, 1, {}, capacity={VOICE: 1, CHAT: 3})
    assert r.enqueue(1, 1, 0, 0.0, 1, 0.0) == 1
    assert r.pool_available(2) == 0
    assert r.enqueue(2, 2, 0, 0.0, 2, 0.0) == -1
    assert r.match_agent(1, 1.0) == -1
    r.release(1, VOICE, 2.0)
    assert r.match_agent(1, 2.0) == 2


def test_zero_capacity_never_offered(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, 0)
    r.add_pool(2, {}, CHAT, 0)
    agent(r, 1, {}, capacity={CHAT: 0, VOICE: 0})
    assert r.pool_members(1) == 1 and r.pool_available(1) == 0 and r.pool_available(2) == 0


def test_add_load_and_set_ready_keep_idle_since(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, CHAT, 0)
    r.add_agent(1, {}, {CHAT: 2}, idle_since=3.0, calls=4, talk_time=5.0, last_offer=6)
    assert r.agent_stats(1) == (3.0, 4, 5.0, 6)
    r.add_load(1, CHAT)
    r.set_ready(1, True, 9.0)  # has load: idle_since kept
    assert r.agent_stats(1) == (3.0, 4, 5.0, 6)
    assert r.pool_available(1) == 1
    r.add_load(1, CHAT)
    assert r.pool_available(1) == 0
    r.set_ready(1, False, 10.0)
    r.release(1, CHAT, 11.0)
    r.release(1, CHAT, 12.0)
    assert r.agent_stats(1) == (12.0, 6, 5.0, 6)
    assert r.pool_available(1) == 0
    r.set_ready(1, True, 13.0)
    assert r.agent_stats(1)[0] == 13.0
    r.set_ready(1, True, 14.0)  # already ready: unchanged
    assert r.agent_stats(1)[0] == 13.0


# ------------------------------------------------------------------ strategies

def _winner(core: ModuleType, strategy: str, agents: list[tuple[int, dict[int, int], dict[str, Any]]],
            reqs: dict[int, int] | None = None, seed: int = 0) -> int:
    r = make(core, seed)
    r.add_pool(1, reqs or {}, CHAT, strategy)
    for ident, skills, stats in agents:
        now = stats.pop("now", 0.0)
        r.add_agent(ident, skills, {CHAT: 2}, **stats)
        load = stats.get("load", 0)
        if now:
            r.set_ready(ident, True, now)
        else:
            r.set_ready(ident, True, 0.0)
        for _ in range(load):
            r.add_load(ident, CHAT)
    return r.enqueue(99, 1, 0, 100.0, 1, 100.0)


def test_longest_idle(core_impl: ModuleType) -> None:
    assert _winner(core_impl, "longest-idle", [(1, {}, {"now": 5.0}), (2, {}, {"now": 3.0}), (3, {}, {"now": 4.0})]) == 2
    assert _winner(core_impl, "longest-idle", [(5, {}, {"now": 3.0}), (2, {}, {"now": 3.0})]) == 2  # tie: id
    # load on the pool's channel comes first
    r = make(core_impl)
    r.add_pool(1, {}, CHAT, "longest-idle")
    r.add_agent(1, {}, {CHAT: 2})
    r.add_agent(2, {}, {CHAT: 2})
    r.set_ready(1, True, 1.0)
    r.set_ready(2, True, 5.0)
    r.add_load(1, CHAT)
    assert r.enqueue(9, 1, 0, 6.0, 1, 6.0) == 2


def test_fewest_calls(core_impl: ModuleType) -> None:
    assert _winner(core_impl, 1, [(1, {}, {"calls": 5, "now": 1.0}), (2, {}, {"calls": 2, "now": 9.0}),
                                  (3, {}, {"calls": 2, "now": 4.0})]) == 3


def test_least_talk_time(core_impl: ModuleType) -> None:
    assert _winner(core_impl, "least-talk-time", [(1, {}, {"talk_time": 50.0}), (2, {}, {"talk_time": 20.5}),
                                                  (3, {}, {"talk_time": 30.0})]) == 2


def test_best_skill_level(core_impl: ModuleType) -> None:
    reqs = {1: 1, 2: 1}
    assert _winner(core_impl, "best-skill-level", [(1, {1: 5, 2: 5, 3: 10}, {}), (2, {1: 9, 2: 3}, {}),
                                                   (3, {1: 2, 2: 2}, {})], reqs) == 2


def test_round_robin(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {}, VOICE, "round-robin")
    for a in (1, 2, 3):
        agent(r, a, {}, now=float(a))
    order = []
    for c in range(6):
        got = r.enqueue(c, 1, 0, 10.0, c, 10.0)
        order.append(got)
        r.release(got, VOICE, 100.0 - c)  # idle_since would favour the latest releaser under longest-idle
    assert order == [1, 2, 3, 1, 2, 3]


def test_random_is_seeded_and_deterministic(core_impl: ModuleType) -> None:
    def picks(seed: int) -> list[int]:
        r = make(core_impl, seed)
        r.add_pool(1, {}, VOICE, "random")
        for a in range(20):
            agent(r, a, {})
        out = []
        for c in range(30):
            got = r.enqueue(c, 1, 0, 1.0, c, 1.0)
            out.append(got)
            r.release(got, VOICE, 2.0)
        return out

    a, b = picks(1), picks(1)
    assert a == b and len(set(a)) > 5
    assert picks(2) != a


def test_random_matches_reference_formula(core_impl: ModuleType) -> None:
    mask = (1 << 64) - 1

    def mix(x: int) -> int:
        z = (x + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    seed = 12345
    agents = list(range(1, 40, 3))
    expect = min(agents, key=lambda a: (mix((seed ^ (a * 0x9E3779B97F4A7C15) ^ (7 * 0xBF58476D1CE4E5B9)) & mask), a))
    got = _winner(core_impl, "random", [(a, {}, {"last_offer": 7}) for a in agents], seed=seed)
    assert got == expect


def test_strategy_names_and_codes(core_impl: ModuleType) -> None:
    for code, name in enumerate(core_impl.STRATEGIES):
        assert core_impl.strategy_code(name) == code == core_impl.strategy_code(code)
    r = make(core_impl)
    with pytest.raises(ValueError, match="unknown strategy 'fastest'"):
        r.add_pool(1, {}, VOICE, "fastest")
    with pytest.raises(ValueError, match="unknown strategy 6"):
        r.add_pool(1, {}, VOICE, 6)


# ------------------------------------------------------------------ membership

def test_membership_levels_and_updates(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.add_pool(1, {1: 5}, VOICE, 0)
    r.add_pool(2, {1: 1, 2: 1}, VOICE, 0)
    agent(r, 1, {1: 4, 2: 1})
    assert r.agent_pools(1) == [2]
    r.enqueue(10, 1, 0, 0.0, 1, 0.0)
    assert r.match_agent(1, 1.0) == -1  # level 4 < 5
    r.update_agent(1, {1: 5}, {VOICE: 1})
    assert r.agent_pools(1) == [1] and r.pool_members(2) == 0
    assert r.pool_available(1) == 1  # update does not match
    assert r.match_agent(1, 1.0) == 10
    r.add_pool(3, {}, VOICE, 0)
    assert r.agent_pools(1) == [1, 3] and r.pool_available(3) == 0  # busy
    r.update_agent(1, {}, {VOICE: 1})  # load kept through an update
    assert r.agent_load(1, VOICE) == 1 and r.agent_pools(1) == [3]
    with pytest.raises(ValueError, match="agent 1 has load"):
        r.remove_agent(1)
    r.release(1, VOICE, 2.0)
    assert r.pool_available(3) == 1
    r.remove_agent(1)
    assert not r.has_agent(1) and r.pool_members(3) == 0 and r.pool_available(3) == 0
    agent(r, 1, {1: 9})  # the id can come back
    assert r.agent_pools(1) == [1, 3]


def test_restricted_pool(core_impl: ModuleType) -> None:
    r = make(core_impl)
    for a in range(5):
        agent(r, a, {1: 5})
    r.add_pool(1, {1: 1}, VOICE, 0, agents=[3, 1, 99])
    assert r.pool_members(1) == 2 and r.pool_available(1) == 2
    agent(r, 99, {1: 1})
    agent(r, 100, {1: 1})
    assert r.pool_members(1) == 3
    assert r.agent_pools(100) == []
    assert r.enqueue(7, 1, 0, 0.0, 1, 0.0) in (1, 3, 99)
    r.add_pool(2, {1: 6}, VOICE, 0, agents=[2])
    assert r.pool_members(2) == 0
    r.update_agent(2, {1: 6}, {VOICE: 1})
    assert r.pool_members(2) == 1 and r.agent_pools(2) == [2]


def test_remove_pool(core_impl: ModuleType) -> None:
    r = make(core_impl)
    agent(r, 1, {})
    agent(r, 2, {})
    r.add_pool(1, {}, VOICE, 0)
    r.add_pool(2, {}, VOICE, 0)
    assert r.pool_available(1) == 2
    r.remove_pool(1)
    assert not r.has_pool(1) and r.agent_pools(1) == [2] and r.agent_pools(2) == [2]
    r.add_pool(1, {}, CHAT, 0)  # the id can come back
    assert r.pool_members(1) == 2 and r.pool_available(1) == 0
    r.add_pool(3, {5: 1}, VOICE, 0)
    r.enqueue(1, 3, 0, 0.0, 1, 0.0)
    with pytest.raises(ValueError, match="pool 3 has waiting contacts"):
        r.remove_pool(3)
    r.remove_contact(1)
    r.remove_pool(3)


def test_many_pools_and_slot_reuse(core_impl: ModuleType) -> None:
    """Sparse and large ids, removal and reuse of slots, hash-map growth."""
    r = make(core_impl)
    big = 2**62
    for p in range(40):
        r.add_pool(big + p * 7919, {p % 5: 1}, VOICE, p % 6)
    for a in range(60):
        r.add_agent(big - a * 104729, {a % 5: 1 + a % 10, (a + 1) % 5: 2}, {VOICE: 1})
    for c in range(3000):
        assert r.enqueue(big + c * 31, big + (c % 40) * 7919, c % 3, float(c), c, float(c)) == -1
    for c in range(0, 3000, 2):
        assert r.remove_contact(big + c * 31)
    assert sum(r.pool_waiting(big + p * 7919) for p in range(40)) == 1500
    matched = set()
    for a in range(60):
        r.set_ready(big - a * 104729, True, 5000.0)
        got = r.match_agent(big - a * 104729, 5000.0)
        assert got != -1
        matched.add(got)
    assert len(matched) == 60
    for a in range(0, 60, 3):
        r.release(big - a * 104729, VOICE, 6000.0)
        r.set_ready(big - a * 104729, False, 6000.0)
        r.remove_agent(big - a * 104729)
    for c in range(1, 3000, 2):
        if big + c * 31 not in matched:
            assert r.contact_pool(big + c * 31) == big + (c % 40) * 7919
            assert r.remove_contact(big + c * 31)
    for p in range(40):
        r.remove_pool(big + p * 7919)
        assert not r.has_pool(big + p * 7919)


# ------------------------------------------------------------------ errors

def test_errors(core_impl: ModuleType) -> None:
    r = make(core_impl)
    with pytest.raises(ValueError, match="channel 0 already exists"):
        r.add_channel(VOICE, True)
    agent(r, 1, {1: 1})
    with pytest.raises(ValueError, match="agent 1 already exists"):
        r.add_agent(1, {}, {})
    with pytest.raises(ValueError, match=r"agent 2: skill 3 level 11 not in 1\.\.10"):
        r.add_agent(2, {3: 11}, {})
    with pytest.raises(ValueError, match=r"agent 2: skill 3 level 0 not in 1\.\.10"):
        r.add_agent(2, {3: 0}, {})
    with pytest.raises(ValueError, match="agent 2: capacity -1 on channel 1 is negative"):
        r.add_agent(2, {}, {CHAT: -1})
    with pytest.raises(KeyError, match="unknown channel 9"):
        r.add_agent(2, {}, {9: 1})
    assert not r.has_agent(2)
    with pytest.raises(ValueError, match="negative agent id -1"):
        r.add_agent(-1, {}, {})
    for call in (lambda: r.set_ready(5, True, 0.0), lambda: r.match_agent(5, 0.0), lambda: r.agent_stats(5),
                 lambda: r.remove_agent(5), lambda: r.update_agent(5, {}, {}), lambda: r.agent_pools(5),
                 lambda: r.release(5, VOICE, 0.0), lambda: r.agent_load(5, VOICE)):
        with pytest.raises(KeyError, match="unknown agent 5"):
            call()
    with pytest.raises(KeyError, match="unknown channel 9"):
        r.agent_load(1, 9)
    with pytest.raises(ValueError, match="agent 1 has no load on channel 0"):
        r.release(1, VOICE, 0.0)
    with pytest.raises(KeyError, match="unknown pool 3"):
        r.enqueue(1, 3, 0, 0.0, 1, 0.0)
    for call in (lambda: r.pool_waiting(3), lambda: r.pool_members(3), lambda: r.pool_available(3),
                 lambda: r.remove_pool(3), lambda: r.oldest_arrival(3)):
        with pytest.raises(KeyError, match="unknown pool 3"):
            call()
    r.add_pool(3, {1: 2}, VOICE, 0)
    with pytest.raises(ValueError, match="pool 3 already exists"):
        r.add_pool(3, {}, VOICE, 0)
    with pytest.raises(ValueError, match=r"pool 4: skill 1 level 12 not in 1\.\.10"):
        r.add_pool(4, {1: 12}, VOICE, 0)
    with pytest.raises(KeyError, match="unknown channel 8"):
        r.add_pool(4, {}, 8, 0)
    with pytest.raises(ValueError, match="pool 4: aging_rate -1.0 is negative"):
        r.add_pool(4, {}, VOICE, 0, aging_rate=-1.0)
    assert not r.has_pool(4)
    r.enqueue(1, 3, 0, 0.0, 1, 0.0)
    with pytest.raises(ValueError, match="contact 1 already waiting"):
        r.enqueue(1, 3, 0, 0.0, 1, 0.0)
    with pytest.raises(KeyError, match="unknown contact 2"):
        r.move_contact(2, 3, 0, 0.0)
    with pytest.raises(KeyError, match="unknown pool 4"):
        r.move_contact(1, 4, 0, 0.0)
    assert r.contact_pool(1) == 3
    for ch in range(3, core_impl.MAX_CHANNELS):
        r.add_channel(ch, False)
    with pytest.raises(ValueError, match="too many channels"):
        r.add_channel(1000, False)


def test_error_types_identical_across_implementations() -> None:
    try:
        impls = [engine.core.load("python"), engine.core.load("cython")]
    except ImportError:
        pytest.skip("not built")
    outcomes = []
    for core in impls:
        r = make(core)
        got = []
        for name, args in (("add_agent", (1, {1: 0}, {})), ("remove_pool", (1,)), ("release", (1, 0, 0.0)),
                           ("add_channel", (1, False)), ("add_pool", (1, {}, 0, "x"))):
            try:
                getattr(r, name)(*args)
            except (KeyError, ValueError) as exc:
                got.append((type(exc), str(exc)))
        outcomes.append(got)
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) == 5


def test_offer_counter_property(core_impl: ModuleType) -> None:
    r = make(core_impl)
    r.offer_counter = 41
    r.add_pool(1, {}, VOICE, 0)
    agent(r, 1, {})
    assert r.enqueue(1, 1, 0, 0.0, 1, 0.0) == 1
    assert r.offer_counter == 42 and r.agent_stats(1)[3] == 42
