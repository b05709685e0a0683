"""A small WebSocket client for the tests: wsproto over ``trio.open_tcp_stream``, JSON frames."""

from __future__ import annotations

import json
from typing import Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


class WsClient:
    """``async with WsClient.connect(port, path) as ws``: ``send(frame)``, ``receive() -> frame``, ``expect(type)``."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.inbox: list[Any] = []
        self.closed = False
        self._partial = ""
        self.stash: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int, path: str) -> WsClient:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await client._send_event(Request(host=f"127.0.0.1:{port}", target=path))
        while True:
            for event in await client._events():
                if isinstance(event, AcceptConnection):
                    return client
                if isinstance(event, RejectConnection):
                    raise ConnectionError(f"upgrade of {path} rejected: {event.status_code}")

    async def __aenter__(self) -> WsClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _send_event(self, event: Any) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def _events(self) -> list[Any]:
        data = await self.stream.receive_some(65536)
        if not data:
            self.closed = True
            raise ConnectionError("connection closed by the server")
        self.ws.receive_data(data)
        out = []
        for event in self.ws.events():
            if isinstance(event, Ping):
                await self._send_event(event.response())
            elif isinstance(event, CloseConnection):
                self.closed = True
                if self.ws.state.name != "CLOSED":
                    await self.stream.send_all(self.ws.send(event.response()))
            out.append(event)
        return out

    async def send_text(self, text: str) -> None:
        await self._send_event(TextMessage(data=text))

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        while not self.inbox:
            for event in await self._events():
                if isinstance(event, TextMessage):
                    self._partial += event.data
                    if event.message_finished:
                        self.inbox.append(json.loads(self._partial))
                        self._partial = ""
                elif isinstance(event, CloseConnection):
                    raise ConnectionError(f"closed by the server: {event.code} {event.reason}")
        return self.inbox.pop(0)  # type: ignore[no-any-return]

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The first frame of type ``kind`` whose fields equal ``match``; frames skipped are kept for later calls
        (frames of two tasks, an ack and a push, may come in either order)."""
        for i, frame in enumerate(self.stash):
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return self.stash.pop(i)
        while True:
            frame = await self.receive()
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self.stash.append(frame)

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next frame, which must be of type ``kind`` (a frame of another type fails the test)."""
        frame = await self.receive()
        assert frame["type"] == kind, f"expected a {kind!r} frame, got {frame}"
        return frame

    async def close(self) -> None:
        if not self.closed:
            try:
                await self._send_event(CloseConnection(code=1000))
            except (trio.BrokenResourceError, trio.ClosedResourceError, Exception):
                pass
            self.closed = True
        await self.stream.aclose()
