"""The gateway's WebSockets on the admin API's server (``docs/gateway.md``, "Signalling"):
``/webrtc/ws/agent/<agent_id>``, ``/webrtc/ws/caller`` and ``/webrtc/ws/supervisor``.

The blueprint reaches the admin API through the ``channel_blueprints`` hook (the admin API never imports this
package). Each socket is a loop: receive a frame, check it (``webrtc_gateway.frames.parse``), hand it to the
running ``Gateway`` and queue its answers on the socket's outbox, which a second task drains (so answers and the
gateway's own frames keep one order). Bad input (``FrameError``: oversized, malformed, unknown, a bad SDP, a
candidate flood) is answered with its error frame and the socket is closed with 4400; nothing else is touched.
A frame the gateway queues with a close code (``gateway.CLOSE_KEY``: a session taken over, the gateway
stopping) is sent and the socket closed with that code.

Staff sockets authenticate as every staff socket does (``admin_api.api.ws_authenticate``): the agent socket for
the agent of its path (or an admin), the supervisor socket for supervisors and admins (team scope is checked per
request). The caller socket is anonymous, like the chat widget's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from quart import Blueprint, websocket

from admin_api.api import socket_route, ws_authenticate
from admin_api.app import engine_handle
from admin_api.auth import ANYONE, STAFF
from webrtc_gateway.frames import (
    AGENT_FRAMES,
    CALLER_FRAMES,
    SUPERVISOR_FRAMES,
    Fields,
    FrameError,
    error,
    parse,
)
from webrtc_gateway.gateway import Gateway
from webrtc_gateway.sessions import SessionError
from webrtc_gateway.sockets import CLOSE_KEY, Socket

log = logging.getLogger("switchboard.webrtc")

blueprint = Blueprint("webrtc", __name__)

BAD_INPUT = 4400
UNAVAILABLE = 4503

Handler = Callable[[Socket, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


async def _gateway() -> Gateway | None:
    """The running gateway; ``None`` after telling the socket it is not running here (and closing it)."""
    plugin = engine_handle().plugins.pm.get_plugin("webrtc")
    gateway = getattr(plugin, "gateway", None)
    if isinstance(gateway, Gateway) and gateway.running:
        return gateway
    await _refuse("unavailable", "the WebRTC gateway is not running on this server", UNAVAILABLE)
    return None


async def _refuse(code: str, reason: str, close: int) -> None:
    await websocket.send(json.dumps(error(code, reason)))
    await websocket.close(close, reason[:120])


async def _pump(sock: Socket, done: trio.CancelScope) -> None:
    """Send the outbox's frames in order; a frame with a close code closes the socket (and ends its loop)."""
    async for frame in sock.receive:
        code = frame.pop(CLOSE_KEY, None)
        await websocket.send(json.dumps(frame))
        if code is not None:
            await websocket.close(code, str(frame.get("reason", ""))[:120])
            break
    done.cancel()


async def _serve(sock: Socket, allowed: dict[str, Fields], handle: Handler) -> None:
    """The socket's loop (see the module docstring); returns when either side closes it."""
    bad: FrameError | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_pump, sock, nursery.cancel_scope)
        while bad is None:
            text = await websocket.receive()
            try:
                replies = await handle(sock, parse(text, allowed))
            except FrameError as exc:
                bad = exc
                nursery.cancel_scope.cancel()
                break
            for reply in replies:
                try:
                    await sock.send.send(reply)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    break
    if bad is not None:
        log.info("%s socket %s: bad input (%s): %s", sock.kind, sock.id, bad.code, bad)
        sock.send.close()
        await _refuse(bad.code, str(bad), BAD_INPUT)


async def _run(sock: Socket, hello: dict[str, Any], allowed: dict[str, Fields], handle: Handler,
               disconnect: Callable[[Socket], None]) -> None:
    """Greet, serve the socket's frames until it closes, then let the gateway know (shielded)."""
    try:
        await websocket.send(json.dumps(hello))
        await _serve(sock, allowed, handle)
    finally:
        with trio.CancelScope(shield=True):
            disconnect(sock)


async def _first(allowed: dict[str, Fields]) -> dict[str, Any] | None:
    """The first frame after authentication; ``None`` after refusing bad input."""
    try:
        return parse(await websocket.receive(), allowed)
    except FrameError as bad:
        await _refuse(bad.code, str(bad), BAD_INPUT)
        return None


# ---------------------------------------------------------------------------------------------- agent ----

@blueprint.websocket(socket_route("/webrtc/ws/agent/<agent_id>", ANYONE))
async def agent_ws(agent_id: str) -> None:
    await websocket.accept()
    principal = await ws_authenticate(ANYONE)
    if principal is None:
        return
    if principal.role != "admin" and principal.agent_id != agent_id:
        await websocket.send(json.dumps({"type": "error", "status": 403, "code": "forbidden",
                                         "reason": f"this token does not act as agent {agent_id!r}"}))
        await websocket.close(4403, "not this agent")
        return
    gateway = await _gateway()
    if gateway is None:
        return
    if agent_id not in gateway.runtime.acd.agents:
        await _refuse("unknown", f"no agent {agent_id!r}", 4404)
        return
    first = await _first(AGENT_FRAMES)
    if first is None:
        return
    if first["type"] != "session":
        await _refuse("bad-frame", 'the first frame must be {"type": "session", "resume"?}', BAD_INPUT)
        return
    try:
        sock, hello = await gateway.agents.connect(agent_id, first.get("resume"))
    except SessionError as exc:
        await _refuse(exc.code, str(exc), 4403)
        return
    await _run(sock, hello, AGENT_FRAMES, gateway.agents.request, gateway.agents.disconnect)


# --------------------------------------------------------------------------------------------- caller ----

@blueprint.websocket("/webrtc/ws/caller")
async def caller_ws() -> None:
    await websocket.accept()
    gateway = await _gateway()
    if gateway is None:
        return
    sock, hello = gateway.callers.connect()
    await _run(sock, hello, CALLER_FRAMES, gateway.callers.request, gateway.callers.disconnect)


# ----------------------------------------------------------------------------------------- supervisor ----

@blueprint.websocket(socket_route("/webrtc/ws/supervisor", STAFF))
async def supervisor_ws() -> None:
    await websocket.accept()
    principal = await ws_authenticate(STAFF)
    if principal is None:
        return
    gateway = await _gateway()
    if gateway is None:
        return
    sock, hello = gateway.supervision.connect(principal)
    await _run(sock, hello, SUPERVISOR_FRAMES, gateway.supervision.request, gateway.supervision.disconnect)
