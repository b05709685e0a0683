"""The gateway's trio side: sessions, calls and sockets put together with the engine, the IVR and the media.

Theory of operation
-------------------
``Gateway`` is started by the ``webrtc`` plugin (``await nursery.start(gateway.run)``) once the engine runs. It
owns:

- ``calls`` (``webrtc_gateway.calls.Calls``, sans-IO): what every call hears and who is on it; its effects are
  carried out here, each call's in its own lane (``webrtc_gateway.lanes``): media commands and engine events
  in order, frames at once;
- ``sessions`` (``webrtc_gateway.sessions.SessionTable``, sans-IO): agents' sessions; a session whose grace
  passes ends: its line is closed and ``AgentDisconnected`` submitted (the engine re-queues its contacts at the
  head of their queues);
- the sockets' outboxes (a trio memory channel per socket, drained by ``webrtc_gateway.signalling``): frames
  for agents go to the socket holding the agent's session, frames for callers to the socket that made or answered
  the call, frames for supervisors to theirs;
- the media (``MediaPort``: ``request(cmd) -> result``, ``events()``): the pool of media workers. Its events are
  routed by leg: a caller's to ``calls``, an agent line's to the session (line up / lost), a supervisor's to its
  supervision;
- the IVR (``plugins.builtin.ivr.IvrService`` over the ``ivr`` plugin's menus) that web callers enter; what it
  routes is submitted to the engine and the caller hears hold music from then on;
- a timer task firing the sessions' grace deadlines and the calls' timers (engine time, ``runtime.now()``).

Requests from sockets (``agent_request``, ``caller_request``, ``supervisor_request``) are checked here against
who sent them (the agent of the session, the socket that owns the call) and answered with frames; ``FrameError``
(bad input) propagates to the socket, which sends the error and closes. Engine refusals (``AcdError``) and call
refusals (``CallError``) become ``error`` frames with the socket left open.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trio

from engine.dialer_events import Dial, DropCall, PlayMessage, ScheduleCallback
from engine.errors import AcdError, SwitchboardError
from engine.events import (
    AgentDisconnected,
    AgentHungUp,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    ContactArrived,
    Event,
    OfferAccepted,
    OfferDeclined,
    TransferRequested,
    WrapUpDone,
)
from engine.ivr_events import CallerEntered
from webrtc_gateway.calls import WEBRTC_PREFIX, CallError, Calls, Digits, Effect, Media, Ring, Send, Submit
from webrtc_gateway.frames import AGENT_STATES, CandidateBudget, FrameError, error
from webrtc_gateway.lanes import Lanes
from webrtc_gateway.pool import MediaError
from webrtc_gateway.prompts import Prompts
from webrtc_gateway.sessions import Session, SessionTable
from webrtc_gateway.settings import Settings

log = logging.getLogger("switchboard.webrtc")

CHANNEL = "voice"
OUTBOX_SIZE = 500
COMMAND_TIMEOUT_S = 10.0
"""The longest a media command may take before it counts as failed."""
CLOSE_KEY = "_close"
"""A frame carrying this key (a WebSocket close code) makes its socket send it and close."""


class MediaPort(Protocol):
    """What the gateway needs of the media pool (``webrtc_gateway.pool.MediaPool``)."""

    events: trio.MemoryReceiveChannel[dict[str, Any]]
    """Every worker event (``leg.state``, ``dtmf``, ...), in order per worker; a dead worker's legs come as
    ``leg.state failed``."""

    async def request(self, command: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        """Carry out one command (``webrtc_gateway.protocol``, without ``rid``); its result, or ``MediaError``.
        A new leg goes ``near`` another leg's worker when asked."""

    def worker_of(self, leg: str) -> int | None:
        """The worker holding ``leg`` (``None``: unknown)."""


@dataclass(eq=False)
class Socket:
    """One signalling socket: its outbox and what it is allowed to touch."""

    kind: str  # agent | caller | supervisor
    id: str
    send: trio.MemorySendChannel[dict[str, Any]]
    receive: trio.MemoryReceiveChannel[dict[str, Any]]
    budget: CandidateBudget = field(default_factory=CandidateBudget)
    agent_id: str = ""
    session_id: str = ""
    ticket: int = 0
    calls: set[str] = field(default_factory=set)  # a caller socket's contacts / outbound calls
    address: str = ""
    principal: Any = None
    supervising: str = ""  # a supervisor socket's agent
    joining: tuple[str, str] | None = None  # (leg, mode) of a supervision waiting for its leg to connect


def _leg_id(role: str) -> str:
    return f"{role[0]}-{secrets.token_hex(8)}"


