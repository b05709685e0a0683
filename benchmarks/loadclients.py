"""Load clients for ``switchboard bench api``: HTTP/1.1 keep-alive (h11) and WebSocket (wsproto), on trio, loopback.

``HttpConnection`` is one keep-alive connection: ``request`` sends one request and reads the whole answer, and
opens the connection again when the server closed it (the next request pays for the reconnection, and says so).
``WsConnection`` opens a WebSocket, sends JSON text frames and yields those it receives. ``Latencies`` keeps the samples of one route
and gives their percentiles. Nothing here knows the Switchboard API: ``benchmarks.api`` says what to ask.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import h11
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, Request, TextMessage

RECEIVE = 65536


class HttpConnection:
    """One HTTP/1.1 keep-alive connection to ``127.0.0.1:port``, sending ``Authorization: Bearer token``."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.stream: trio.SocketStream | None = None
        self.conn = h11.Connection(h11.CLIENT)
        self.connects = 0

    async def _connect(self) -> trio.SocketStream:
        if self.stream is not None and self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return self.stream
        if self.stream is None or self.conn.our_state is not h11.IDLE:
            await self.close()
            self.stream = await trio.open_tcp_stream("127.0.0.1", self.port)
            self.conn = h11.Connection(h11.CLIENT)
            self.connects += 1
        return self.stream

    async def request(self, method: str, target: str, body: Any = None) -> tuple[int, bytes]:
        """Send one request (``body``: JSON-able, or ``None``); return the status and the body. Raises
        ``OSError`` / ``trio.BrokenResourceError`` / ``h11.ProtocolError`` when the connection fails (it is
        dropped and the next request reconnects)."""
        stream = await self._connect()
        data = None if body is None else json.dumps(body).encode()
        headers = [("Host", f"127.0.0.1:{self.port}"), ("Authorization", f"Bearer {self.token}")]
        if data is not None:
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        try:
            out = self.conn.send(h11.Request(method=method, target=target, headers=headers))
            if data is not None:
                out += self.conn.send(h11.Data(data=data))
            await stream.send_all(out + self.conn.send(h11.EndOfMessage()))
            status, chunks = 0, []
            while True:
                event = self.conn.next_event()
                if event is h11.NEED_DATA:
                    self.conn.receive_data(await stream.receive_some(RECEIVE))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return status, b"".join(chunks)
                elif isinstance(event, h11.ConnectionClosed):
                    raise trio.BrokenResourceError("the server closed the connection mid-answer")
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            with trio.CancelScope(shield=True):
                await stream.aclose()


class WsConnection:
    """A WebSocket client: ``ws = await WsConnection.open(port, path)``, then ``async with ws``, ``ws.send(frame)``
    and ``ws.frames()``."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)

    @classmethod
    async def open(cls, port: int, path: str) -> WsConnection:
        """Connect and upgrade; ``ConnectionError`` naming the status when the server refuses the upgrade."""
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        try:
            await client.stream.send_all(client.ws.send(Request(host=f"127.0.0.1:{port}", target=path)))
            while True:
                client.ws.receive_data(await client.stream.receive_some(RECEIVE) or None)
                for event in client.ws.events():
                    if isinstance(event, AcceptConnection):
                        return client
                    if isinstance(event, RejectConnection):
                        raise ConnectionError(f"{path}: upgrade refused with {event.status_code}")
                    if isinstance(event, CloseConnection):
                        raise ConnectionError(f"{path}: closed during the upgrade")
        except BaseException:
            await client.stream.aclose()
            raise

    async def send(self, frame: dict[str, Any]) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(data=json.dumps(frame))))

    async def __aenter__(self) -> WsConnection:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        with trio.CancelScope(shield=True):
            await self.stream.aclose()

    async def frames(self) -> AsyncGenerator[dict[str, Any], None]:
        """The JSON text frames, until the server closes (use under ``contextlib.aclosing``)."""
        partial = ""
        while True:
            data = await self.stream.receive_some(RECEIVE)
            if not data:
                return
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, Ping):
                    await self.stream.send_all(self.ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    return
                elif isinstance(event, TextMessage):
                    partial += event.data
                    if event.message_finished:
                        yield json.loads(partial)
                        partial = ""


class Latencies:
    """The latencies (seconds) and outcomes of one kind of request."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.errors: Counter[str] = Counter()

    def add(self, seconds: float, error: str | None = None) -> None:
        self.samples.append(seconds)
        if error is not None:
            self.errors[error] += 1

    def merge(self, other: Latencies) -> None:
        self.samples += other.samples
        self.errors.update(other.errors)

    def summary(self, seconds: float, scale: float = 1000.0) -> dict[str, Any]:
        """``count``, ``per_s`` over ``seconds``, ``p50``/``p90``/``p99``/``max`` (times ``scale``: ms by
        default) and ``errors`` by kind."""
        ordered = sorted(self.samples)
        out: dict[str, Any] = {"count": len(ordered), "per_s": round(len(ordered) / seconds, 1) if seconds else 0.0}
        for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
            out[name] = round(percentile(ordered, q) * scale, 2) if ordered else None
        out["max"] = round(ordered[-1] * scale, 2) if ordered else None
        out["errors"] = dict(sorted(self.errors.items()))
        return out


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted samples (nearest rank)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def now() -> float:
    """The monotonic clock the latencies are measured with."""
    return time.perf_counter()
