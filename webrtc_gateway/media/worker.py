"""The media worker: ``python -m webrtc_gateway.media.worker --fd N`` (plain asyncio, aiortc).

Started by ``webrtc_gateway.pool.MediaPool`` with one end of a socketpair as file descriptor N: its control socket,
carrying ``webrtc_gateway.protocol`` frames (``docs/gateway.md``). Each command runs as its own task and is answered
``ok`` (with its result) or ``error`` (with the reason); a command that fails, a bad SDP, a leg that misbehaves, or a
frame that is not a valid command is answered with an ``error`` and changes nothing else: the worker and its other
legs carry on. It exits when told (``shutdown``: every leg closed first), when the control socket closes (the
controller is gone), on SIGTERM, or on a frame that breaks the framing itself (a length over the limit: the stream
cannot be resynchronised).

Events (``leg.state``, ``leg.media_lost``, ``dtmf``, ``play.done``, ``record.done``) are written as they happen.
The media watchdog checks every leg twice a second: a connected leg from which no RTP has come for its
``media_timeout`` (default 5 s) raises ``leg.media_lost`` once (again only after media came back and stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from webrtc_gateway import protocol
from webrtc_gateway.media import aiortc_patch, audio
from webrtc_gateway.media.bridge import Bridge
from webrtc_gateway.media.leg import DEFAULT_MEDIA_TIMEOUT, Leg, LegError
from webrtc_gateway.media.party import Party
from webrtc_gateway.media.player import Player, PromptCache
from webrtc_gateway.media.trunk import Export, RemoteParty, Trunk

log = logging.getLogger("webrtc_gateway.media.worker")
WATCHDOG_PERIOD = 0.5
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class CommandError(Exception):
    """The reason a command is refused (answered as ``error``)."""


class Worker:
    """The legs and bridges of one worker process, and the commands that act on them."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self.legs: dict[str, Leg] = {}
        self.bridges: dict[str, Bridge] = {}
        self.prompts = PromptCache()
        self.trunk = Trunk()
        self._lags: list[float] = []
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "hello": self._hello, "leg.offer": self._leg_offer, "leg.create_offer": self._leg_create_offer,
            "leg.answer": self._leg_answer, "leg.renegotiate": self._leg_renegotiate, "leg.close": self._leg_close,
            "leg.export": self._leg_export, "leg.unexport": self._leg_unexport,
            "bridge": self._bridge, "unbridge": self._unbridge, "play": self._play, "stop": self._stop,
            "record.start": self._record_start, "record.stop": self._record_stop, "supervise": self._supervise,
            "unsupervise": self._unsupervise, "dtmf.detect": self._dtmf_detect, "stats": self._stats,
            "shutdown": self._shutdown,
        }

    # -- plumbing --------------------------------------------------------------------------------------------

    def emit(self, message: dict[str, Any]) -> None:
        """Send an event (or an answer) to the controller."""
        try:
            self._write(protocol.encode(message))
        except (OSError, RuntimeError):
            self.stopping.set()

    def receive(self, item: dict[str, Any] | protocol.ProtocolError) -> None:
        """One decoded frame: a command is started as a task; a bad one is answered at once."""
        if isinstance(item, protocol.ProtocolError):
            self.emit({"t": "error", "rid": item.rid if item.rid is not None else 0, "reason": str(item)})
            return
        handler = self._handlers.get(item["t"])
        if handler is None:  # an event sent the wrong way
            self.emit({"t": "error", "rid": item.get("rid", 0) if isinstance(item.get("rid"), int) else 0,
                       "reason": f"{item['t']} is not a command"})
            return
        task = asyncio.ensure_future(self._run(handler, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, handler: Handler, command: dict[str, Any]) -> None:
        rid = command["rid"]
        try:
            result = await handler(command)
        except (CommandError, LegError, ValueError) as exc:
            self.emit({"t": "error", "rid": rid, "reason": str(exc)})
        except Exception as exc:
            log.exception("%s failed", command["t"])
            self.emit({"t": "error", "rid": rid, "reason": f"internal error: {type(exc).__name__}: {exc}"})
        else:
            self.emit({"t": "ok", "rid": rid, **result})

    def _leg(self, leg_id: str) -> Leg:
        leg = self.legs.get(leg_id)
        if leg is None:
            raise CommandError(f"unknown leg {leg_id}")
        return leg

    def _party(self, leg_id: str, remote: Any) -> Party:
        """A local leg, or the remote party described in a command's ``remote`` map."""
        if leg_id in self.legs:
            return self.legs[leg_id]
        spec = remote.get(leg_id) if isinstance(remote, dict) else None
        if not isinstance(spec, dict):
            raise CommandError(f"unknown leg {leg_id}")
        port, codec, role = spec.get("port"), spec.get("codec"), spec.get("role", "caller")
        if not isinstance(port, int) or not isinstance(codec, str) or not isinstance(role, str):
            raise CommandError(f"remote leg {leg_id}: needs port (int), codec and role")
        try:
            return RemoteParty(self.trunk, leg_id, role, audio.codec_named(codec), port)
        except KeyError:
            raise CommandError(f"remote leg {leg_id}: unknown codec {codec}") from None

    def _close_bridge(self, bridge: Bridge) -> None:
        members = bridge.members()
        bridge.close()
        self.bridges.pop(bridge.id, None)
        for member in members:
            if isinstance(member, RemoteParty) and self.trunk.remotes.get(member.id) is member:
                del self.trunk.remotes[member.id]

    def _bridge_named(self, bridge_id: str) -> Bridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise CommandError(f"unknown bridge {bridge_id}")
        return bridge

    async def measure_lag(self) -> None:
        """The event loop's lag (how late a 100 ms sleep wakes), kept for ``stats``."""
        loop = asyncio.get_event_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.1)
            self._lags.append(loop.time() - t - 0.1)

    async def watchdog(self) -> None:
        """Raise ``leg.media_lost`` for connected legs without RTP (see the module's docstring)."""
        loop = asyncio.get_event_loop()
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD)
            now = loop.time()
            for leg in list(self.legs.values()):
                if leg.state != "connected" or leg.connected_at is None:
                    continue
                last = max(leg.connected_at, leg.tap.last_packet or 0.0)
                silent = now - last
                if silent >= leg.media_timeout and not leg.media_lost:
                    leg.media_lost = True
                    self.emit({"t": "leg.media_lost", "leg": leg.id, "silent_s": round(silent, 2)})
                elif silent < leg.media_timeout:
                    leg.media_lost = False

    async def close_all(self) -> None:
        for bridge in list(self.bridges.values()):
            self._close_bridge(bridge)
        self.trunk.exports.clear()
        await asyncio.gather(*(leg.close() for leg in self.legs.values()), return_exceptions=True)
        self.legs.clear()

    # -- commands --------------------------------------------------------------------------------------------

    async def _hello(self, command: dict[str, Any]) -> dict[str, Any]:
        if command["version"] != protocol.VERSION:
            raise CommandError(f"protocol version {command['version']} is not {protocol.VERSION}")
        return {"worker": os.getpid(), "version": protocol.VERSION, "trunk": self.trunk.port}

    def _new_leg(self, command: dict[str, Any]) -> Leg:
        leg_id = command["leg"]
        if leg_id in self.legs:
            raise CommandError(f"leg {leg_id} exists")
        timeout = command.get("media_timeout", DEFAULT_MEDIA_TIMEOUT)
        if timeout <= 0:
            raise CommandError("media_timeout must be positive")
        return Leg(leg_id, command["role"], command.get("ice") or {}, self.emit, media_timeout=timeout)

    async def _leg_offer(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._new_leg(command)
        self.legs[leg.id] = leg
        try:
            answer = await leg.accept_offer(command["sdp"])
        except BaseException:
            self.legs.pop(leg.id, None)
            raise
        return {"sdp": answer, "codec": leg.codec.name if leg.codec else None}

    async def _leg_create_offer(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._new_leg(command)
        self.legs[leg.id] = leg
        try:
            offer = await leg.create_offer()
        except BaseException:
            self.legs.pop(leg.id, None)
            await leg.close()
            raise
        return {"sdp": offer}

    async def _leg_answer(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        await leg.accept_answer(command["sdp"])
        return {"codec": leg.codec.name if leg.codec else None}

    async def _leg_renegotiate(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        codec = leg.codec
        answer = await leg.accept_offer(command["sdp"])
        if leg.bridge is not None and leg.codec is not codec:
            leg.bridge.replan()
        return {"sdp": answer, "codec": leg.codec.name if leg.codec else None}

    async def _leg_close(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        bridge = leg.bridge
        if isinstance(bridge, Export):
            self.trunk.exports.pop(leg.id, None)
        elif bridge is not None:
            if leg is bridge.a or leg is bridge.b:
                self._close_bridge(bridge)
            else:
                self._unsupervise_party(bridge, leg.id)
        del self.legs[leg.id]
        await leg.close()
        return {}

    async def _leg_export(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        if leg.bridge is not None:
            raise CommandError(f"leg {leg.id} is already in bridge {leg.bridge.id}")
        if leg.codec is None:
            raise CommandError(f"leg {leg.id} has not negotiated its media yet")
        export = Export(self.trunk, leg, command["port"])
        leg.bridge = export
        leg.forward_to = [export.sink]
        self.trunk.exports[leg.id] = export
        return {"codec": leg.codec.name, "role": leg.role}

    async def _leg_unexport(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        export = self.trunk.exports.pop(leg.id, None)
        if export is None or leg.bridge is not export:
            raise CommandError(f"leg {leg.id} is not exported")
        leg.bridge = None
        leg.forward_to = []
        return {}

    async def _bridge(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge_id = command["bridge"]
        if bridge_id in self.bridges:
            raise CommandError(f"bridge {bridge_id} exists")
        if command["a"] not in self.legs:
            raise CommandError(f"unknown leg {command['a']}")
        a, b = self._party(command["a"], None), self._party(command["b"], command.get("remote"))
        if a is b:
            raise CommandError("a leg cannot be bridged to itself")
        for party in (a, b):
            if party.bridge is not None:
                raise CommandError(f"leg {party.id} is already in bridge {party.bridge.id}")
            if party.codec is None:
                raise CommandError(f"leg {party.id} has not negotiated its media yet")
        if isinstance(b, RemoteParty):
            if b.id in self.trunk.remotes:
                raise CommandError(f"leg {b.id} is already in a bridge here")
            self.trunk.remotes[b.id] = b
        bridge = Bridge(bridge_id, a, b, self.emit)
        self.bridges[bridge_id] = bridge
        if command.get("record"):
            try:
                bridge.start_recording(command["record"])
            except OSError as exc:
                self._close_bridge(bridge)
                raise CommandError(f"cannot record to {command['record']}: {exc.strerror}") from None
        bridge.replan()
        return {"passthrough": a.forward_to == [b] and b.forward_to == [a]}

    async def _unbridge(self, command: dict[str, Any]) -> dict[str, Any]:
        self._close_bridge(self._bridge_named(command["bridge"]))
        return {}

    async def _play(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        if leg.codec is None or leg.output is None:
            raise CommandError(f"leg {leg.id} has not negotiated its media yet")
        packets = await self.prompts.get(command["media"], leg.codec)
        if leg.closed:
            raise CommandError(f"leg {leg.id} closed")
        if leg.player is not None:
            leg.player.stop()

        def done(player: Player, stopped: bool) -> None:
            if leg.player is player:
                leg.player = None
            self.emit({"t": "play.done", "leg": leg.id, "play": player.id, "stopped": stopped})

        player = Player(command["play"], leg.output, packets, bool(command.get("loop")), done)
        leg.player = player
        player.start()
        return {"seconds": round(len(packets) * 0.02, 2)}

    async def _stop(self, command: dict[str, Any]) -> dict[str, Any]:
        leg = self._leg(command["leg"])
        if leg.player is None or leg.player.id != command["play"]:
            raise CommandError(f"play {command['play']} is not playing on leg {leg.id}")
        leg.player.stop()
        return {}

    async def _record_start(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge = self._bridge_named(command["bridge"])
        try:
            bridge.start_recording(command["path"])
        except OSError as exc:
            raise CommandError(f"cannot record to {command['path']}: {exc.strerror}") from None
        return {}

    async def _record_stop(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge = self._bridge_named(command["bridge"])
        if bridge.recorder is None:
            raise CommandError(f"bridge {bridge.id} is not recording")
        bridge.stop_recording()
        return {}

    async def _supervise(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge = self._bridge_named(command["bridge"])
        party = self._party(command["leg"], command.get("remote"))
        existing = bridge.supervisors.get(party.id)
        if existing is not None:
            party = existing[0]  # a change of mode
        if party.codec is None:
            raise CommandError(f"leg {party.id} has not negotiated its media yet")
        if isinstance(party, RemoteParty) and existing is None:
            if party.id in self.trunk.remotes:
                raise CommandError(f"leg {party.id} is already in a bridge here")
            self.trunk.remotes[party.id] = party
        try:
            bridge.supervise(party, command["mode"])
        except ValueError:
            if isinstance(party, RemoteParty) and existing is None:
                self.trunk.remotes.pop(party.id, None)
            raise
        return {}

    async def _unsupervise(self, command: dict[str, Any]) -> dict[str, Any]:
        self._unsupervise_party(self._bridge_named(command["bridge"]), command["leg"])
        return {}

    def _unsupervise_party(self, bridge: Bridge, party_id: str) -> None:
        entry = bridge.supervisors.get(party_id)
        bridge.unsupervise(party_id)
        if entry is not None and isinstance(entry[0], RemoteParty) and self.trunk.remotes.get(party_id) is entry[0]:
            del self.trunk.remotes[party_id]

    async def _dtmf_detect(self, command: dict[str, Any]) -> dict[str, Any]:
        self._leg(command["leg"]).set_inband(command["inband"])
        return {}

    async def _stats(self, command: dict[str, Any]) -> dict[str, Any]:
        lags, self._lags = sorted(self._lags), []
        lag = {"p50": round(lags[len(lags) // 2] * 1000, 2), "p99": round(lags[int(len(lags) * 0.99)] * 1000, 2),
               "max": round(lags[-1] * 1000, 2)} if lags else {}
        times = os.times()
        return {"loop_lag_ms": lag, "trunk_dropped": self.trunk.dropped, "cpu_user_s": round(times.user, 3),
                "cpu_system_s": round(times.system, 3), "legs": len(self.legs), "bridges": len(self.bridges), "cpu_s": round(time.process_time(), 3),
                "rss": _rss(), "decoders": audio.BUILT["decoder"], "encoders": audio.BUILT["encoder"],
                "per_leg": {leg_id: leg.stats() for leg_id, leg in self.legs.items()}}

    async def _shutdown(self, command: dict[str, Any]) -> dict[str, Any]:
        await self.close_all()
        self.stopping.set()
        return {}


def _rss() -> int:
    """Resident memory in bytes (Linux), or the peak if that cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def serve(sock: socket.socket) -> None:
    """Run a worker on a connected control socket until it is told to stop or the socket closes."""
    aiortc_patch.install()
    reader, writer = await asyncio.open_connection(sock=sock)
    worker = Worker(writer.write)
    await worker.trunk.open()
    loop = asyncio.get_event_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, worker.stopping.set)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (a measurement's host)
        pass
    decoder = protocol.Decoder()
    watchdog = asyncio.ensure_future(worker.watchdog())
    lag = asyncio.ensure_future(worker.measure_lag())

    async def read() -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            try:
                items = decoder.feed_each(data)
            except protocol.ProtocolError as exc:
                worker.emit({"t": "error", "rid": 0, "reason": f"{exc}; closing"})
                break
            for item in items:
                worker.receive(item)
        worker.stopping.set()

    reading = asyncio.ensure_future(read())
    await worker.stopping.wait()
    reading.cancel()
    watchdog.cancel()
    lag.cancel()
    try:
        await asyncio.wait_for(worker.close_all(), 10)
    except TimeoutError:
        log.warning("legs did not all close within 10 s")
    try:
        await asyncio.wait_for(writer.drain(), 2)
        writer.close()
    except (TimeoutError, OSError):
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="the control socket's file descriptor")
    parser.add_argument("--log-level", default=os.environ.get("SWITCHBOARD_MEDIA_LOG", "WARNING"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format=f"media[{os.getpid()}] %(levelname)s %(name)s: %(message)s")
    sock = socket.socket(fileno=args.fd)
    asyncio.run(serve(sock))


if __name__ == "__main__":
    main()
