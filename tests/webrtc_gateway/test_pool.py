"""MediaPool: placement, a worker's death (its legs reported failed, a new worker in its place), clean shutdown."""

from __future__ import annotations

import os
import signal

import pytest
import trio

from tests.webrtc_gateway.conftest import Calls, next_event
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
    async with open_media_pool(2) as pool:
        calls = Calls(pool, peers)
        try:
            await calls.leg("c1")
            await calls.leg("c2")
            assert {pool.worker_of("c1"), pool.worker_of("c2")} == {0, 1}
            await calls.leg("a1", near="c1")
            assert pool.worker_of("a1") == pool.worker_of("c1")
            assert sorted(pool.load()) == [1, 2]
            await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
            with pytest.raises(MediaError, match="different media workers"):
                await pool.request({"t": "bridge", "bridge": "k2", "a": "c2", "b": "a1"})
            stats = await pool.request({"t": "stats"})
            assert (stats["legs"], stats["bridges"], len(stats["workers"])) == (3, 1, 2)
        finally:
            with trio.CancelScope(shield=True):
                await calls.close()


async def test_a_dead_worker_fails_its_legs_and_is_replaced(peers: AsyncioThread) -> None:
    async with open_media_pool(1) as pool:
        calls = Calls(pool, peers)
        try:
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
        finally:
            with trio.CancelScope(shield=True):
                await calls.close()


async def test_shutdown_leaves_no_process_behind(peers: AsyncioThread) -> None:
    async with open_media_pool(2) as pool:
        calls = Calls(pool, peers)
        await calls.leg("c1")
        pids = pool.pids()
        assert len(pids) == 2 and not any(gone(pid) for pid in pids)
    assert all(gone(pid) for pid in pids)
    await calls.close()
