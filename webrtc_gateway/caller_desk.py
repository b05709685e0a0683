"""Web callers (``/webrtc/ws/caller``): calls in (a leg, the IVR or a queue), registered addresses, and calls out
to them (the dialer's ``Dial`` to ``webrtc:ADDRESS``, a preview dial's or a callback's ring).

``CallerDesk(gateway)`` is the caller socket's side of ``webrtc_gateway.gateway.Gateway``. A caller socket acts
only on the calls it made or was rung for; closing it ends them.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from engine.dialer_events import Dial, DropCall, PlayMessage
from engine.events import ContactArrived
from engine.ivr_events import CallerEntered
from webrtc_gateway.calls import WEBRTC_PREFIX, CallError, Ring
from webrtc_gateway.frames import error
from webrtc_gateway.pool import MediaError
from webrtc_gateway.sockets import CHANNEL, Socket, leg_id, open_socket

if TYPE_CHECKING:
    from webrtc_gateway.gateway import Gateway

log = logging.getLogger("switchboard.webrtc")


class CallerDesk:
    """See the module docstring."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    def dial(self, action: Dial) -> None:
        """A dialer ``Dial`` to ``webrtc:ADDRESS`` (other numbers are not ours)."""
        if not action.number.startswith(WEBRTC_PREFIX) or self.g.lanes is None:
            return
        self.g.lanes.push(action.call_id, lambda: self._dial(action))

    async def _dial(self, action: Dial) -> None:
        address = action.number[len(WEBRTC_PREFIX):]
        sock = self.g.registered.get(address)
        if sock is None:
            self.g.apply(self.g.calls.dial_failed(action), action.call_id)
            return
        leg = leg_id("caller")
        try:
            result = await self.g.request({"t": "leg.create_offer", "leg": leg, "role": "caller",
                                          **self.g.leg_options()})
        except MediaError as exc:
            log.warning("dial %s: no leg: %s", action.call_id, exc)
            self.g.apply(self.g.calls.dial_failed(action), action.call_id)
            return
        self.g.calls.add_caller(action.call_id, leg, inbound=False, phase="ringing", customer=action.number,
                              address=address, deadline=self.g.now() + action.timeout_s, dialer=True,
                              callback_number=action.number)
        sock.calls.add(action.call_id)
        self.g.caller_sockets[action.call_id] = sock
        self.g.deliver(("caller", action.call_id), {"type": "incoming", "call_id": action.call_id,
                                                  "sdp": result["sdp"], "from": action.caller_id})
        self.g.rearm()

    async def ring(self, ring: Ring) -> None:
        """Ring a web caller for a contact an agent already has (a preview dial, a callback)."""
        sock = self.g.registered.get(ring.address)
        leg = leg_id("caller")
        result = None
        if sock is not None:
            try:
                result = await self.g.request({"t": "leg.create_offer", "leg": leg, "role": "caller",
                                              **self.g.leg_options()})
            except MediaError as exc:
                log.warning("ringing %s for %s: %s", ring.address, ring.contact_id, exc)
        if sock is None or result is None:
            self.g.apply(self.g.calls.caller_gone(ring.contact_id, "unreachable", self.g.now()), ring.contact_id)
            return
        deadline = self.g.now() + self.g.settings.ring_timeout_s
        self.g.apply(self.g.calls.ringing(ring.contact_id, leg, ring.address, deadline), ring.contact_id)
        sock.calls.add(ring.contact_id)
        self.g.caller_sockets[ring.contact_id] = sock
        self.g.deliver(("caller", ring.contact_id), {"type": "incoming", "call_id": ring.contact_id,
                                                   "sdp": result["sdp"]})

    def dial_message(self, action: PlayMessage | DropCall) -> None:
        self.g.on_action(lambda a, now: self.g.calls.dial_message(a, now), action)

    def connect(self) -> tuple[Socket, dict[str, Any]]:
        sock = open_socket("caller", next(self.g.ids))
        return sock, {"type": "hello", "ice_servers": self.g.settings.ice_servers()}

    async def request(self, sock: Socket, frame: dict[str, Any]) -> list[dict[str, Any]]:
        kind = frame["type"]
        try:
            if kind == "candidate":
                sock.budget.spend()
                return []
            if kind == "call":
                sock.budget.reset()
                return [await self._call(sock, frame)]
            if kind == "hangup":
                for contact in [c for c in sock.calls if self.g.calls.caller(c) is not None]:
                    self._caller_gone(sock, contact, "caller-hung-up")
                return []
            if kind == "register":
                address = frame["address"]
                old = self.g.registered.get(address)
                if old is not None and old is not sock:
                    old.address = ""
                if sock.address and self.g.registered.get(sock.address) is sock:
                    del self.g.registered[sock.address]
                self.g.registered[address] = sock
                sock.address = address
                return [{"type": "registered", "address": address}]
            if kind in ("answer-call", "decline-call"):
                call_id = frame["call_id"]
                caller = self.g.calls.caller(call_id)
                if call_id not in sock.calls or caller is None or caller.phase != "ringing":
                    raise CallError("unknown", f"no call {call_id!r} ringing here")
                if kind == "decline-call":
                    self._caller_gone(sock, call_id, "declined")
                    return []
                sock.budget.reset()
                await self.g.leg_request({"t": "leg.answer", "leg": caller.leg, "sdp": frame["sdp"]})
                self.g.apply(self.g.calls.answered(call_id, self.g.now()), call_id)
                return [{"type": "ack", "of": kind, "call_id": call_id}]
            raise CallError("refused", f"{kind}: not handled")
        except CallError as exc:
            return [error(exc.code, str(exc), of=kind)]

    async def _call(self, sock: Socket, frame: dict[str, Any]) -> dict[str, Any]:
        """A web caller calls in: a leg, then the IVR (or the default queue)."""
        if any(self.g.calls.caller(c) is not None and self.g.calls.caller(c).inbound for c in sock.calls):  # type: ignore[union-attr]
            raise CallError("refused", "this socket already has a call")
        contact_id = f"webrtc-{secrets.token_hex(8)}"
        leg = leg_id("caller")
        result = await self.g.leg_request({"t": "leg.offer", "leg": leg, "sdp": frame["sdp"], "role": "caller",
                                          **self.g.leg_options()})
        caller = (frame.get("caller") or "").strip() or f"web:{contact_id[7:]}"
        callback = WEBRTC_PREFIX + sock.address if sock.address else caller if caller.startswith("+") else ""
        from plugins.builtin.crm.screen_pop import screen_pop

        pop = await screen_pop(self.g.manager, caller)
        phase = "ivr" if self.g.ivr is not None else "queued"
        self.g.calls.add_caller(contact_id, leg, inbound=True, phase=phase, customer=caller,
                              callback_number=callback, screen_pop=pop)
        sock.calls.add(contact_id)
        self.g.caller_sockets[contact_id] = sock
        if self.g.track is not None:
            self.g.track(contact_id, CHANNEL)
        answer = {"type": "answer", "sdp": result["sdp"], "contact_id": contact_id}
        if self.g.ivr is not None:
            entered = CallerEntered(contact_id, channel=CHANNEL, caller=caller, data={"source": "webrtc"})
            if self.g.lanes is not None:
                self.g.lanes.push(contact_id, lambda: self.g.submit(entered, "ivr"))
        else:
            queue = frame.get("queue") or self.g.settings.default_queue
            arrival = ContactArrived(contact_id, channel=CHANNEL, queue=queue, customer=caller,
                                     data={"source": "webrtc"})
            self.g.lanes.push(contact_id, lambda: self._arrive(arrival))  # type: ignore[union-attr]
        return answer

    async def _arrive(self, arrival: ContactArrived) -> None:
        if await self.g.submit(arrival):
            self.g.apply(self.g.calls.routed(arrival.contact_id, arrival.queue or "", self.g.now()), arrival.contact_id)
        else:
            self.g.apply(self.g.calls.caller_gone(arrival.contact_id, "rejected", self.g.now()), arrival.contact_id)

    def _caller_gone(self, sock: Socket, contact_id: str, reason: str) -> None:
        self.g.apply(self.g.calls.caller_gone(contact_id, reason, self.g.now()), contact_id)

    def disconnect(self, sock: Socket) -> None:
        """The caller's socket closed: its calls end, its address is no longer registered."""
        for contact in list(sock.calls):
            if self.g.calls.caller(contact) is not None:
                self._caller_gone(sock, contact, "socket-closed")
            if self.g.caller_sockets.get(contact) is sock:
                del self.g.caller_sockets[contact]
        if sock.address and self.g.registered.get(sock.address) is sock:
            del self.g.registered[sock.address]
