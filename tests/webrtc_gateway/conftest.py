"""Fixtures for the gateway's media tests: one asyncio thread of browser stand-ins per session, a pool per test,
and ``connect``: a peer, its leg, and both ends connected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from tests.webrtc_gateway.peers import AsyncioThread, Peer
from webrtc_gateway.pool import MediaPool, open_media_pool


@pytest.fixture(scope="session")
def peers() -> Iterator[AsyncioThread]:
    thread = AsyncioThread()
    yield thread
    thread.close()


@pytest.fixture
async def pool() -> AsyncIterator[MediaPool]:
    async with open_media_pool(1) as media_pool:
        yield media_pool


class Calls:
    """Creates peers and their legs on a pool; closes the peers at the end of the test."""

    def __init__(self, pool: MediaPool, thread: AsyncioThread) -> None:
        self.pool = pool
        self.thread = thread
        self.peers: list[Peer] = []

    async def peer(self, tone_hz: float | None = None, **options: Any) -> Peer:
        async def make() -> Peer:
            return Peer(tone_hz, **options)

        peer = await self.thread.call(make())
        self.peers.append(peer)
        return peer

    async def leg(self, leg: str, tone_hz: float | None = None, *, role: str = "caller", near: str | None = None,
                  codecs: tuple[str, ...] = ("opus", "PCMU", "telephone-event"), **fields: Any
                  ) -> tuple[Peer, dict[str, Any]]:
        """A peer sending ``tone_hz``, its leg ``leg`` answered by the gateway, connected both ways."""
        peer = await self.peer(tone_hz, codecs=codecs)
        offer = await self.thread.call(peer.offer())
        answer = await self.pool.request({"t": "leg.offer", "leg": leg, "sdp": offer, "role": role,
                                          "ice": {"loopback": True}, **fields}, near=near)
        await self.thread.call(peer.accept(answer["sdp"]))
        await self.thread.call(peer.connected())
        return peer, answer

    async def close(self) -> None:
        for peer in self.peers:
            await self.thread.call(peer.close())


@asynccontextmanager
async def calls_on(pool: MediaPool, peers: AsyncioThread) -> AsyncIterator[Calls]:
    """``Calls`` on ``pool``, whose peers are closed when the block is left."""
    made = Calls(pool, peers)
    try:
        yield made
    finally:
        with trio.CancelScope(shield=True):
            await made.close()


@asynccontextmanager
async def pool_with_calls(peers: AsyncioThread, workers: int) -> AsyncIterator[tuple[MediaPool, Calls]]:
    """A pool of ``workers`` and ``Calls`` on it, for the block."""
    async with open_media_pool(workers) as media_pool, calls_on(media_pool, peers) as made:
        yield media_pool, made


@pytest.fixture
async def calls(pool: MediaPool, peers: AsyncioThread) -> AsyncIterator[Calls]:
    async with calls_on(pool, peers) as made:
        yield made


async def next_event(pool: MediaPool, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
    """The next event of ``kind`` whose fields include ``match`` (others are skipped)."""
    with trio.fail_after(timeout):
        async for event in pool.events:
            if event["t"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
    raise AssertionError("the pool's event channel closed")
