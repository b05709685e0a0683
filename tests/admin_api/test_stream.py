"""admin_api.stream: the live stream's publisher, in virtual time, without sockets: at most one build per
interval however many actions, frames cut by view and shared between equal views, a slow subscriber keeps only
the newest snapshot and never holds the publisher up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from admin_api.auth import Principal
from admin_api.stream import LiveHub, Mailbox
from engine.events import AgentNotReady, ContactArrived
from tests.engine.test_live import T0, Fed, staff

ADMIN = Principal("root", "admin")
SUPERVISOR = Principal("sue", "supervisor", teams=("east",))
AGENT = Principal("ann", "agent", agent_id="a1")


def make_hub(fed: Fed, **kwargs: Any) -> LiveHub:
    return LiveHub(fed.live, lambda: T0 + trio.current_time(), lambda: fed.live.version, **kwargs)


async def collect(box: Mailbox, into: list[dict[str, Any]]) -> None:
    while True:
        into.extend(json.loads(frame) for frame in await box.take())


@asynccontextmanager
async def publishing(hub: LiveHub, principal: Principal = ADMIN) -> AsyncIterator[list[dict[str, Any]]]:
    """The hub running, and the frames a subscriber as ``principal`` gets, until the block ends."""
    frames: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hub.run)
        with hub.subscribe(principal) as box:
            nursery.start_soon(collect, box, frames)
            yield frames
            nursery.cancel_scope.cancel()


def snapshots(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "snapshot"]


async def test_a_flood_of_actions_makes_one_frame_per_interval(autojump_clock: trio.testing.MockClock) -> None:
    fed = Fed()
    async with publishing(make_hub(fed)) as frames:
        await trio.sleep(0.3)
        first = len(snapshots(frames))
        for i in range(400):  # 400 arrivals in one second, nobody staffed: they all wait
            fed(trio.current_time(), ContactArrived(f"c{i}", queue="sales"))
            await trio.sleep(0.0025)
        await trio.sleep(0.3)
    assert first == 1  # the first frame at once, nothing since: nothing changed
    built = snapshots(frames)
    assert 4 <= len(built) - first <= 5  # 1.3 s at one build per 250 ms, not 400 frames
    last = built[-1]
    assert last["queues"]["sales"]["waiting"] == 400 and last["totals"]["offered"] == 400
    assert last["seq"] == fed.live.version and last["at"] >= T0 + 1.0


async def test_nothing_changes_nothing_is_sent_but_the_heartbeat(autojump_clock: trio.testing.MockClock) -> None:
    async with publishing(make_hub(Fed(), heartbeat_s=2.0)) as frames:
        await trio.sleep(4.4)
    assert [round(f["at"] - T0, 2) for f in frames] == [0.25, 2.25, 4.25]  # the first one, then the heartbeats


async def test_views_are_cut_by_role_and_shared(autojump_clock: trio.testing.MockClock) -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a2", "a3")
    hub = make_hub(fed)
    hub.live.take_agent_changes()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hub.run)
        with hub.subscribe(ADMIN) as admin, hub.subscribe(SUPERVISOR) as sup, \
                hub.subscribe(Principal("sue2", "supervisor", teams=("east", "east"))) as sup2, \
                hub.subscribe(AGENT) as agent:
            await trio.sleep(0.3)
            fed(trio.current_time(), AgentNotReady("a2", "lunch"), AgentNotReady("a3", "training"))
            await trio.sleep(0.3)
            mail = {name: [json.loads(f) for f in await box.take()] for name, box in
                    (("admin", admin), ("sup", sup), ("agent", agent))}
            assert await sup2.take() == [json.dumps(f, separators=(",", ":")) for f in mail["sup"]]
            nursery.cancel_scope.cancel()
    admin_snap, sup_snap, agent_snap = (mail[n][-1] for n in ("admin", "sup", "agent"))
    assert sorted(admin_snap["agents"]) == ["a1", "a2", "a3"]
    assert sorted(sup_snap["agents"]) == ["a1", "a2"] and sup_snap["agents"]["a2"]["reason"] == "lunch"
    assert list(agent_snap["agents"]) == ["a1"] and agent_snap["campaigns"] == {}
    assert agent_snap["queues"] == admin_snap["queues"]  # every role sees the queues
    events = {n: [f for f in mail[n] if f["type"] == "agents"] for n in mail}
    assert [c["agent_id"] for c in events["admin"][0]["changes"]] == ["a2", "a3"]
    assert [c["agent_id"] for c in events["sup"][0]["changes"]] == ["a2"]
    assert events["agent"] == []  # a2 and a3 are not a1's business
    assert mail["admin"][0]["type"] == "agents"  # events go before the snapshot of the same cycle


async def test_a_slow_subscriber_keeps_only_the_newest_and_holds_nobody_up(
        autojump_clock: trio.testing.MockClock) -> None:
    fed = Fed()
    staff(fed, 0, "a1")
    hub = make_hub(fed, max_events=4)
    fast: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hub.run)
        with hub.subscribe(ADMIN) as slow, hub.subscribe(ADMIN) as quick:
            nursery.start_soon(collect, quick, fast)
            await trio.sleep(0.1)  # between two cycles: each cycle sees one change
            for i in range(40):  # 10 s of changes, one every 250 ms; the slow one reads nothing
                fed(trio.current_time(), AgentNotReady("a1", f"reason-{i}"))
                await trio.sleep(0.25)
            assert (slow.replaced, slow.dropped) == (39, 36)
            mail = [json.loads(f) for f in await slow.take()]
            nursery.cancel_scope.cancel()
    assert len(mail) == 5  # at most 4 events, and one snapshot: the newest
    assert mail[-1]["type"] == "snapshot" and mail[-1]["agents"]["a1"]["reason"] == "reason-39"
    assert [f["changes"][0]["reason"] for f in mail[:-1]] == [f"reason-{i}" for i in range(36, 40)]
    assert len(snapshots(fast)) == 40  # the quick one got a frame for every change


async def test_agent_fragments_are_serialised_once_per_change(autojump_clock: trio.testing.MockClock) -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a2")
    hub = make_hub(fed)
    with hub.subscribe(ADMIN):
        hub.publish()
        before = dict(hub._agent_json)
        fed(1, AgentNotReady("a2", "lunch"))
        hub.publish()
    assert hub._agent_json["a1"] is before["a1"] and hub._agent_json["a2"] is not before["a2"]
    assert hub.frames_built == 2 and hub.last_build_s >= 0.0


async def test_a_failing_cycle_is_logged_and_the_next_one_runs(autojump_clock: trio.testing.MockClock) -> None:
    fed = Fed()
    hub = make_hub(fed)
    broken = [True]
    real = fed.live.snapshot

    def snapshot(now: float, **kwargs: Any) -> dict[str, Any]:
        if broken[0]:
            broken[0] = False
            raise RuntimeError("a bug in the figures")
        return real(now, **kwargs)

    fed.live.snapshot = snapshot  # type: ignore[method-assign]
    async with publishing(hub) as frames:
        await trio.sleep(0.3)
        fed(trio.current_time(), ContactArrived("c1", queue="sales"))
        await trio.sleep(0.3)
    assert hub.errors == 1 and snapshots(frames)[-1]["queues"]["sales"]["waiting"] == 1
