"""A running gateway for the tests: the engine (journaled runtime, real clock: sockets and media are real), the
store, the plugins (an IVR in front of web callers), the admin API on loopback with the gateway's sockets, the
``webrtc`` plugin running on a real ``MediaPool``, and browser stand-ins (``tests.webrtc_gateway.peers``) that
speak the signalling protocol through ``tests.admin_api.wsclient.WsClient``.

Agents a1, a2 (team east, skill support), a3 (team west, skill sales); the supervisor oversees east.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

from admin_api import EngineHandle, create_app, serve
from admin_api.auth import create_token
from engine.batch_writer import CdrWriter
from engine.center import Center
from engine.config import parse_config
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from engine.serve import _attach_dialer_sinks
from engine.store import SqliteStore
from plugins.host import PluginHost
from plugins.manager import PluginManager
from tests.admin_api.wsclient import WsClient
from tests.webrtc_gateway.peers import AsyncioThread, Peer, levels
from webrtc_gateway.gateway import Gateway

CENTER: dict[str, Any] = {
    "skills": ["support", "sales"],
    "agents": [
        {"id": "a1", "name": "Ann", "skills": {"support": 5}, "teams": ["east"]},
        {"id": "a2", "name": "Bob", "skills": {"support": 3}, "teams": ["east"]},
        {"id": "a3", "name": "Cid", "skills": {"sales": 5}, "teams": ["west"]},
    ],
    "queues": [
        {"id": "support", "skills": {"support": 1}, "wrap_up_s": 60, "ring_timeout_s": 20},
        {"id": "sales", "skills": {"sales": 1}, "wrap_up_s": 60},
    ],
}
IVR = """
entry = "main"
[menus.main]
prompt = "main-menu"
timeout_s = 8
retries = 1
default = { queue = "support" }
[menus.main.options]
1 = { queue = "support" }
2 = { queue = "sales" }
"""
CALLER_HZ, AGENT_HZ, OTHER_HZ, SUPERVISOR_HZ = 440.0, 1000.0, 1700.0, 2300.0
TONES = (CALLER_HZ, AGENT_HZ, OTHER_HZ, SUPERVISOR_HZ)
TIMEOUT_S = 30.0
"""Deadline of a whole exchange in these tests (real sockets and media on loopback)."""


@dataclass
class Call:
    """An agent and a web caller talking: each side's socket and peer, the agent's session, the contact."""

    agent_ws: WsClient
    agent: Peer
    session: dict[str, Any]
    caller_ws: WsClient
    caller: Peer
    contact: str


@dataclass
class Gw:
    """The running server: its port, tokens per role, the gateway, the runtime, the store, the peers' thread."""

    port: int
    tokens: dict[str, str]
    gateway: Gateway
    runtime: Runtime
    store: SqliteStore
    thread: AsyncioThread
    cdrs: CdrWriter
    data_dir: Path
    engine: EngineHandle
    sockets: list[WsClient] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)

    async def socket(self, path: str) -> WsClient:
        ws = await WsClient.open(self.port, path)
        self.sockets.append(ws)
        return ws

    async def peer(self, tone_hz: float | None = None) -> Peer:
        async def make() -> Peer:
            return Peer(tone_hz)

        peer = await self.thread.call(make())
        self.peers.append(peer)
        return peer

    async def agent(self, agent_id: str, tone_hz: float | None, *, token: str | None = None,
                    resume: str | None = None, ready: bool = True) -> tuple[WsClient, Peer, dict[str, Any]]:
        """An agent desktop: its socket (authenticated, a session), its line (a peer answered and connected) and,
        with ``ready``, available."""
        ws = await self.socket(f"/webrtc/ws/agent/{agent_id}")
        await ws.send({"type": "auth", "token": token or self.tokens[agent_id]})
        await ws.expect("authenticated")
        await ws.send({"type": "session", **({"resume": resume} if resume else {})})
        session = await ws.expect("session")
        peer = await self.line(ws, tone_hz)
        if ready:
            await ws.send({"type": "state", "state": "available"})
            await ws.next("ack", of="state")
        return ws, peer, session

    async def line(self, ws: WsClient, tone_hz: float | None = None, peer: Peer | None = None) -> Peer:
        peer = peer or await self.peer(tone_hz)
        await ws.send({"type": "offer", "sdp": await self.thread.call(peer.offer())})
        answer = await ws.next("answer")
        await self.thread.call(peer.accept(answer["sdp"]))
        await self.thread.call(peer.connected())
        return peer

    async def caller(self, tone_hz: float | None, **call: Any) -> tuple[WsClient, Peer, str]:
        """A web caller: its socket, its peer (connected) and its contact id."""
        ws = await self.socket("/webrtc/ws/caller")
        await ws.expect("hello")
        peer = await self.peer(tone_hz)
        await ws.send({"type": "call", "sdp": await self.thread.call(peer.offer()), **call})
        answer = await ws.next("answer")
        await self.thread.call(peer.accept(answer["sdp"]))
        await self.thread.call(peer.connected())
        return ws, peer, answer["contact_id"]

    async def connect_call(self, agent_ws: WsClient, tone_hz: float | None, *, key: str = "1",
                           **call: Any) -> tuple[WsClient, Peer, str]:
        """A web caller who presses ``key`` in the IVR and is accepted by the agent of ``agent_ws``."""
        caller_ws, caller, contact = await self.caller(tone_hz, **call)
        await self.thread.call(caller.send_keys(key))
        await agent_ws.next("offer-contact", contact_id=contact)
        await agent_ws.send({"type": "accept", "contact_id": contact})
        await agent_ws.next("connected", contact_id=contact)
        return caller_ws, caller, contact

    async def on_call(self, agent_id: str = "a1") -> Call:
        """An agent (``AGENT_HZ``) on a call with a web caller (``CALLER_HZ``) who went through the IVR."""
        agent_ws, agent, session = await self.agent(agent_id, AGENT_HZ)
        caller_ws, caller, contact = await self.connect_call(agent_ws, CALLER_HZ)
        return Call(agent_ws, agent, session, caller_ws, caller, contact)

    async def staff(self, path: str, role: str, greeting: str | None = None) -> WsClient:
        """A staff socket authenticated with ``role``'s token (and its ``greeting`` frame read)."""
        ws = await self.socket(path)
        await ws.send({"type": "auth", "token": self.tokens[role]})
        await ws.expect("authenticated")
        if greeting is not None:
            await ws.expect(greeting)
        return ws

    async def hears(self, peer: Peer, seconds: float = 0.4) -> set[float]:
        """The test tones ``peer`` hears now (what came before is forgotten)."""
        await self.thread.call(peer.forget())
        pcm = await self.thread.call(peer.heard(seconds))
        if len(pcm) < seconds * 48000 / 2:
            return set()
        return {f for f, share in levels(pcm, TONES).items() if share > 0.2}

    async def until_hears(self, peer: Peer, tones: set[float]) -> None:
        """Wait (bounded by the caller's deadline) until ``peer`` hears exactly ``tones``."""
        while await self.hears(peer) != tones:
            await trio.sleep(0.05)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for peer in self.peers:
            await self.thread.call(peer.close())


