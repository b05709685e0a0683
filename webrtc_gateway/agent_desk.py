"""The agent desktop's requests (``/webrtc/ws/agent/<agent_id>``): sessions, the phone line, the engine's events
(ready, accept, hang up, transfer, wrap-up) and the gateway's own call controls (hold, mute, consultation).

``AgentDesk(gateway)`` is the agent socket's side of ``webrtc_gateway.gateway.Gateway``: every request is checked
against the agent of the session that sent it (``Calls.check_agent``: a browser never acts on another agent's
call) and answered with frames; engine refusals (``AcdError``) and call refusals (``CallError``) are ``error``
frames, bad input (``FrameError``) closes the socket.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from engine.dialer_events import ScheduleCallback
from engine.errors import AcdError
from engine.events import (
    AgentHungUp,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    Event,
    OfferAccepted,
    OfferDeclined,
    TransferRequested,
    WrapUpDone,
)
from webrtc_gateway.calls import CallError
from webrtc_gateway.frames import AGENT_STATES, FrameError, error
from webrtc_gateway.sockets import Socket, leg_id, open_socket

if TYPE_CHECKING:
    from webrtc_gateway.gateway import Gateway


class AgentDesk:
    """See the module docstring."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    async def connect(self, agent_id: str, resume: str | None) -> tuple[Socket, dict[str, Any]]:
        """A socket authenticated as ``agent_id`` opens or resumes its session: the socket and its ``session``
        frame. ``SessionError`` for another agent's session. A new session of an agent who had one ends the
        older: the engine's rule applies to it before this call returns (so the new page's requests follow)."""
        opened = self.g.sessions.open(agent_id, resume, self.g.now())
        sock = open_socket("agent", next(self.g.ids), agent_id=agent_id, session_id=opened.session.id,
                           ticket=opened.ticket)
        old = self.g.agent_sockets.get(agent_id)
        if old is not None:
            self.g.close_socket(old, 4409, "replaced", "a newer socket took this session")
        self.g.agent_sockets[agent_id] = sock
        if opened.ended is not None:
            self.g.session_over(opened.ended, "replaced", disconnect=False)
            await self.g.disconnect_agent(agent_id)
        self.g.rearm()
        frame = {"type": "session", "id": opened.session.id, "resumed": opened.resumed,
                 "call": self.g.calls.call_of(agent_id) if opened.resumed else None, "line": opened.session.line,
                 "grace_s": self.g.settings.grace_s, "ice_servers": self.g.settings.ice_servers()}
        return sock, frame

    def disconnect(self, sock: Socket) -> None:
        """The agent's socket closed: the session's grace starts (if this socket still held it)."""
        if self.g.agent_sockets.get(sock.agent_id) is sock:
            del self.g.agent_sockets[sock.agent_id]
        self.g.sessions.detach(sock.session_id, sock.ticket, self.g.now())
        self.g.rearm()

    def present(self, agent_id: str) -> bool:
        return self.g.sessions.holds(agent_id)

    async def request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """One frame from an agent's socket; the frames answering it (an ack, an answer, a refusal)."""
        if not self.g.sessions.current(sock.session_id, sock.ticket):
            raise FrameError("bad-frame", "this socket no longer holds the session")
        kind = frame["type"]
        agent = sock.agent_id
        contact: str = frame.get("contact_id") or ""  # the frames that need one were checked to have it
        ack: dict[str, Any] = {"type": "ack", "of": kind}
        if contact:
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
                self.g.calls.check_agent(agent, contact)
                take = kind == "accept" or (kind == "preview" and frame["dial"])
                await self._engine(OfferAccepted(agent, contact) if take else OfferDeclined(agent, contact))
            elif kind in ("hold", "unhold"):
                self.g.apply(self.g.calls.hold(agent, contact, kind == "hold"), contact)
            elif kind in ("mute", "unmute"):
                self.g.apply(self.g.calls.mute(agent, contact, kind == "mute"), contact)
            elif kind == "hangup":
                self.g.calls.check_agent(agent, contact)
                await self._engine(AgentHungUp(agent, contact))
            elif kind == "transfer":
                await self._transfer(agent, frame)
            elif kind in ("consult-complete", "consult-cancel"):
                self.g.apply(self.g.calls.consult_end(agent, contact, kind == "consult-complete"), contact)
            elif kind in ("consult-accept", "consult-decline"):
                self.g.apply(self.g.calls.consult_answer(agent, contact, kind == "consult-accept"), contact)
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
        await self.g.runtime.submit(event)

    async def _agent_state(self, agent: str, state: str, reason: str) -> None:
        if state not in AGENT_STATES:
            raise CallError("refused", f"state: {state!r} is not one of {', '.join(AGENT_STATES)}")
        if state == "available":
            try:
                await self.g.runtime.submit(AgentLogin(agent))
            except AcdError:
                pass  # already logged in
            await self.g.runtime.submit(AgentReady(agent))
        elif state == "not-ready":
            await self.g.runtime.submit(AgentNotReady(agent, reason))
        else:
            await self.g.runtime.submit(AgentLogout(agent))

    async def _transfer(self, agent: str, frame: dict[str, Any]) -> None:
        contact, to_queue, to_agent = frame["contact_id"], frame.get("to_queue"), frame.get("to_agent")
        if (to_queue is None) == (to_agent is None):
            raise CallError("refused", "transfer: give exactly one of to_queue and to_agent")
        self.g.calls.check_agent(agent, contact)
        if not frame.get("consult"):
            await self.g.runtime.submit(TransferRequested(agent, contact, to_queue=to_queue, to_agent=to_agent))
            return
        if to_agent is None:
            raise CallError("refused", "a consultative transfer goes to an agent (to_agent)")
        self.g.apply(self.g.calls.consult(agent, contact, to_agent, self._can_consult(to_agent)), contact)

    def _can_consult(self, agent_id: str) -> bool:
        """An agent with a session, a line, no call of ours and available in the engine."""
        line = self.g.calls.lines.get(agent_id)
        if line is None or line.leg is None or line.contact or line.consulting:
            return False
        acd = self.g.runtime.acd
        return agent_id in acd.agents and acd.agent_state(agent_id)[0] == "available" and \
            self.g.sessions.holds(agent_id)

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
        await self.g.runtime.submit(WrapUpDone(agent, contact, frame["disposition"], frame.get("notes") or ""))
        if schedule is not None:
            await self.g.runtime.submit(schedule)

    def _contact_data(self, contact_id: str) -> dict[str, Any]:
        caller = self.g.calls.caller(contact_id)
        if caller is not None and caller.data:
            return caller.data
        contact = self.g.runtime.acd.contacts.get(contact_id)
        data = getattr(contact, "data", None)
        return data if isinstance(data, dict) else {}

    async def _line_offer(self, sock: Socket, sdp: str) -> dict[str, Any]:
        """The agent's line: a new leg for every offer (the first, a reloaded page's new peer connection, a line
        whose worker died); a live call moves to it (``Calls.line_leg``: the old leg closes, the caller is bridged
        to the new one, its recording goes on in a new segment). The new leg is placed near the live call's."""
        agent = sock.agent_id
        line = self.g.calls.lines.get(agent)
        live = self.g.calls.caller(line.contact) if line is not None and line.contact else None
        leg = leg_id("agent")
        result = await self.g.leg_request({"t": "leg.offer", "leg": leg, "sdp": sdp, "role": "agent",
                                          **self.g.leg_options()},
                                         near=live.leg if live is not None and live.leg else None)
        if not self.g.sessions.current(sock.session_id, sock.ticket):  # replaced meanwhile: not its line any more
            await self.g.command({"t": "leg.close", "leg": leg})
            raise CallError("refused", "this socket no longer holds the session")
        self.g.apply(self.g.calls.line_leg(agent, leg), self.g.lane_of(agent))
        self.g.sessions.set_line(sock.session_id, "none", self.g.now())  # up when its media connects
        return {"type": "answer", "sdp": result["sdp"]}
