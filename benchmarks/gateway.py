"""WebRTC gateway under load: N bridged calls through real media workers, with aiortc peers on loopback.

``switchboard bench gateway --calls N --seconds S`` starts a ``MediaPool`` (``--workers``, default one per core) in
this process and ``--peer-processes`` processes of browser stand-ins (``benchmarks.gateway_peers``: both ends of
their calls; they send real Opus or PCMU frames, 20 ms apart, spread over the cycle). Each call is a caller leg and
an agent leg, each answered by the gateway (ICE on loopback, DTLS-SRTP) and bridged (``--record``: every call
recorded, so both sides are decoded; ``--placement near``: the agent leg on the caller's worker, else each on the
least-loaded one, so bridges cross workers as in production, where agents' lines are made at login). After
``--warmup`` seconds it measures for ``--seconds``:

- ``cpu``: the gateway workers' CPU (``stats``' ``cpu_s`` deltas) in % of one core, in total and per call; the
  peers' and this process's beside it (all share the machine), and the machine's (``/proc/stat``): what anything
  else used meanwhile (``others_pct``: figures taken beside other work are not figures of the gateway) and the
  hypervisor's steal;
- ``packet_loss``: packets not received over packets sent, all legs, both directions (with ``--caller-codec``
  the bridges transcode, frames are not recognised, and packets are only counted: no latency then);
- ``jitter_ms``: RFC 3550 interarrival jitter per receiving leg (mean, p95, max over legs);
- ``latency_ms``: one-way time from a peer's send to the other peer's receipt (same clock; loopback and both
  peers' processing included), per packet (p50, p95, p99, max) and the legs' means (p50, max);
- ``added_latency_ms``: what the gateway adds per leg: the legs' mean latency minus ``baseline_ms``, the same
  figure for a few calls whose two peers are connected to each other (no gateway), measured first in the same run
  (``--direct`` measures only that, with all the calls);
- ``engine``: while the calls run, what this process (where the engine and its routing live) sees: its trio loop's
  lag (a 10 ms sleep's overshoot, p50/p99/max) and the wall time of a burst of 500 routing decisions on the
  compiled core every 100 ms (p50/p99), each before the calls start (``idle``) and during the window (``loaded``).

It prints one JSON object; progress lines go to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from webrtc_gateway.pool import MediaPool, open_media_pool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=20, help="concurrent bridged calls (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of media before the window (default 2)")
    parser.add_argument("--workers", type=int, default=None, help="media workers (default: one per core)")
    parser.add_argument("--peer-processes", type=int, default=1, help="processes of peers (default 1)")
    parser.add_argument("--codec", choices=("opus", "PCMU"), default="opus", help="the legs' codec (default opus)")
    parser.add_argument("--caller-codec", choices=("opus", "PCMU"), default=None,
                        help="the callers' codec if not --codec: every bridge then transcodes both ways")
    parser.add_argument("--placement", choices=("any", "near"), default="any",
                        help="agent legs on the least-loaded worker (any) or on their caller's (near)")
    parser.add_argument("--record", action="store_true", help="record every call (decodes both sides)")
    parser.add_argument("--direct", action="store_true",
                        help="the baseline: each call's two peers connected to each other, no gateway")
    parser.add_argument("--setup-concurrency", type=int, default=8, help="calls set up at once (default 8)")
    parser.add_argument("--host", choices=HOSTS, default="process",
                        help="where the media workers' asyncio loops run (default: processes; the others are the "
                             "alternatives measured in webrtc_gateway/README.md)")
    parser.add_argument("--json", action="store_true", help="print JSON (the CLI does)")


HOSTS = ("process", "thread", "guest", "trio-asyncio")


def _progress(message: str) -> None:
    print(f"bench gateway: {message}", file=sys.stderr, flush=True)


class PeerProcess:
    """A ``benchmarks.gateway_peers`` process and its JSON-lines control."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._answers: dict[int, Any] = {}
        self._events: dict[int, trio.Event] = {}
        self._next = 0
        self._lock = trio.Lock()

    @classmethod
    async def start(cls, nursery: trio.Nursery, codec: str, caller_codec: str | None) -> PeerProcess:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "benchmarks.gateway_peers", "--codec", codec,
             *(["--caller-codec", caller_codec] if caller_codec else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        peer = cls(process)
        nursery.start_soon(peer._read)
        return peer

    async def _read(self) -> None:
        buffer = b""
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                self._answers[message["id"]] = message
                self._events.pop(message["id"]).set()

    async def ask(self, command: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        self._next += 1
        key = self._next
        event = self._events[key] = trio.Event()
        assert self.process.stdin is not None
        async with self._lock:
            await self.process.stdin.send_all((json.dumps({**command, "id": key}) + "\n").encode())
        with trio.fail_after(timeout):
            await event.wait()
        answer = self._answers.pop(key)
        if "error" in answer:
            raise RuntimeError(f"peer process: {answer['error']}")
        return answer

    async def quit(self) -> None:
        assert self.process.stdin is not None
        try:
            async with self._lock:
                await self.process.stdin.send_all(b'{"op": "quit"}\n')
            await self.process.stdin.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        with trio.move_on_after(10):
            await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class InProcessWorker:
    """A media worker run by this process (``MediaPool``'s ``WorkerHost``): ``serve`` on a thread's loop or on a
    loop of this thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.returncode: int | None = None
        self._done = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        self.cancel: Callable[[], object] = lambda: None

    def finished(self) -> None:
        """Called (from any thread) when ``serve`` returned."""
        def done() -> None:
            self.returncode = 0
            self._done.set()

        self._token.run_sync_soon(done)

    async def wait(self) -> int:
        await self._done.wait()
        return 0

    def kill(self) -> None:
        self.cancel()


async def launch_in_thread(sock: socket.socket) -> InProcessWorker:
    """``--host thread``: the worker's own asyncio loop in a thread of this process (sharing its GIL)."""
    from webrtc_gateway.media.worker import serve

    host = InProcessWorker()

    def target() -> None:
        loop = asyncio.new_event_loop()
        task = loop.create_task(serve(sock))
        host.cancel = lambda: loop.call_soon_threadsafe(task.cancel)
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()
            host.finished()

    threading.Thread(target=target, name="media-worker", daemon=True).start()
    return host


def launch_on_loop(loop: asyncio.AbstractEventLoop) -> Callable[[socket.socket], Awaitable[InProcessWorker]]:
    """``--host guest``: the worker as a task of the asyncio loop trio runs on as a guest (this thread)."""
    from webrtc_gateway.media.worker import serve

    async def launch(sock: socket.socket) -> InProcessWorker:
        host = InProcessWorker()
        task = loop.create_task(serve(sock))
        host.cancel = task.cancel
        task.add_done_callback(lambda _: host.finished())
        return host

    return launch


def launch_under_trio_asyncio(nursery: trio.Nursery) -> Callable[[socket.socket], Awaitable[InProcessWorker]]:
    """``--host trio-asyncio``: the worker on trio-asyncio's loop, inside trio (this thread)."""
    import trio_asyncio

    from webrtc_gateway.media.worker import serve

    async def launch(sock: socket.socket) -> InProcessWorker:
        host = InProcessWorker()
        scope = trio.CancelScope()

        async def run() -> None:
            try:
                with scope:
                    await trio_asyncio.aio_as_trio(serve)(sock)
            finally:
                host.finished()

        host.cancel = scope.cancel
        nursery.start_soon(run)
        return host

    return launch


def _percentiles(values: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    out = {f"p{p}": round(ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)], 3)
           for p in points}
    out["max"] = round(ordered[-1], 3)
    out["mean"] = round(sum(ordered) / len(ordered), 3)
    return out


class EngineProbe:
    """What this process's engine would feel: trio loop lag, and bursts of routing decisions."""

    def __init__(self) -> None:
        import engine.core
        from benchmarks.routing import _setup, _stream

        self._index, _, self._contact = _setup(engine.core, 2000, 50, 5000, 1)
        self._stream = _stream(500, 2000, 50, 1)
        self._busy = bytearray(b"\x01") * 2000
        self._now = 1000.0
        self.lag_ms: list[float] = []
        self.burst_ms: list[float] = []

    def _burst(self) -> float:
        r = self._index
        t = time.perf_counter()
        for kind, x, prio in self._stream:
            self._now += 0.01
            if kind:
                got = r.enqueue(self._contact, x, prio, self._now, self._contact, self._now)
                self._contact += 1
                if got >= 0:
                    self._busy[got] = 1
            else:
                if self._busy[x]:
                    r.release(x, 0, self._now, 30.0)
                self._busy[x] = r.match_agent(x, self._now) >= 0
        return (time.perf_counter() - t) * 1000

    async def run(self) -> None:
        next_burst = trio.current_time()
        while True:
            t = trio.current_time()
            await trio.sleep(0.01)
            self.lag_ms.append((trio.current_time() - t - 0.01) * 1000)
            if trio.current_time() >= next_burst:
                self.burst_ms.append(self._burst())
                next_burst += 0.1

    def take(self) -> dict[str, Any]:
        out = {"loop_lag_ms": _percentiles(self.lag_ms), "routing_burst_ms": _percentiles(self.burst_ms)}
        self.lag_ms, self.burst_ms = [], []
        return out


def _machine() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"), steal / os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _set_up(pool: MediaPool, peers: list[PeerProcess], args: argparse.Namespace) -> float:
    limit = trio.Semaphore(args.setup_concurrency)
    done = 0
    t0 = time.monotonic()

    async def one(i: int) -> None:
        nonlocal done
        async with limit:
            peer = peers[i % len(peers)]
            if args.direct:
                await peer.ask({"op": "direct", "call": i})
                done += 1
                return
            offers = await peer.ask({"op": "offer", "call": i})
            caller = await pool.request({"t": "leg.offer", "leg": f"c{i}", "sdp": offers["caller"],
                                         "role": "caller", "ice": {"loopback": True}})
            agent = await pool.request({"t": "leg.offer", "leg": f"a{i}", "sdp": offers["agent"], "role": "agent",
                                        "ice": {"loopback": True}},
                                       near=f"c{i}" if args.placement == "near" else None)
            await peer.ask({"op": "accept", "call": i, "caller": caller["sdp"], "agent": agent["sdp"]})
            record = f"{args.record_dir}/call-{i}.wav" if args.record else None
            await pool.request({"t": "bridge", "bridge": f"k{i}", "a": f"c{i}", "b": f"a{i}", "record": record})
            done += 1
            if done % 20 == 0:
                _progress(f"{done}/{args.calls} calls up")

    async with trio.open_nursery() as nursery:
        for i in range(args.calls):
            nursery.start_soon(one, i)
    return time.monotonic() - t0


BASELINE_CALLS = 10
BASELINE_S = 2.0


async def _baseline(nursery: trio.Nursery, args: argparse.Namespace) -> float | None:
    """The mean one-way latency of a leg without the gateway, on this machine now: ``BASELINE_CALLS`` calls whose
    two peers are connected to each other, measured for ``BASELINE_S`` seconds in a peer process of their own."""
    peer = await PeerProcess.start(nursery, args.codec, args.caller_codec)
    try:
        for i in range(min(BASELINE_CALLS, args.calls)):
            await peer.ask({"op": "direct", "call": i})
        await peer.ask({"op": "send", "on": True})
        await trio.sleep(0.5)
        await peer.ask({"op": "mark"})
        await trio.sleep(BASELINE_S)
        await peer.ask({"op": "send", "on": False})
        await trio.sleep(0.2)
        legs = [x for x in (await peer.ask({"op": "report"}))["latency_ms_per_leg"] if x is not None]
    finally:
        with trio.CancelScope(shield=True):
            await peer.quit()
    return sum(legs) / len(legs) if legs else None


async def _measure(args: argparse.Namespace,
                   launcher: Callable[[socket.socket], Awaitable[Any]] | None = None) -> dict[str, Any]:
    probe = EngineProbe()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe.run)
        baseline = None if args.direct else await _baseline(nursery, args)
        peers = [await PeerProcess.start(nursery, args.codec, args.caller_codec) for _ in range(args.peer_processes)]
        try:
            async with open_media_pool(args.workers, launcher=launcher) as pool:
                await trio.sleep(1.0)
                idle = probe.take()
                setup_s = await _set_up(pool, peers, args)
                _progress(f"{args.calls} calls up in {setup_s:.1f} s; warming up")
                for peer in peers:
                    await peer.ask({"op": "send", "on": True})
                await trio.sleep(args.warmup)
                start = await pool.request({"t": "stats"})
                marks = [await peer.ask({"op": "mark"}) for peer in peers]
                own_cpu = time.process_time()
                machine = _machine()
                probe.take()
                t0 = time.monotonic()
                _progress(f"measuring {args.seconds:.0f} s")
                await trio.sleep(args.seconds)
                end = await pool.request({"t": "stats"})
                wall = time.monotonic() - t0
                loaded = probe.take()
                own_cpu = time.process_time() - own_cpu
                after = _machine()
                machine = (after[0] - machine[0], after[1] - machine[1])
                for peer in peers:
                    await peer.ask({"op": "send", "on": False})
                await trio.sleep(0.5)  # packets in flight arrive
                reports = [await peer.ask({"op": "report"}) for peer in peers]
                for peer in peers:
                    await peer.quit()
        finally:
            with trio.CancelScope(shield=True):
                for peer in peers:
                    await peer.quit()
        nursery.cancel_scope.cancel()

    before = {w["index"]: w for w in start["workers"]}
    per_worker = {w["index"]: round((w["cpu_s"] - before[w["index"]]["cpu_s"]) / wall * 100, 1)
                  for w in end["workers"] if w["index"] in before}
    gateway_pct = sum(per_worker.values())
    system_pct = sum(w["cpu_system_s"] - before[w["index"]]["cpu_system_s"] for w in end["workers"]
                     if w["index"] in before) / wall * 100
    if args.host != "process":  # the workers are in this process: its CPU is theirs and the controller's
        gateway_pct, per_worker = own_cpu / wall * 100, {}
    peers_pct = sum(r["cpu_s"] - m["cpu_s"] for r, m in zip(reports, marks, strict=True)) / wall * 100
    if args.host != "process":
        own_cpu = 0.0  # counted in gateway_pct
    sent = sum(r["sent"] for r in reports)
    received = sum(r["received"] for r in reports)
    jitter = [j for r in reports for j in r["jitter_ms"]]
    latency = [x for r in reports for x in r["latency_ms"]]
    leg_means = [x for r in reports for x in r["latency_ms_per_leg"] if x is not None]
    decoders = sum(w["decoders"] for w in end["workers"])
    return {
        "calls": args.calls, "seconds": round(wall, 2), "codec": args.codec, "host": args.host,
        "caller_codec": args.caller_codec or args.codec,
        "workers": len(end["workers"]),
        "placement": args.placement, "record": args.record, "peer_processes": args.peer_processes,
        "setup_s": round(setup_s, 2),
        "cpu": {"gateway_pct": round(gateway_pct, 1), "per_call_pct": round(gateway_pct / args.calls, 3),
                "gateway_system_pct": round(system_pct, 1),
                "per_worker_pct": list(per_worker.values()), "peers_pct": round(peers_pct, 1),
                "controller_pct": round(own_cpu / wall * 100, 1), "cores": os.cpu_count(),
                "machine_pct": round(machine[0] / wall * 100, 1), "steal_pct": round(machine[1] / wall * 100, 1),
                "others_pct": round((machine[0] - own_cpu) / wall * 100 - gateway_pct - peers_pct, 1)},
        "packet_loss": round(max(0.0, 1 - received / sent), 5) if sent else None,
        "packets": {"sent": sent, "received": received, "unrecognised": sum(r["unknown"] for r in reports)},
        "jitter_ms": _percentiles(jitter, (95,)),
        "latency_ms": {"packets": _percentiles(latency), "legs": _percentiles(leg_means, (50,))},
        "baseline_ms": None if baseline is None else round(baseline, 3),
        "added_latency_ms": None if baseline is None or not leg_means else _percentiles(
            [x - baseline for x in leg_means], (50,)),
        "gateway": {"legs": end["legs"], "bridges": end["bridges"], "decoders_built": decoders,
                    "loop_lag_ms": [w.get("loop_lag_ms") for w in end["workers"]],
                    "rss_mb": [round(w["rss"] / 2**20, 1) for w in end["workers"]]},
        "engine": {"idle": idle, "loaded": loaded},
    }