class Gateway:
    """See the module docstring. ``runtime``: the engine's ``Runtime``; ``manager``: the ``PluginManager``;
    ``media``: the ``MediaPort``; ``data_dir``: where recordings and generated prompts go; ``ivr_config``: the
    IVR's menus (``None``: callers go straight to ``settings.default_queue``); ``track``: the channel
    dispatcher's ``track`` (so it knows our contacts' channel)."""

    def __init__(self, settings: Settings, runtime: Any, manager: Any, media: MediaPort, data_dir: str | Path, *,
                 ivr_config: Any = None, track: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.manager = manager
        self.media = media
        self.data_dir = Path(data_dir)
        self.ivr_config = ivr_config if settings.ivr else None
        self.track = track
        recordings = self.data_dir / settings.recordings
        self.recordings = recordings
        self.prompts = Prompts(self.data_dir / settings.prompts, self.data_dir / "prompts-generated")
        self.calls = Calls(self.prompts, record_path=self._record_path if settings.record else None,
                           surveyed=self._surveyed)
        self.sessions = SessionTable(grace_s=settings.grace_s)
        self.ivr: Any = None
        self.lanes: Lanes | None = None
        self.agent_sockets: dict[str, Socket] = {}  # agent -> the socket holding its session
        self.caller_sockets: dict[str, Socket] = {}  # contact / call id -> its caller's socket
        self.registered: dict[str, Socket] = {}  # address -> the socket that registered it
        self.supervisors: dict[str, Socket] = {}
        self._waiters: dict[str, trio.Event] = {}
        self._rearm = trio.Event()
        self._ids = itertools.count(1)
        self.running = False

    # --------------------------------------------------------------------------------------------- life ----

    async def run(self, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (the IVR service, the media events, the timers); then every leg is closed."""
        await trio.to_thread.run_sync(self.prompts.prepare)
        self.recordings.mkdir(parents=True, exist_ok=True)
        async with trio.open_nursery() as nursery:
            self.lanes = Lanes(nursery)
            if self.ivr_config is not None:
                from engine.ivr import Ivr
                from plugins.builtin.ivr.service import IvrService

                self.ivr = IvrService(Ivr(self.ivr_config), self.manager, self._from_ivr, clock=self.runtime.clock)
                await nursery.start(self.ivr.run)
            nursery.start_soon(self._media_events)
            nursery.start_soon(self._timer_loop)
            self.running = True
            task_status.started(self)
            try:
                await trio.sleep_forever()
            finally:
                self.running = False
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._close_all()

    async def _close_all(self) -> None:
        legs = list(self.calls.by_leg)
        for leg in legs:
            try:
                await self._request({"t": "leg.close", "leg": leg})
            except MediaError:
                pass
        for sock in [*self.agent_sockets.values(), *self.supervisors.values(),
                     *{id(s): s for s in self.caller_sockets.values()}.values()]:
            self._close(sock, 1001, "unavailable", "the gateway is stopping")

    def now(self) -> float:
        return float(self.runtime.now())

    # ----------------------------------------------------------------------------------------- effects ----

    def apply(self, effects: list[Effect], key: str) -> None:
        """Carry out ``effects`` (see ``webrtc_gateway.calls``): frames and wake-ups now, media commands and
        engine events in ``key``'s lane, in order."""
        jobs: list[Callable[[], Awaitable[None]]] = []
        for effect in effects:
            if isinstance(effect, Send):
                self.deliver(effect.to, effect.frame)
            elif isinstance(effect, Digits):
                waiter = self._waiters.get(effect.contact_id)
                if waiter is not None:
                    waiter.set()
            elif isinstance(effect, Ring):
                if self.lanes is not None:
                    self.lanes.push(effect.contact_id, lambda e=effect: self._ring(e))  # type: ignore[misc]
            elif isinstance(effect, Media):
                jobs.append(lambda cmd=effect.cmd: self._command(cmd))  # type: ignore[misc]
            elif isinstance(effect, Submit):
                jobs.append(lambda e=effect: self._submit(e.event, e.to))  # type: ignore[misc]
        if jobs and self.lanes is not None:
            for job in jobs:
                self.lanes.push(key, job)
        self._rearm.set()

    async def _command(self, cmd: dict[str, Any]) -> None:
        log.debug("media %s", cmd)
        try:
            await self._request(cmd)
        except MediaError as exc:
            log.info("media %s (%s) failed: %s", cmd.get("t"), cmd.get("leg") or cmd.get("bridge"), exc)

    async def _request(self, cmd: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        with trio.move_on_after(COMMAND_TIMEOUT_S):
            return await self.media.request(cmd, near=near)
        raise MediaError(f"{cmd.get('t')}: no answer from the media worker in {COMMAND_TIMEOUT_S} s")

    async def _submit(self, event: Event, to: str = "engine") -> bool:
        try:
            if to == "ivr":
                if self.ivr is not None:
                    await self.ivr.submit(event)
            else:
                await self.runtime.submit(event)
            return True
        except (SwitchboardError, RuntimeError) as exc:  # refused, or the runtime is shutting down
            log.info("%s refused: %s", type(event).__name__, exc)
            return False

    def deliver(self, to: tuple[str, str], frame: dict[str, Any]) -> None:
        kind, key = to
        sock = (self.agent_sockets if kind == "agent" else self.caller_sockets if kind == "caller"
                else self.supervisors).get(key)
        if sock is None:
            return
        try:
            sock.send.send_nowait(frame)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            log.warning("frame %s for %s %s dropped (socket gone or too slow)", frame.get("type"), kind, key)

    def _close(self, sock: Socket, code: int, err: str, reason: str) -> None:
        try:
            sock.send.send_nowait({**error(err, reason), CLOSE_KEY: code})
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        sock.send.close()

    # ------------------------------------------------------------------------------------------ timers ----

    async def _timer_loop(self) -> None:
        while True:
            rearm = self._rearm = trio.Event()
            deadlines = [d for d in (self.sessions.next_deadline(), self.calls.next_deadline()) if d is not None]
            if not deadlines:
                await rearm.wait()
                continue
            with trio.move_on_at(self.runtime.trio_deadline(min(deadlines))):
                await rearm.wait()
                continue
            now = max(self.now(), min(deadlines))
            for session in self.sessions.expire(now):
                self._session_over(session, "grace-expired")
            self.apply(self.calls.tick(now), "timers")

    def _session_over(self, session: Session, reason: str, *, disconnect: bool = True) -> None:
        """A session is over (its grace passed, or a newer one replaced it): the line closes and the engine's rule
        applies to the agent's contacts (``AgentDisconnected``)."""
        log.info("agent %s: session %s over (%s)", session.agent_id, session.id, reason)
        sock = self.agent_sockets.get(session.agent_id)
        if sock is not None and sock.session_id == session.id:
            del self.agent_sockets[session.agent_id]
            self._close(sock, 4409, "replaced", "this session was taken over")
        lane = self._lane_of(session.agent_id)
        self.apply(self.calls.forget_line(session.agent_id), lane)
        if disconnect and self.lanes is not None:
            self.lanes.push(session.agent_id, lambda: self._disconnect(session.agent_id))

    async def _disconnect(self, agent_id: str) -> None:
        state = self.runtime.acd.agent_state(agent_id)[0] if agent_id in self.runtime.acd.agents else "logged-out"
        if state != "logged-out":
            await self._submit(AgentDisconnected(agent_id))

    # ------------------------------------------------------------------------------------------- media ----

    async def _media_events(self) -> None:
        async for event in self.media.events:
            try:
                self._media_event(event)
            except Exception:
                log.exception("media event %s could not be handled", event.get("t"))

    def _media_event(self, event: dict[str, Any]) -> None:
        log.debug("media event %s", event)
        kind = event.get("t")
        if kind == "record.done":
            log.info("recording %s done: %.1f s", event.get("path"), event.get("seconds", 0.0))
            return
        owner = self.calls.by_leg.get(event.get("leg", ""))
        if owner is None:
            return
        now = self.now()
        if owner[0] == "caller":
            self.apply(self.calls.media_event(event, now), owner[1])
        elif owner[0] == "line":
            self._line_event(owner[1], event, now)
        elif owner[0] == "sup":
            self._supervisor_event(owner[1], event)

    def _supervisor_event(self, supervisor: str, event: dict[str, Any]) -> None:
        """A supervisor's leg: once connected it joins the call (joined before, it could miss the mix); lost, the
        supervision ends."""
        kind, state = event.get("t"), event.get("state")
        sock = self.supervisors.get(supervisor)
        if kind == "leg.state" and state == "connected":
            if sock is None or sock.joining is None:
                return
            leg, mode = sock.joining
            sock.joining = None
            call = self.calls.call_of(sock.supervising)
            try:  # in the call's lane: after its bridge, before its end
                self.apply(self.calls.supervise(supervisor, sock.supervising, leg, mode),
                           call["contact_id"] if call else supervisor)
            except CallError as exc:
                self._end_supervision(sock, leg, str(exc))
        elif kind == "leg.media_lost" or (kind == "leg.state" and state in ("failed", "closed")):
            key = self.calls.supervising(supervisor) or supervisor
            self.apply(self.calls.unsupervise(supervisor), key)
            if sock is not None:
                if sock.joining is not None:
                    self._end_supervision(sock, sock.joining[0], "media-lost")
                sock.supervising = ""
                self.deliver(("supervisor", supervisor), {"type": "ended", "contact_id": None,
                                                          "reason": "media-lost"})

    def _end_supervision(self, sock: Socket, leg: str, reason: str) -> None:
        """A supervision that never joined (the call ended meanwhile, its leg failed): its leg closes."""
        sock.joining, sock.supervising = None, ""
        self.calls.by_leg.pop(leg, None)
        self.apply([Media({"t": "leg.close", "leg": leg})], sock.id)
        self.deliver(("supervisor", sock.id), {"type": "ended", "contact_id": None, "reason": reason})

    def _line_event(self, agent_id: str, event: dict[str, Any], now: float) -> None:
        session = self.sessions.of_agent(agent_id)
        kind, state = event.get("t"), event.get("state")
        if kind == "leg.state" and state == "connected":
            up = True
        elif kind == "leg.media_lost" or (kind == "leg.state" and state in ("failed", "closed")):
            up = False
        else:
            return
        if session is not None:
            self.sessions.set_line(session.id, "up" if up else "lost", now)
        self.deliver(("agent", agent_id), {"type": "line", "state": "up" if up else "lost"})
        self.apply(self.calls.line_state(agent_id, up), self._lane_of(agent_id))

    # -------------------------------------------------------------------------------------------- IVR ----

    async def _from_ivr(self, arrival: ContactArrived) -> None:
        """The IVR routed a caller: the engine takes it (``AcdError`` goes back to the IVR service, which hangs
        the caller up), and the caller hears hold music."""
        if self.track is not None:
            self.track(arrival.contact_id, CHANNEL)
        await self.runtime.submit(arrival)
        self.apply(self.calls.routed(arrival.contact_id, arrival.queue or "", self.now()), arrival.contact_id)

    async def collect_digits(self, contact_id: str, max_digits: int, timeout_s: float) -> str:
        """``channel_collect_digits`` for a caller of ours: the digits typed (ahead, or within ``timeout_s``)."""
        got = self.calls.collect(contact_id, max_digits)
        if got is not None:
            return got
        waiter = self._waiters[contact_id] = trio.Event()
        try:
            with trio.move_on_after(timeout_s):
                await waiter.wait()
        finally:
            if self._waiters.get(contact_id) is waiter:
                del self._waiters[contact_id]
        return self.calls.collected(contact_id)

    # ---------------------------------------------------------------------------------- engine's hooks ----

    def on_action(self, method: Callable[[Any, float], list[Effect] | None], action: Any) -> bool | None:
        """One engine action for ``calls`` (``None``: not ours)."""
        effects = method(action, self.now())
        if effects is None:
            return None
        self.apply(effects, getattr(action, "contact_id", "") or getattr(action, "call_id", ""))
        return True

    def dial(self, action: Dial) -> None:
        """A dialer ``Dial`` to ``webrtc:ADDRESS`` (other numbers are not ours)."""
        if not action.number.startswith(WEBRTC_PREFIX) or self.lanes is None:
            return
        self.lanes.push(action.call_id, lambda: self._dial(action))

    async def _dial(self, action: Dial) -> None:
        address = action.number[len(WEBRTC_PREFIX):]
        sock = self.registered.get(address)
        if sock is None:
            self.apply(self.calls.dial_failed(action), action.call_id)
            return
        leg = _leg_id("caller")
        try:
            result = await self._request({"t": "leg.create_offer", "leg": leg, "role": "caller",
                                          **self._leg_options()})
        except MediaError as exc:
            log.warning("dial %s: no leg: %s", action.call_id, exc)
            self.apply(self.calls.dial_failed(action), action.call_id)
            return
        self.calls.add_caller(action.call_id, leg, inbound=False, phase="ringing", customer=action.number,
                              address=address, deadline=self.now() + action.timeout_s, dialer=True,
                              callback_number=action.number)
        sock.calls.add(action.call_id)
        self.caller_sockets[action.call_id] = sock
        self.deliver(("caller", action.call_id), {"type": "incoming", "call_id": action.call_id,
                                                  "sdp": result["sdp"], "from": action.caller_id})
        self._rearm.set()

    async def _ring(self, ring: Ring) -> None:
        """Ring a web caller for a contact an agent already has (a preview dial, a callback)."""
        sock = self.registered.get(ring.address)
        leg = _leg_id("caller")
        result = None
        if sock is not None:
            try:
                result = await self._request({"t": "leg.create_offer", "leg": leg, "role": "caller",
                                              **self._leg_options()})
            except MediaError as exc:
                log.warning("ringing %s for %s: %s", ring.address, ring.contact_id, exc)
        if sock is None or result is None:
            self.apply(self.calls.caller_gone(ring.contact_id, "unreachable", self.now()), ring.contact_id)
            return
        deadline = self.now() + self.settings.ring_timeout_s
        self.apply(self.calls.ringing(ring.contact_id, leg, ring.address, deadline), ring.contact_id)
        sock.calls.add(ring.contact_id)
        self.caller_sockets[ring.contact_id] = sock
        self.deliver(("caller", ring.contact_id), {"type": "incoming", "call_id": ring.contact_id,
                                                   "sdp": result["sdp"]})

    def dial_message(self, action: PlayMessage | DropCall) -> None:
        self.on_action(lambda a, now: self.calls.dial_message(a, now), action)

    # ------------------------------------------------------------------------------------------ agents ----

    async def agent_connect(self, agent_id: str, resume: str | None) -> tuple[Socket, dict[str, Any]]:
        """A socket authenticated as ``agent_id`` opens or resumes its session: the socket and its ``session``
        frame. ``SessionError`` for another agent's session. A new session of an agent who had one ends the
        older: the engine's rule applies to it before this call returns (so the new page's requests follow)."""
        opened = self.sessions.open(agent_id, resume, self.now())
        send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
        sock = Socket("agent", f"agent-{next(self._ids)}", send, receive, agent_id=agent_id,
                      session_id=opened.session.id, ticket=opened.ticket)
        old = self.agent_sockets.get(agent_id)
        if old is not None:
            self._close(old, 4409, "replaced", "a newer socket took this session")
        self.agent_sockets[agent_id] = sock
        if opened.ended is not None:
            self._session_over(opened.ended, "replaced", disconnect=False)
            await self._disconnect(agent_id)
        self._rearm.set()
        frame = {"type": "session", "id": opened.session.id, "resumed": opened.resumed,
                 "call": self.calls.call_of(agent_id) if opened.resumed else None, "line": opened.session.line,
                 "grace_s": self.settings.grace_s, "ice_servers": self.settings.ice_servers()}
        return sock, frame

    def agent_disconnect(self, sock: Socket) -> None:
        """The agent's socket closed: the session's grace starts (if this socket still held it)."""
        if self.agent_sockets.get(sock.agent_id) is sock:
            del self.agent_sockets[sock.agent_id]
        self.sessions.detach(sock.session_id, sock.ticket, self.now())
        self._rearm.set()

    def agent_present(self, agent_id: str) -> bool:
        return self.sessions.holds(agent_id)

    async def agent_request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """One frame from an agent's socket; the frames answering it (an ack, an answer, a refusal)."""
        if not self.sessions.current(sock.session_id, sock.ticket):
            raise FrameError("bad-frame", "this socket no longer holds the session")
        kind = frame["type"]
        agent = sock.agent_id
        contact = frame.get("contact_id")
        ack: dict[str, Any] = {"type": "ack", "of": kind}
        if contact is not None:
            ack["contact_id"] = contact
        try:
            if kind == "candidate":
                sock.budget.spend()
                return []
            if kind == "session":
                raise CallError("refused", "the session is already open")
            if kind == "offer":
                sock.budget.reset()
                return [await self._line_offer(sock, frame["sdp"])]
            if kind == "state":
                await self._agent_state(agent, frame["state"], frame.get("reason") or "break")
            elif kind in ("accept", "decline") or kind == "preview":
                self.calls.check_agent(agent, contact)
                take = kind == "accept" or (kind == "preview" and frame["dial"])
                await self._engine(OfferAccepted(agent, contact) if take else OfferDeclined(agent, contact))
            elif kind in ("hold", "unhold"):
                self.apply(self.calls.hold(agent, contact, kind == "hold"), contact)
            elif kind in ("mute", "unmute"):
                self.apply(self.calls.mute(agent, contact, kind == "mute"), contact)
            elif kind == "hangup":
                self.calls.check_agent(agent, contact)
                await self._engine(AgentHungUp(agent, contact))
            elif kind == "transfer":
                await self._transfer(agent, frame)
            elif kind in ("consult-complete", "consult-cancel"):
                self.apply(self.calls.consult_end(agent, contact, kind == "consult-complete"), contact)
            elif kind in ("consult-accept", "consult-decline"):
                self.apply(self.calls.consult_answer(agent, contact, kind == "consult-accept"), contact)
            elif kind == "wrap-up":
                await self._wrap_up(agent, frame)
            else:  # a type of AGENT_FRAMES with no handler
                raise CallError("refused", f"{kind}: not handled")
        except CallError as exc:
            return [error(exc.code, str(exc), of=kind, contact_id=contact)]
        except AcdError as exc:
            return [error("refused", str(exc), of=kind, contact_id=contact)]
        return [ack]

    async def _engine(self, event: Event) -> None:
        """Submit an agent's request; ``AcdError`` (refused) goes back to the agent."""
        await self.runtime.submit(event)

    async def _agent_state(self, agent: str, state: str, reason: str) -> None:
        if state not in AGENT_STATES:
            raise CallError("refused", f"state: {state!r} is not one of {', '.join(AGENT_STATES)}")
        if state == "available":
            try:
                await self.runtime.submit(AgentLogin(agent))
            except AcdError:
                pass  # already logged in
            await self.runtime.submit(AgentReady(agent))
        elif state == "not-ready":
            await self.runtime.submit(AgentNotReady(agent, reason))
        else:
            await self.runtime.submit(AgentLogout(agent))

    async def _transfer(self, agent: str, frame: dict[str, Any]) -> None:
        contact, to_queue, to_agent = frame["contact_id"], frame.get("to_queue"), frame.get("to_agent")
        if (to_queue is None) == (to_agent is None):
            raise CallError("refused", "transfer: give exactly one of to_queue and to_agent")
        self.calls.check_agent(agent, contact)
        if not frame.get("consult"):
            await self.runtime.submit(TransferRequested(agent, contact, to_queue=to_queue, to_agent=to_agent))
            return
        if to_agent is None:
            raise CallError("refused", "a consultative transfer goes to an agent (to_agent)")
        self.apply(self.calls.consult(agent, contact, to_agent, self._can_consult(to_agent)), contact)

    def _can_consult(self, agent_id: str) -> bool:
        """An agent with a session, a line, no call of ours and available in the engine."""
        line = self.calls.lines.get(agent_id)
        if line is None or line.leg is None or line.contact or line.consulting:
            return False
        acd = self.runtime.acd
        return agent_id in acd.agents and acd.agent_state(agent_id)[0] == "available" and \
            self.sessions.holds(agent_id)

    async def _wrap_up(self, agent: str, frame: dict[str, Any]) -> None:
        contact = frame["contact_id"]
        callback = frame.get("callback")
        schedule = None
        if callback is not None:
            at = callback.get("at")
            if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
                raise CallError("refused", "wrap-up: callback.at must be a time (Unix seconds)")
            data = self._contact_data(contact)
            if not data.get("campaign") or not data.get("lead"):
                raise CallError("refused", "wrap-up: a callback is scheduled on a campaign's lead; this contact "
                                           "has none")
            schedule = ScheduleCallback(str(data["campaign"]), str(data["lead"]), float(at), agent)
        await self.runtime.submit(WrapUpDone(agent, contact, frame["disposition"], frame.get("notes") or ""))
        if schedule is not None:
            await self.runtime.submit(schedule)

    def _contact_data(self, contact_id: str) -> dict[str, Any]:
        caller = self.calls.caller(contact_id)
        if caller is not None and caller.data:
            return caller.data
        contact = self.runtime.acd.contacts.get(contact_id)
        data = getattr(contact, "data", None)
        return data if isinstance(data, dict) else {}

    async def _line_offer(self, sock: Socket, sdp: str) -> dict[str, Any]:
        """The agent's line: a new leg for every offer (the first, a reloaded page's new peer connection, a line
        whose worker died); a live call moves to it (``Calls.line_leg``: the old leg closes, the caller is bridged
        to the new one, its recording goes on in a new segment). The new leg is placed near the live call's."""
        agent = sock.agent_id
        line = self.calls.lines.get(agent)
        live = self.calls.caller(line.contact) if line is not None and line.contact else None
        leg = _leg_id("agent")
        result = await self._leg_request({"t": "leg.offer", "leg": leg, "sdp": sdp, "role": "agent",
                                          **self._leg_options()},
                                         near=live.leg if live is not None and live.leg else None)
        if not self.sessions.current(sock.session_id, sock.ticket):  # replaced meanwhile: not its line any more
            await self._command({"t": "leg.close", "leg": leg})
            raise CallError("refused", "this socket no longer holds the session")
        self.apply(self.calls.line_leg(agent, leg), self._lane_of(agent))
        self.sessions.set_line(sock.session_id, "none", self.now())  # up when its media connects
        return {"type": "answer", "sdp": result["sdp"]}

    async def _leg_request(self, cmd: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        """A command answering a browser's SDP: the worker's refusal is the browser's bad input (unless the
        media plane itself is missing: no worker, no answer)."""
        try:
            return await self._request(cmd, near=near)
        except MediaError as exc:
            text = str(exc)
            if any(word in text for word in ("no answer", "no media worker", "is gone", "not running",
                                             "unknown leg")):
                raise CallError("unavailable", f"media: {text}") from None
            raise FrameError("bad-sdp", f"the media worker refused the description: {text}") from None

    def _leg_options(self) -> dict[str, Any]:
        """The fields every new leg gets: ICE servers and the media watchdog's timeout."""
        return {"ice": self.settings.ice(), "media_timeout": self.settings.media_timeout_s}

    # ----------------------------------------------------------------------------------------- callers ----

    def caller_connect(self) -> tuple[Socket, dict[str, Any]]:
        send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
        sock = Socket("caller", f"caller-{next(self._ids)}", send, receive)
        return sock, {"type": "hello", "ice_servers": self.settings.ice_servers()}

    async def caller_request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
        kind = frame["type"]
        try:
            if kind == "candidate":
                sock.budget.spend()
                return []
            if kind == "call":
                sock.budget.reset()
                return [await self._call(sock, frame)]
            if kind == "hangup":
                for contact in [c for c in sock.calls if self.calls.caller(c) is not None]:
                    self._caller_gone(sock, contact, "caller-hung-up")
                return []
            if kind == "register":
                address = frame["address"]
                old = self.registered.get(address)
                if old is not None and old is not sock:
                    old.address = ""
                if sock.address and self.registered.get(sock.address) is sock:
                    del self.registered[sock.address]
                self.registered[address] = sock
                sock.address = address
                return [{"type": "registered", "address": address}]
            if kind in ("answer-call", "decline-call"):
                call_id = frame["call_id"]
                caller = self.calls.caller(call_id)
                if call_id not in sock.calls or caller is None or caller.phase != "ringing":
                    raise CallError("unknown", f"no call {call_id!r} ringing here")
                if kind == "decline-call":
                    self._caller_gone(sock, call_id, "declined")
                    return []
                sock.budget.reset()
                await self._leg_request({"t": "leg.answer", "leg": caller.leg, "sdp": frame["sdp"]})
                self.apply(self.calls.answered(call_id, self.now()), call_id)
                return [{"type": "ack", "of": kind, "call_id": call_id}]
            raise CallError("refused", f"{kind}: not handled")
        except CallError as exc:
            return [error(exc.code, str(exc), of=kind)]

    async def _call(self, sock: Socket, frame: dict[str, Any]) -> dict[str, Any]:
        """A web caller calls in: a leg, then the IVR (or the default queue)."""
        if any(self.calls.caller(c) is not None and self.calls.caller(c).inbound for c in sock.calls):  # type: ignore[union-attr]
            raise CallError("refused", "this socket already has a call")
        contact_id = f"webrtc-{secrets.token_hex(8)}"
        leg = _leg_id("caller")
        result = await self._leg_request({"t": "leg.offer", "leg": leg, "sdp": frame["sdp"], "role": "caller",
                                          **self._leg_options()})
        caller = (frame.get("caller") or "").strip() or f"web:{contact_id[7:]}"
        callback = WEBRTC_PREFIX + sock.address if sock.address else caller if caller.startswith("+") else ""
        from plugins.builtin.crm.screen_pop import screen_pop

        pop = await screen_pop(self.manager, caller)
        phase = "ivr" if self.ivr is not None else "queued"
        self.calls.add_caller(contact_id, leg, inbound=True, phase=phase, customer=caller,
                              callback_number=callback, screen_pop=pop)
        sock.calls.add(contact_id)
        self.caller_sockets[contact_id] = sock
        if self.track is not None:
            self.track(contact_id, CHANNEL)
        answer = {"type": "answer", "sdp": result["sdp"], "contact_id": contact_id}
        if self.ivr is not None:
            entered = CallerEntered(contact_id, channel=CHANNEL, caller=caller, data={"source": "webrtc"})
            self.lanes.push(contact_id, lambda: self._submit(entered, "ivr"))  # type: ignore[union-attr]
        else:
            queue = frame.get("queue") or self.settings.default_queue
            arrival = ContactArrived(contact_id, channel=CHANNEL, queue=queue, customer=caller,
                                     data={"source": "webrtc"})
            self.lanes.push(contact_id, lambda: self._arrive(arrival))  # type: ignore[union-attr]
        return answer

    async def _arrive(self, arrival: ContactArrived) -> None:
        if await self._submit(arrival):
            self.apply(self.calls.routed(arrival.contact_id, arrival.queue or "", self.now()), arrival.contact_id)
        else:
            self.apply(self.calls.caller_gone(arrival.contact_id, "rejected", self.now()), arrival.contact_id)

    def _caller_gone(self, sock: Socket, contact_id: str, reason: str) -> None:
        self.apply(self.calls.caller_gone(contact_id, reason, self.now()), contact_id)

    def caller_disconnect(self, sock: Socket) -> None:
        """The caller's socket closed: its calls end, its address is no longer registered."""
        for contact in list(sock.calls):
            if self.calls.caller(contact) is not None:
                self._caller_gone(sock, contact, "socket-closed")
            if self.caller_sockets.get(contact) is sock:
                del self.caller_sockets[contact]
        if sock.address and self.registered.get(sock.address) is sock:
            del self.registered[sock.address]

    # ------------------------------------------------------------------------------------- supervisors ----

    def supervisor_connect(self, principal: Any) -> tuple[Socket, dict[str, Any]]:
        send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
        sock = Socket("supervisor", f"sup-{next(self._ids)}", send, receive, principal=principal)
        self.supervisors[sock.id] = sock
        return sock, {"type": "hello", "ice_servers": self.settings.ice_servers()}

    async def supervisor_request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
        kind = frame["type"]
        try:
            if kind == "supervise":
                return [await self._supervise(sock, frame["agent_id"], frame["mode"], frame["sdp"])]
            if kind == "mode":
                return [await self._switch_mode(sock, frame["mode"])]
            if kind == "stop":
                self._stop_supervision(sock)
                return [{"type": "ack", "of": kind}]
            raise CallError("refused", f"{kind}: not handled")
        except CallError as exc:
            return [error(exc.code, str(exc), of=kind)]

    def _check_mode(self, mode: str) -> None:
        from webrtc_gateway.protocol import SUPERVISION

        if mode not in SUPERVISION:
            raise CallError("refused", f"mode {mode!r} is not one of {', '.join(SUPERVISION)}")

    async def _supervise(self, sock: Socket, agent_id: str, mode: str, sdp: str) -> dict[str, Any]:
        self._check_mode(mode)
        acd = self.runtime.acd
        teams = acd.agents[agent_id].config.teams if agent_id in acd.agents else ()
        if agent_id not in acd.agents or not sock.principal.sees_agent(agent_id, teams):
            raise CallError("forbidden", f"you do not supervise agent {agent_id!r}")
        if sock.joining is not None or self.calls.supervising(sock.id):
            raise CallError("refused", "stop the current supervision first")
        if self.calls.call_of(agent_id) is None:
            raise CallError("refused", f"agent {agent_id!r} is not on a call")
        leg = _leg_id("supervisor")
        caller = self.calls.caller(self.calls.call_of(agent_id)["contact_id"])  # type: ignore[index]
        result = await self._leg_request({"t": "leg.offer", "leg": leg, "sdp": sdp, "role": "supervisor",
                                          **self._leg_options()}, near=caller.leg if caller else None)
        sock.supervising, sock.joining = agent_id, (leg, mode)  # joins once its leg connects
        self.calls.by_leg[leg] = ("sup", sock.id)
        return {"type": "answer", "sdp": result["sdp"], "contact_id": caller.contact_id if caller else None}

    async def _switch_mode(self, sock: Socket, mode: str) -> dict[str, Any]:
        self._check_mode(mode)
        if sock.joining is None and not self.calls.supervising(sock.id):
            raise CallError("refused", "not supervising")
        if sock.joining is not None:
            sock.joining = (sock.joining[0], mode)
        else:
            self.apply(self.calls.supervise_mode(sock.id, mode), self.calls.supervising(sock.id) or sock.id)
        return {"type": "ack", "of": "mode", "mode": mode}

    def _stop_supervision(self, sock: Socket) -> None:
        if sock.joining is not None:
            leg = sock.joining[0]
            self.calls.by_leg.pop(leg, None)
            self.apply([Media({"t": "leg.close", "leg": leg})], sock.id)
        key = self.calls.supervising(sock.id) or sock.id
        self.apply(self.calls.unsupervise(sock.id), key)
        sock.supervising, sock.joining = "", None

    def supervisor_disconnect(self, sock: Socket) -> None:
        self._stop_supervision(sock)
        self.supervisors.pop(sock.id, None)

    # -------------------------------------------------------------------------------------------- data ----

    def _lane_of(self, agent_id: str) -> str:
        """The lane of what concerns an agent's line: its live call's (so a re-bridge keeps its place among the
        call's commands), else the agent's own."""
        line = self.calls.lines.get(agent_id)
        return line.contact if line is not None and line.contact else agent_id

    def _record_path(self, contact_id: str, segment: int) -> str:
        name = contact_id if segment == 1 else f"{contact_id}-{segment}"
        safe = "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in name).replace(":", "_")
        return str(self.recordings / f"{safe}.wav")

    def _surveyed(self, queue: str) -> bool:
        config = self.runtime.acd.queues.get(queue)
        return bool(getattr(config, "survey", False))
