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

Requests from sockets are the desks': ``agents`` (``webrtc_gateway.agent_desk``), ``callers``
(``webrtc_gateway.caller_desk``, also the calls out to web callers) and ``supervision``
(``webrtc_gateway.supervisor_desk``). Each checks a request against who sent it (the agent of the session, the
socket that owns the call, the supervisor's teams) and answers with frames; ``FrameError`` (bad input) propagates
to the socket, which sends the error and closes; engine refusals (``AcdError``) and call refusals (``CallError``)
become ``error`` frames with the socket left open. The desks use the gateway's ``apply``, ``request``,
``leg_request``, ``submit`` and its socket tables.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import trio

from engine.errors import SwitchboardError
from engine.events import (
    AgentDisconnected,
    ContactArrived,
    Event,
)
from webrtc_gateway.agent_desk import AgentDesk
from webrtc_gateway.caller_desk import CallerDesk
from webrtc_gateway.calls import CallError, Calls, Digits, Effect, Media, Ring, Send, Submit
from webrtc_gateway.frames import FrameError, error
from webrtc_gateway.lanes import Lanes
from webrtc_gateway.pool import MediaError
from webrtc_gateway.prompts import Prompts, ivr_prompts, missing
from webrtc_gateway.sessions import Session, SessionTable
from webrtc_gateway.settings import Settings
from webrtc_gateway.sockets import CHANNEL, CLOSE_KEY, Socket
from webrtc_gateway.supervisor_desk import SupervisorDesk

__all__ = ["CHANNEL", "CLOSE_KEY", "Gateway", "MediaError", "MediaPort", "Socket"]

log = logging.getLogger("switchboard.webrtc")

COMMAND_TIMEOUT_S = 10.0
"""The longest a media command may take before it counts as failed."""


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
        self._wakeup = trio.Event()
        self.ids = itertools.count(1)
        self.agents = AgentDesk(self)
        self.callers = CallerDesk(self)
        self.supervision = SupervisorDesk(self)
        self.running = False

    # --------------------------------------------------------------------------------------------- life ----

    async def run(self, *, task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (the IVR service, the media events, the timers); then every leg is closed."""
        await trio.to_thread.run_sync(self.prompts.prepare)
        if self.ivr_config is not None:
            unrecorded = missing(self.prompts, ivr_prompts(self.ivr_config))
            if unrecorded:  # they play as a chime, or in another language: the operator should know
                log.warning("IVR prompts with no recording in their language: %s", ", ".join(unrecorded))
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
                await self.request({"t": "leg.close", "leg": leg})
            except MediaError:
                pass
        for sock in [*self.agent_sockets.values(), *self.supervisors.values(),
                     *{id(s): s for s in self.caller_sockets.values()}.values()]:
            self.close_socket(sock, 1001, "unavailable", "the gateway is stopping")

    def now(self) -> float:
        return float(self.runtime.now())

    # ----------------------------------------------------------------------------------------- effects ----

    def apply(self, effects: list[Effect], key: str) -> None:
        """Carry out ``effects`` (see ``webrtc_gateway.calls``): frames and wake-ups now, media commands and
        engine events in ``key``'s lane, in order."""
        jobs: list[Callable[[], Awaitable[object]]] = []
        for effect in effects:
            if isinstance(effect, Send):
                self.deliver(effect.to, effect.frame)
            elif isinstance(effect, Digits):
                waiter = self._waiters.get(effect.contact_id)
                if waiter is not None:
                    waiter.set()
            elif isinstance(effect, Ring):
                if self.lanes is not None:
                    self.lanes.push(effect.contact_id, lambda e=effect: self.callers.ring(e))  # type: ignore[misc]
            elif isinstance(effect, Media):
                jobs.append(lambda cmd=effect.cmd: self.command(cmd))  # type: ignore[misc]
            elif isinstance(effect, Submit):
                jobs.append(lambda e=effect: self.submit(e.event, e.to))  # type: ignore[misc]
        if jobs and self.lanes is not None:
            for job in jobs:
                self.lanes.push(key, job)
        self.rearm()

    async def command(self, cmd: dict[str, Any]) -> None:
        log.debug("media %s", cmd)
        try:
            await self.request(cmd)
        except MediaError as exc:
            log.info("media %s (%s) failed: %s", cmd.get("t"), cmd.get("leg") or cmd.get("bridge"), exc)

    async def request(self, cmd: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        with trio.move_on_after(COMMAND_TIMEOUT_S):
            return await self.media.request(cmd, near=near)
        raise MediaError(f"{cmd.get('t')}: no answer from the media worker in {COMMAND_TIMEOUT_S} s")

    async def leg_request(self, cmd: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        """A command answering a browser's SDP: the worker's refusal is the browser's bad input (unless the
        media plane itself is missing: no worker, no answer)."""
        try:
            return await self.request(cmd, near=near)
        except MediaError as exc:
            text = str(exc)
            if any(word in text for word in ("no answer", "no media worker", "is gone", "not running",
                                             "unknown leg")):
                raise CallError("unavailable", f"media: {text}") from None
            raise FrameError("bad-sdp", f"the media worker refused the description: {text}") from None

    def leg_options(self) -> dict[str, Any]:
        """The fields every new leg gets: ICE servers and the media watchdog's timeout."""
        return {"ice": self.settings.ice(), "media_timeout": self.settings.media_timeout_s}

    async def submit(self, event: Event, to: str = "engine") -> bool:
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

    def close_socket(self, sock: Socket, code: int, err: str, reason: str) -> None:
        try:
            sock.send.send_nowait({**error(err, reason), CLOSE_KEY: code})
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        sock.send.close()

    # ------------------------------------------------------------------------------------------ timers ----

    def rearm(self) -> None:
        """A deadline may have moved (a session, a call): the timer task looks again."""
        self._wakeup.set()

    async def _timer_loop(self) -> None:
        while True:
            rearm = self._wakeup = trio.Event()
            deadlines = [d for d in (self.sessions.next_deadline(), self.calls.next_deadline()) if d is not None]
            if not deadlines:
                await rearm.wait()
                continue
            with trio.move_on_at(self.runtime.trio_deadline(min(deadlines))):
                await rearm.wait()
                continue
            now = max(self.now(), min(deadlines))
            for session in self.sessions.expire(now):
                self.session_over(session, "grace-expired")
            self.apply(self.calls.tick(now), "timers")

    def session_over(self, session: Session, reason: str, *, disconnect: bool = True) -> None:
        """A session is over (its grace passed, or a newer one replaced it): the line closes and the engine's rule
        applies to the agent's contacts (``AgentDisconnected``)."""
        log.info("agent %s: session %s over (%s)", session.agent_id, session.id, reason)
        sock = self.agent_sockets.get(session.agent_id)
        if sock is not None and sock.session_id == session.id:
            del self.agent_sockets[session.agent_id]
            self.close_socket(sock, 4409, "replaced", "this session was taken over")
        lane = self.lane_of(session.agent_id)
        self.apply(self.calls.forget_line(session.agent_id), lane)
        if disconnect and self.lanes is not None:
            self.lanes.push(session.agent_id, lambda: self.disconnect_agent(session.agent_id))

    async def disconnect_agent(self, agent_id: str) -> None:
        state = self.runtime.acd.agent_state(agent_id)[0] if agent_id in self.runtime.acd.agents else "logged-out"
        if state != "logged-out":
            await self.submit(AgentDisconnected(agent_id))

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
            self.supervision.media_event(owner[1], event)

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
        self.apply(self.calls.line_state(agent_id, up), self.lane_of(agent_id))

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

    # -------------------------------------------------------------------------------------------- data ----

    def lane_of(self, agent_id: str) -> str:
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