async def _guest(args: argparse.Namespace) -> dict[str, Any]:
    """trio as a guest on this asyncio loop, the workers as its tasks."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    trio.lowlevel.start_guest_run(_measure, args, launch_on_loop(loop), run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                                  done_callback=done.set_result)
    return (await done).unwrap()  # type: ignore[no-any-return]


async def _with_trio_asyncio(args: argparse.Namespace) -> dict[str, Any]:
    import trio_asyncio

    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        result = await _measure(args, launch_under_trio_asyncio(nursery))
        nursery.cancel_scope.cancel()
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    import importlib.util
    import tempfile

    from engine.errors import ConfigError

    if args.host == "trio-asyncio" and importlib.util.find_spec("trio_asyncio") is None:
        raise ConfigError("--host trio-asyncio needs the trio-asyncio package, which Switchboard itself does not "
                          "use: pip install 'switchboard[bench]'")
    if args.workers is None and args.host in ("guest", "trio-asyncio"):
        args.workers = 1  # one thread: more loops on it would only share it
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as directory:
        args.record_dir = directory
        if args.host == "guest":
            return asyncio.run(_guest(args))
        if args.host == "trio-asyncio":
            return trio.run(_with_trio_asyncio, args)
        return trio.run(_measure, args, launch_in_thread if args.host == "thread" else None)
