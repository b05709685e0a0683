"""MediaPool: placement, a worker's death (its legs reported failed, a new worker in its place), clean shutdown."""

from __future__ import annotations

import os
import signal

import pytest
import trio

from tests.webrtc_gateway.conftest import Calls, next_event, pool_with_calls
from tests.webrtc_gateway.peers import AsyncioThread
from webrtc_gateway.pool import MediaError, open_media_pool


def gone(pid: int) -> bool:
    """True when no process (not even a zombie) has this id."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "X"
    except FileNotFoundError:
        return True


async def test_legs_go_to_the_least_loaded_worker_or_near_another(peers: AsyncioThread) -> None:
    async with pool_with_calls(peers, 2) as (pool, calls):
        await calls.leg("c1")
        await calls.leg("c2")
        assert {pool.worker_of("c1"), pool.worker_of("c2")} == {0, 1}
        await calls.leg("a1", near="c1")
        assert pool.worker_of("a1") == pool.worker_of("c1")
        assert sorted(pool.load()) == [1, 2]
        await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
        with pytest.raises(MediaError, match="already in bridge k1"):
            await pool.request({"t": "bridge", "bridge": "k2", "a": "c2", "b": "a1"})
        stats = await pool.request({"t": "stats"})
        assert (stats["legs"], stats["bridges"], len(stats["workers"])) == (3, 1, 2)


async def test_a_dead_worker_fails_its_legs_and_is_replaced(peers: AsyncioThread) -> None:
    async with pool_with_calls(peers, 1) as (pool, calls):
        await calls.leg("c1")
        await calls.leg("a1")
        await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
        [pid] = pool.pids()
        os.kill(pid, signal.SIGKILL)
        failed = {(await next_event(pool, "leg.state", state="failed"))["leg"] for _ in range(2)}
        assert failed == {"c1", "a1"}
        with pytest.raises(MediaError, match="unknown leg c1"):
            await pool.request({"t": "leg.close", "leg": "c1"})
        with trio.fail_after(10):
            while not pool.pids() or pool.pids() == [pid]:
                await trio.sleep(0.05)
        assert gone(pid)
        await calls.leg("c2")  # the new worker takes legs
        assert pool.worker_of("c2") == 0


async def test_shutdown_leaves_no_process_behind(peers: AsyncioThread) -> None:
    async with open_media_pool(2) as pool:
        calls = Calls(pool, peers)
        await calls.leg("c1")
        pids = pool.pids()
        assert len(pids) == 2 and not any(gone(pid) for pid in pids)
    assert all(gone(pid) for pid in pids)
    await calls.close()


async def test_legs_of_different_workers_are_bridged_through_the_trunk(peers: AsyncioThread, tmp_path: object
                                                                      ) -> None:
    import wave

    import numpy as np

    from tests.webrtc_gateway.peers import levels
    from tests.webrtc_gateway.test_media_calls import AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ, TONES, hears

    async with pool_with_calls(peers, 2) as (pool, calls):
        caller, _ = await calls.leg("c1", CALLER_HZ)
        agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
        supervisor, _ = await calls.leg("s1", SUPERVISOR_HZ, role="supervisor", near="a1")
        assert pool.worker_of("c1") != pool.worker_of("a1") == pool.worker_of("s1")
        path = f"{tmp_path}/k1.wav"
        assert await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1", "record": path}) == \
            {"passthrough": True}
        assert await hears(calls, caller) == {AGENT_HZ}
        assert await hears(calls, agent) == {CALLER_HZ}
        await pool.request({"t": "supervise", "bridge": "k1", "leg": "s1", "mode": "whisper"})
        assert await hears(calls, agent) == {CALLER_HZ, SUPERVISOR_HZ}
        assert await hears(calls, caller) == {AGENT_HZ}
        assert await hears(calls, supervisor) == {CALLER_HZ, AGENT_HZ}
        await pool.request({"t": "supervise", "bridge": "k1", "leg": "s1", "mode": "barge"})
        assert await hears(calls, caller) == {AGENT_HZ, SUPERVISOR_HZ}
        await pool.request({"t": "unsupervise", "bridge": "k1", "leg": "s1"})
        assert await hears(calls, supervisor) == set()
        await calls.thread.call(agent.send_keys("7"))  # the leg's own worker still decodes its key presses
        assert (await next_event(pool, "dtmf", leg="a1"))["digit"] == "7"

        await pool.request({"t": "leg.close", "leg": "a1"})  # the remote side hangs up: the bridge ends
        done = await next_event(pool, "record.done", bridge="k1")
        with wave.open(done["path"]) as wav:
            frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
        assert levels(frames[len(frames) // 4:, 1], TONES, 16000)[AGENT_HZ] > 0.3
        with pytest.raises(MediaError, match="unknown bridge"):
            await pool.request({"t": "unbridge", "bridge": "k1"})
        await pool.request({"t": "bridge", "bridge": "k2", "a": "c1", "b": "s1"})  # s1 was un-exported
        assert await hears(calls, caller) == {SUPERVISOR_HZ}
        stats = {w["index"]: w for w in (await pool.request({"t": "stats"}))["workers"]}
        assert stats[pool.worker_of("s1")]["decoders"] == 0  # mixes and recording were made at the home
        assert stats[pool.worker_of("c1")]["decoders"] == 3
