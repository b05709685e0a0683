"""engine.stats: figures from observer actions, fed by hand."""

from __future__ import annotations

import pytest

from engine.events import AgentStateChanged, Bridge, ContactRecord, ContactStateChanged
from engine.stats import Stats


def cs(cid: str, state: str, at: float, queue: str = "q", agent: str = "", **detail: object) -> ContactStateChanged:
    return ContactStateChanged(cid, state, queue, agent, at, dict(detail))


def record(cid: str, arrived: float, answered: float | None, ended: float, outcome: str) -> ContactRecord:
    return ContactRecord(cid, "voice", "", "q", "", arrived, answered, ended, outcome, "", "", (), {})


def ag(agent: str, state: str, at: float) -> AgentStateChanged:
    return AgentStateChanged(agent, state, "", at)


def feed(stats: Stats, actions: list[object]) -> None:
    for a in actions:
        stats.observe(a)


def answered_call(cid: str, arrived: float, connected: float, ended: float, queue: str = "q") -> list[object]:
    return [
        cs(cid, "queued", arrived, queue),
        cs(cid, "offered", connected, queue, "a1"),
        cs(cid, "connected", connected, queue, "a1"),
        cs(cid, "ended", ended, queue, "a1"),
        cs(cid, "completed", ended, queue, "a1", talk_s=ended - connected, handle_s=ended - connected),
        record(cid, arrived, connected, ended, "answered"),
    ]


def test_counts_and_ratios() -> None:
    s = Stats()
    feed(s, answered_call("c1", 0.0, 0.0, 100.0))  # no wait
    feed(s, answered_call("c2", 10.0, 25.0, 200.0))  # waited 15 s
    feed(s, answered_call("c3", 20.0, 60.0, 300.0))  # waited 40 s
    feed(s, [cs("c4", "queued", 30.0), cs("c4", "abandoned", 35.0), record("c4", 30.0, None, 35.0, "abandoned")])
    snap = s.snapshot(400.0)
    assert (snap["offered"], snap["answered"], snap["abandoned"]) == (4, 3, 1)
    assert snap["p_wait"] == pytest.approx(3 / 4)  # c2, c3, c4 waited > 0
    assert snap["service_level_20s"] == pytest.approx(2 / 4)  # c1, c2 within 20 s, over all offered
    assert snap["asa_s"] == pytest.approx((0 + 15 + 40) / 3)
    assert snap["abandon_rate"] == pytest.approx(1 / 4)
    assert snap["mean_abandon_wait_s"] == pytest.approx(5.0)
    assert snap["aht_s"] == pytest.approx((100 + 175 + 240) / 3)
    assert snap["waiting_now"] == 0 and snap["longest_wait_s"] == 0.0
    assert snap["queues"]["q"]["offered"] == 4
    assert s.contacts == {}  # records dropped: memory is bounded by live contacts


def test_other_actions_are_ignored() -> None:
    s = Stats()
    s.observe(Bridge("c1", "a1"))
    assert s.snapshot(0.0)["offered"] == 0 and s.snapshot(0.0)["p_wait"] is None


def test_waiting_now_and_longest_wait() -> None:
    s = Stats()
    feed(s, [cs("c1", "queued", 10.0, "sales"), cs("c2", "queued", 15.0, "sales"), cs("c3", "queued", 12.0, "help")])
    snap = s.snapshot(20.0)
    assert snap["waiting_now"] == 3 and snap["longest_wait_s"] == pytest.approx(10.0)
    assert snap["queues"]["sales"]["longest_wait_s"] == pytest.approx(10.0)
    assert snap["queues"]["help"]["waiting_now"] == 1
    # still waiting after their arrival instant: they count as having waited
    assert snap["p_wait"] == pytest.approx(1.0)
    feed(s, [cs("c1", "offered", 21.0, "sales", "a1")])
    assert s.snapshot(21.0)["queues"]["sales"]["waiting_now"] == 2  # ringing still waits
    feed(s, [cs("c1", "connected", 22.0, "sales", "a1")])
    snap = s.snapshot(22.0)
    assert snap["queues"]["sales"]["waiting_now"] == 1
    assert snap["queues"]["sales"]["longest_wait_s"] == pytest.approx(7.0)


