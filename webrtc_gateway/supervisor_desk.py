"""Supervisors (``/webrtc/ws/supervisor``): listen, whisper and barge on the call of an agent of their teams.

``SupervisorDesk(gateway)`` is the supervisor socket's side of ``webrtc_gateway.gateway.Gateway``. A supervisor's
leg joins the call once it is connected (``media_event``), in the call's lane (after its bridge); the team scope
is checked per request (``Principal.sees_agent``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webrtc_gateway.calls import CallError, Media
from webrtc_gateway.frames import error
from webrtc_gateway.protocol import SUPERVISION
from webrtc_gateway.sockets import Socket, leg_id, open_socket

if TYPE_CHECKING:
    from webrtc_gateway.gateway import Gateway


class SupervisorDesk:
    """See the module docstring."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    def media_event(self, supervisor: str, event: dict[str, Any]) -> None:
        """A supervisor's leg: once connected it joins the call (joined before, it could miss the mix); lost, the
        supervision ends."""
        kind, state = event.get("t"), event.get("state")
        sock = self.g.supervisors.get(supervisor)
        if kind == "leg.state" and state == "connected":
            if sock is None or sock.joining is None:
                return
            leg, mode = sock.joining
            sock.joining = None
            call = self.g.calls.call_of(sock.supervising)
            try:  # in the call's lane: after its bridge, before its end
                self.g.apply(self.g.calls.supervise(supervisor, sock.supervising, leg, mode),
                           call["contact_id"] if call else supervisor)
            except CallError as exc:
                self._end_supervision(sock, leg, str(exc))
        elif kind == "leg.media_lost" or (kind == "leg.state" and state in ("failed", "closed")):
            key = self.g.calls.supervising(supervisor) or supervisor
            self.g.apply(self.g.calls.unsupervise(supervisor), key)
            if sock is not None:
                if sock.joining is not None:
                    self._end_supervision(sock, sock.joining[0], "media-lost")
                sock.supervising = ""
                self.g.deliver(("supervisor", supervisor), {"type": "ended", "contact_id": None,
                                                          "reason": "media-lost"})

    def _end_supervision(self, sock: Socket, leg: str, reason: str) -> None:
        """A supervision that never joined (the call ended meanwhile, its leg failed): its leg closes."""
        sock.joining, sock.supervising = None, ""
        self.g.calls.by_leg.pop(leg, None)
        self.g.apply([Media({"t": "leg.close", "leg": leg})], sock.id)
        self.g.deliver(("supervisor", sock.id), {"type": "ended", "contact_id": None, "reason": reason})

    def connect(self, principal: Any) -> tuple[Socket, dict[str, Any]]:
        sock = open_socket("supervisor", next(self.g.ids), principal=principal)
        self.g.supervisors[sock.id] = sock
        return sock, {"type": "hello", "ice_servers": self.g.settings.ice_servers()}

    async def request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
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
        if mode not in SUPERVISION:
            raise CallError("refused", f"mode {mode!r} is not one of {', '.join(SUPERVISION)}")

    async def _supervise(self, sock: Socket, agent_id: str, mode: str, sdp: str) -> dict[str, Any]:
        self._check_mode(mode)
        acd = self.g.runtime.acd
        teams = acd.agents[agent_id].config.teams if agent_id in acd.agents else ()
        if agent_id not in acd.agents or not sock.principal.sees_agent(agent_id, teams):
            raise CallError("forbidden", f"you do not supervise agent {agent_id!r}")
        if sock.joining is not None or self.g.calls.supervising(sock.id):
            raise CallError("refused", "stop the current supervision first")
        if self.g.calls.call_of(agent_id) is None:
            raise CallError("refused", f"agent {agent_id!r} is not on a call")
        leg = leg_id("supervisor")
        caller = self.g.calls.caller(self.g.calls.call_of(agent_id)["contact_id"])  # type: ignore[index]
        result = await self.g.leg_request({"t": "leg.offer", "leg": leg, "sdp": sdp, "role": "supervisor",
                                          **self.g.leg_options()}, near=caller.leg if caller else None)
        sock.supervising, sock.joining = agent_id, (leg, mode)  # joins once its leg connects
        self.g.calls.by_leg[leg] = ("sup", sock.id)
        return {"type": "answer", "sdp": result["sdp"], "contact_id": caller.contact_id if caller else None}

    async def _switch_mode(self, sock: Socket, mode: str) -> dict[str, Any]:
        self._check_mode(mode)
        if sock.joining is None and not self.g.calls.supervising(sock.id):
            raise CallError("refused", "not supervising")
        if sock.joining is not None:
            sock.joining = (sock.joining[0], mode)
        else:
            self.g.apply(self.g.calls.supervise_mode(sock.id, mode), self.g.calls.supervising(sock.id) or sock.id)
        return {"type": "ack", "of": "mode", "mode": mode}

    def _stop_supervision(self, sock: Socket) -> None:
        if sock.joining is not None:
            leg = sock.joining[0]
            self.g.calls.by_leg.pop(leg, None)
            self.g.apply([Media({"t": "leg.close", "leg": leg})], sock.id)
        key = self.g.calls.supervising(sock.id) or sock.id
        self.g.apply(self.g.calls.unsupervise(sock.id), key)
        sock.supervising, sock.joining = "", None

    def disconnect(self, sock: Socket) -> None:
        self._stop_supervision(sock)
        self.g.supervisors.pop(sock.id, None)