@asynccontextmanager
async def running_gateway(tmp_path: Path, thread: AsyncioThread, *, workers: int = 1, ivr: bool = True,
                          settings: dict[str, Any] | None = None,
                          center: dict[str, Any] | None = None) -> AsyncIterator[Gw]:
    config: dict[str, Any] = {"plugins": {"webrtc": {"loopback": True, "workers": workers, **(settings or {})}}}
    if ivr:
        menus = tmp_path / "ivr.toml"
        menus.write_text(IVR, encoding="utf-8")
        config["plugins"]["ivr"] = {"menus": str(menus)}
    center_config = parse_config(center or CENTER, "test")
    runtime = Runtime(Center.build(center_config), Journal.open(tmp_path / "journal", fsync="never"),
                      TrioClock.wall())
    store = SqliteStore(tmp_path / "store.sqlite3")
    tokens = {"admin": create_token(store, "t-admin", "admin")[0],
              "supervisor": create_token(store, "t-sup", "supervisor", teams=["east"])[0],
              "west-supervisor": create_token(store, "t-sup-w", "supervisor", teams=["west"])[0],
              **{a: create_token(store, f"t-{a}", "agent", agent_id=a)[0] for a in ("a1", "a2", "a3")}}
    manager = PluginManager(config, autoload=False)
    manager.configure(strict=True)
    host = PluginHost(manager, store, config)
    dispatcher = host.attach(runtime)
    compliance = _attach_dialer_sinks(runtime, host)  # the dialer's compliance questions answered, as in serve
    cdrs = CdrWriter(store, every_s=0.05)
    runtime.add_sink(cdrs)
    dispatcher.on_record = cdrs.amend
    engine = EngineHandle(runtime, manager, config, dispatcher=dispatcher, store=store)
    plugin = manager.pm.get_plugin("webrtc")
    settings_now = plugin.wanted(default_on=False)
    assert settings_now is not None
    gw: Gw | None = None
    try:
        async with runtime.running(), trio.open_nursery() as nursery:
            await nursery.start(dispatcher.run)
            await compliance.resume(runtime.acd)
            await nursery.start(cdrs.run)
            gateway = await nursery.start(partial(plugin.run, runtime, manager, settings_now, tmp_path,
                                                  dispatcher=dispatcher))
            urls = await nursery.start(serve, create_app(engine), "127.0.0.1", 0)
            gw = Gw(int(urls[0].rsplit(":", 1)[1]), tokens, gateway, runtime, store, thread, cdrs, tmp_path, engine)
            try:
                yield gw
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(10):
                    await gw.close()
                nursery.cancel_scope.cancel()
    finally:
        store.close()
