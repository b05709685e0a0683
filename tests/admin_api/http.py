"""A small HTTP/1.1 client for the tests (h11 over trio, one connection per request): the server under test is the
real one, on loopback."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

import h11
import trio


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def reason(self) -> str:
        return str(self.json().get("reason", ""))


class HttpClient:
    """``await client.get("/v1/queues", token=...)`` etc. against ``127.0.0.1:port``."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def as_(self, token: str | None) -> HttpClient:
        return HttpClient(self.port, token)

    async def request(self, method: str, path: str, *, json: Any = None, body: bytes | str | None = None,
                      content_type: str | None = None, headers: dict[str, str] | None = None,
                      token: str | None = ...) -> Reply:  # type: ignore[assignment]
        bearer = self.token if token is ... else token
        if json is not None:
            body = jsonlib.dumps(json).encode()
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode()
        head = [("Host", f"127.0.0.1:{self.port}"), ("Connection", "close")]
        if bearer:
            head.append(("Authorization", f"Bearer {bearer}"))
        if content_type:
            head.append(("Content-Type", content_type))
        if body is not None:
            head.append(("Content-Length", str(len(body))))
        head.extend((headers or {}).items())
        conn = h11.Connection(h11.CLIENT)
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        try:
            await stream.send_all(conn.send(h11.Request(method=method, target=path, headers=head)))
            if body:
                await stream.send_all(conn.send(h11.Data(data=body)))
            await stream.send_all(conn.send(h11.EndOfMessage()))
            status, reply_headers, chunks = 0, {}, []
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                    reply_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
            return Reply(status, reply_headers, b"".join(chunks))
        finally:
            await stream.aclose()

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.request("PATCH", path, json=json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, json=json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)