def test_overflow_moves_waiting_but_figures_stay_with_the_arrival_queue() -> None:
    s = Stats()
    feed(s, [cs("c1", "queued", 0.0, "a"), cs("c1", "overflowed", 60.0, "a"), cs("c1", "queued", 60.0, "b"),
             cs("c1", "connected", 70.0, "b", "x")])
    snap = s.snapshot(70.0)
    assert snap["queues"]["a"]["answered"] == 1 and snap["queues"]["a"]["asa_s"] == pytest.approx(70.0)
    assert snap["queues"]["b"]["offered"] == 0
    feed(s, [cs("c2", "queued", 80.0, "a"), cs("c2", "overflowed", 90.0, "a"), cs("c2", "queued", 90.0, "b")])
    assert s.snapshot(95.0)["queues"]["b"]["waiting_now"] == 1
    assert s.snapshot(95.0)["queues"]["a"]["waiting_now"] == 0


def test_answered_once_after_requeue() -> None:
    s = Stats()
    feed(s, [cs("c1", "queued", 0.0), cs("c1", "connected", 5.0), cs("c1", "requeued", 50.0),
             cs("c1", "connected", 80.0)])
    snap = s.snapshot(100.0)
    assert snap["answered"] == 1 and snap["asa_s"] == pytest.approx(5.0)


def test_unserved() -> None:
    s = Stats()
    feed(s, [cs("c1", "closed", 0.0), cs("c2", "queued", 0.0), cs("c2", "max-wait", 300.0)])
    snap = s.snapshot(300.0)
    assert snap["unserved"] == 2 and snap["answered"] == 0
    assert snap["p_wait"] == pytest.approx(1 / 2)  # the closed one did not wait
    assert snap["service_level_20s"] == 0.0


def test_warmup_and_until_cut_arrivals() -> None:
    s = Stats(warmup=100.0, until=1000.0)
    feed(s, answered_call("early", 50.0, 150.0, 200.0))  # arrived before warm-up: not counted
    feed(s, answered_call("in", 150.0, 150.0, 300.0))
    feed(s, answered_call("late", 1000.0, 1000.0, 1100.0))  # at until: not counted
    snap = s.snapshot(1200.0)
    assert snap["offered"] == 1 and snap["answered"] == 1 and snap["asa_s"] == 0.0


def test_occupancy_and_agent_counts() -> None:
    s = Stats(warmup=10.0, until=110.0)
    feed(s, [ag("a1", "not-ready", 0.0), ag("a1", "available", 0.0), ag("a2", "available", 0.0),
             ag("a1", "reserved", 20.0), ag("a1", "on-contact", 20.0), ag("a1", "wrap-up", 50.0),
             ag("a1", "available", 60.0), ag("a2", "not-ready", 30.0)])
    snap = s.snapshot(60.0)
    # window [10, 60]: a1 busy 20..60 = 40, idle 10..20 = 10; a2 idle 10..30 = 20, then not-ready (ignored)
    assert snap["occupancy"] == pytest.approx(40 / 70)
    assert snap["agents"] == {"available": 1, "not-ready": 1}
    # the open intervals are clipped at until
    later = s.snapshot(500.0)
    assert later["occupancy"] == pytest.approx(40 / (40 + 10 + 50 + 20))
    fresh = Stats(warmup=10.0)
    fresh.observe(ag("a1", "available", 0.0))
    assert fresh.snapshot(5.0)["occupancy"] is None  # nothing staffed inside the window yet


def test_snapshot_does_not_change_state() -> None:
    s = Stats()
    feed(s, answered_call("c1", 0.0, 3.0, 10.0))
    assert s.snapshot(10.0) == s.snapshot(10.0)
    feed(s, answered_call("c2", 20.0, 20.0, 30.0))
    assert s.snapshot(30.0)["offered"] == 2


def test_custom_thresholds() -> None:
    s = Stats(sl_thresholds=(20.0, 60.0))
    feed(s, answered_call("c1", 0.0, 30.0, 100.0))
    snap = s.snapshot(100.0)
    assert snap["service_level_20s"] == 0.0 and snap["service_level_60s"] == 1.0
