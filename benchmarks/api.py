"""API under load: REST requests/s and latency, and the live stream's lag, while the engine routes simulated contacts.

``switchboard bench api`` writes a center of ``--agents`` agents (one voice queue, ``support``) plus a few desk
agents no simulated contact can reach, starts ``switchboard serve`` on a fresh data directory on 127.0.0.1 (a free
port) with ``--sim-load RATE``, and reads the bootstrap admin token the server leaves in the data directory. After
``--warmup`` seconds (the simulation reaches its steady state) it measures for ``--seconds``:

- ``--clients`` keep-alive HTTP/1.1 connections, each sending its next request as soon as the last is answered,
  a read-heavy mix (``MIX``): agents listed, queues listed, one agent's state, the CDRs of the last minute,
  ``/healthz``, and an agent's state set (``PUT``, on the desk agents only, so the simulation is not disturbed);
- ``--stream-clients`` WebSocket clients of ``/v1/stream`` (first frame ``{"type": "auth", "token": ...}``): the lag
  of each frame is the wall time it was received minus the engine time it describes (``at``, Unix seconds).
  A server without the stream (404) is reported as ``stream.available: false``;
- the engine: accepted events (``/healthz``'s ``accepted`` at both ends of the window), the CPU of the server
  process and of its engine thread (Linux), the largest sink backlog ``/healthz`` gave (once a second), and, read from its
  journal after it stopped, the contacts that arrived, were routed (answered) and abandoned in the window, and how
  long the routed ones waited to be offered (answer time minus the simulated 1 s ring).

It prints one JSON object (see ``run``) and a progress line a second on standard error. The clients run in this
process, on the same machine: what they cost is not available to the server. A center too small for the rate
(``staffing.occupancy`` >= 1: agents needed = rate x (1 s ring + talk + wrap-up)) cannot route it whatever the
engine does: the contacts queue and are abandoned.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import trio

from benchmarks.loadclients import HttpConnection, Latencies, WsConnection, now, percentile
from engine.errors import SwitchboardError

DESK_AGENTS = 8
RING_S = 1.0
"""The simulated agents answer an offer after this long (``engine.serve.SimulatedLoad``)."""

Request = tuple[str, str, Any]
MixEntry = tuple[str, int, Callable[[random.Random, list[str], list[str]], Request]]
MIX: tuple[MixEntry, ...] = (
    ("GET /v1/agents", 10, lambda rng, sim, desk: ("GET", "/v1/agents?limit=50", None)),
    ("GET /v1/queues", 15, lambda rng, sim, desk: ("GET", "/v1/queues", None)),
    ("GET /v1/agents/{id}/state", 30, lambda rng, sim, desk: ("GET", f"/v1/agents/{rng.choice(sim)}/state", None)),
    ("GET /v1/cdrs", 10, lambda rng, sim, desk: ("GET", f"/v1/cdrs?limit=50&since={int(time.time()) - 60}", None)),
    ("GET /healthz", 25, lambda rng, sim, desk: ("GET", "/healthz", None)),
    ("PUT /v1/agents/{id}/state", 10, lambda rng, sim, desk: (
        "PUT", f"/v1/agents/{rng.choice(desk)}/state",
        rng.choice(({"state": "available"}, {"state": "not-ready", "reason": "break"})))),
)
"""Route label, weight, and the request it makes (from a random generator, the simulated and the desk agents)."""


def select_mix(routes: str) -> list[MixEntry]:
    """The entries of ``MIX`` whose label holds one of the comma-separated words of ``routes`` (all: ``""``)."""
    words = [w.strip() for w in routes.split(",") if w.strip()]
    mix = [entry for entry in MIX if not words or any(w in entry[0] for w in words)]
    if not mix:
        raise SwitchboardError(f"--routes {routes!r}: no route of the mix matches")
    return mix


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=500.0, help="simulated contacts per second (default 500)")
    parser.add_argument("--agents", type=int, default=2000, help="simulated agents (default 2000)")
    parser.add_argument("--talk-s", type=float, default=1.5, help="mean talk time, seconds (default 1.5)")
    parser.add_argument("--wrap-s", type=float, default=0.5, help="wrap-up time, seconds (default 0.5)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window, seconds (default 20)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the window (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="keep-alive HTTP clients (default 16)")
    parser.add_argument("--stream-clients", type=int, default=4, help="/v1/stream clients (default 4)")
    parser.add_argument("--routes", default="", metavar="WORDS",
                        help="only the routes of the mix whose label holds one of these comma-separated words "
                             "(e.g. healthz,queues; default: the whole mix)")
    parser.add_argument("--fsync", default="batch", help="the server's --fsync (default batch)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix and the simulation")
    parser.add_argument("--keep", type=Path, default=None, help="use (and keep) this data directory")
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")


def center_toml(agents: int, wrap_s: float) -> str:
    """The center: ``agents`` agents b0000... on queue ``support``, and the desk agents (skill ``backoffice``, which
    no queue asks for) that the bench sets states on."""
    lines = ['skills = ["support", "backoffice"]', ""]
    for i in range(agents):
        lines += ["[[agents]]", f'id = "b{i:04d}"', "skills = { support = 5 }", ""]
    for i in range(DESK_AGENTS):
        lines += ["[[agents]]", f'id = "desk{i:02d}"', "skills = { backoffice = 5 }", ""]
    lines += ["[[queues]]", 'id = "support"', "skills = { support = 1 }", f"wrap_up_s = {wrap_s}",
              "ring_timeout_s = 10", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- server ----

class Server:
    """``switchboard serve`` in a subprocess; its status lines are kept as they come (``lines``)."""

    def __init__(self, data_dir: Path, config: Path, log: Path, args: argparse.Namespace) -> None:
        self.data_dir = data_dir
        self.log = log
        cmd = [sys.executable, "-m", "engine.cli", "serve", "--config", str(config), "--data-dir", str(data_dir),
               "--host", "127.0.0.1", "--port", "0", "--sim-load", str(args.rate), "--seed", str(args.seed),
               "--sim-talk-s", str(args.talk_s), "--status-every", "5", "--log-level", "WARNING",
               "--keep-snapshots", "0", "--fsync", args.fsync]
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        self.lines: list[tuple[float, str]] = []
        self.port = 0

    async def started(self) -> None:
        """Read its output until it is ready; ``RuntimeError`` with its log if it stops first."""
        assert self.proc.stdout is not None
        while True:
            line = await trio.to_thread.run_sync(self.proc.stdout.readline)
            if not line:
                raise RuntimeError(f"switchboard serve stopped before it was ready:\n{self.log.read_text()[-2000:]}")
            found = re.search(r"http on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
            if line.startswith("serve: ready"):
                return

    async def follow(self) -> None:
        """Keep its status lines (with the time they came) until it stops."""
        assert self.proc.stdout is not None
        while line := await trio.to_thread.run_sync(self.proc.stdout.readline, abandon_on_cancel=True):
            self.lines.append((time.time(), line.strip()))

    def token(self) -> str:
        return (self.data_dir / "admin-token").read_text(encoding="utf-8").strip()

    def cpu_s(self) -> tuple[float, float] | None:
        """CPU seconds of the process and of its main (engine) thread, or ``None`` where /proc is not there."""
        try:
            return _proc_cpu(f"/proc/{self.proc.pid}/stat"), _proc_cpu(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat")
        except OSError:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _proc_cpu(path: str) -> float:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def journal_figures(data_dir: Path, start: float, end: float) -> dict[str, Any]:
    """Contacts arrived, routed and abandoned per second between the engine times ``start`` and ``end`` (from
    the journal), and how long the routed ones waited to be offered."""
    from engine import journal as jm

    arrived_at: dict[str, float] = {}
    counts = {"ContactArrived": 0, "OfferAccepted": 0, "CustomerHungUp": 0}
    waits: list[float] = []
    for frame in jm.read_frames(data_dir):
        kind = type(frame.event).__name__
        if kind == "ContactArrived":
            arrived_at[frame.event.contact_id] = frame.now  # type: ignore[attr-defined]
        if not start <= frame.now < end or kind not in counts:
            continue
        counts[kind] += 1
        if kind == "OfferAccepted":
            arrived = arrived_at.get(frame.event.contact_id)  # type: ignore[attr-defined]
            if arrived is not None:
                waits.append(max(0.0, frame.now - arrived - RING_S))
    seconds = end - start
    waits.sort()
    return {"contacts_arrived_per_s": round(counts["ContactArrived"] / seconds, 1),
            "contacts_routed_per_s": round(counts["OfferAccepted"] / seconds, 1),
            "contacts_abandoned_per_s": round(counts["CustomerHungUp"] / seconds, 1),
            "offer_wait_p50_s": round(percentile(waits, 0.5), 3) if waits else None,
            "offer_wait_p99_s": round(percentile(waits, 0.99), 3) if waits else None}


# ------------------------------------------------------------------------------------------------ clients ----

class Load:
    """The clients' shared state: the window, the request mix, and what was measured."""

    def __init__(self, port: int, token: str, agents: int, seed: int, mix: list[MixEntry]) -> None:
        self.port = port
        self.token = token
        self.sim_agents = [f"b{i:04d}" for i in range(agents)]
        self.desk_agents = [f"desk{i:02d}" for i in range(DESK_AGENTS)]
        self.mix = mix
        self.routes: dict[str, Latencies] = {label: Latencies() for label, _, _ in self.mix}
        self.skipped: dict[str, int] = {}
        self.lags: list[float] = []
        self.frames = 0
        self.stream_absent = False
        self.stream_error: str | None = None
        self.seed = seed
        self.end = math.inf

    async def probe(self) -> None:
        """One request per route before the window: a route this server does not have (404) leaves the mix."""
        client = HttpConnection(self.port, self.token)
        rng = random.Random(self.seed)
        try:
            for label, _, make in self.mix:
                status, _ = await client.request(*make(rng, self.sim_agents, self.desk_agents))
                if status == 404:
                    self.skipped[label] = status
        finally:
            await client.close()
        self.mix = [entry for entry in self.mix if entry[0] not in self.skipped]

    async def http_client(self, index: int) -> None:
        client = HttpConnection(self.port, self.token)
        rng = random.Random(self.seed * 1000 + index)
        labels = [label for label, _, _ in self.mix]
        weights = [weight for _, weight, _ in self.mix]
        makers = {label: make for label, _, make in self.mix}
        try:
            while time.time() < self.end:
                label = rng.choices(labels, weights)[0]
                request = makers[label](rng, self.sim_agents, self.desk_agents)
                start = now()
                try:
                    status, _ = await client.request(*request)
                except (OSError, trio.BrokenResourceError, ValueError) as exc:  # h11.ProtocolError is a ValueError
                    self.routes[label].add(now() - start, f"connection: {type(exc).__name__}")
                    continue
                self.routes[label].add(now() - start, None if status < 400 else str(status))
        finally:
            await client.close()

    async def stream_client(self) -> None:
        try:
            ws = await WsConnection.open(self.port, "/v1/stream")
        except ConnectionError as exc:
            self.stream_absent = "refused with 404" in str(exc)
            self.stream_error = str(exc)
            return
        except OSError as exc:
            self.stream_error = str(exc) or type(exc).__name__
            return
        try:
            async with ws, aclosing(ws.frames()) as frames:
                await ws.send({"type": "auth", "token": self.token})
                async for frame in frames:
                    if frame.get("type") == "error":
                        self.stream_error = f"{frame.get('code')}: {frame.get('message', '')}"
                        return
                    at = frame.get("at")
                    if isinstance(at, (int, float)):
                        self.lags.append(time.time() - at)
                        self.frames += 1
                    if time.time() >= self.end:
                        return
        except (OSError, ConnectionError, trio.BrokenResourceError) as exc:
            self.stream_error = str(exc) or type(exc).__name__

    def total(self) -> Latencies:
        total = Latencies()
        for latencies in self.routes.values():
            total.merge(latencies)
        return total


async def _healthz(client: HttpConnection) -> tuple[int, int | None]:
    """The engine's accepted events and sink backlog (``None`` from a server that does not say)."""
    status, body = await client.request("GET", "/healthz")
    if status != 200:
        raise RuntimeError(f"/healthz answered {status}")
    health = json.loads(body)
    return int(health["accepted"]), health.get("sink_backlog")


def _progress(text: str) -> None:
    if sys.stderr is not None:
        sys.stderr.write(f"\rbench api: {text}   ")
        sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------- run ----

async def _measure(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    await server.started()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.follow)
        load = Load(server.port, server.token(), args.agents, args.seed, select_mix(args.routes))
        await load.probe()
        monitor = HttpConnection(server.port, load.token)
        warm_until = time.time() + args.warmup
        while (left := warm_until - time.time()) > 0:
            _progress(f"warming up, {left:4.1f} s left")
            await trio.sleep(min(1.0, left))
        (accepted0, _), cpu0, start = await _healthz(monitor), server.cpu_s(), time.time()
        backlogs: list[int] = []
        load.end = start + args.seconds
        async with trio.open_nursery() as clients:
            for i in range(args.clients):
                clients.start_soon(load.http_client, i)
            for _ in range(args.stream_clients):
                clients.start_soon(load.stream_client)
            last, last_accepted, last_count = start, accepted0, 0
            while (t := time.time()) < load.end:
                await trio.sleep(min(1.0, load.end - t))
                (accepted, backlog), count = await _healthz(monitor), len(load.total().samples)
                if backlog is not None:
                    backlogs.append(backlog)
                elapsed = time.time() - last
                _progress(f"{time.time() - start:5.1f}/{args.seconds:g} s  {(count - last_count) / elapsed:7.0f} req/s  "
                          f"engine {(accepted - last_accepted) / elapsed:6.0f} events/s")
                last, last_accepted, last_count = time.time(), accepted, count
            clients.cancel_scope.deadline = trio.current_time() + 3.0  # a stream client waits for its next frame
        (accepted1, _), cpu1, end = await _healthz(monitor), server.cpu_s(), time.time()
        await monitor.close()
        nursery.cancel_scope.cancel()
    if sys.stderr is not None:
        sys.stderr.write("\n")
    seconds = end - start
    engine: dict[str, Any] = {"events_per_s": round((accepted1 - accepted0) / seconds, 1)}
    if cpu0 is not None and cpu1 is not None:
        engine["cpu_pct"] = round(100 * (cpu1[0] - cpu0[0]) / seconds, 1)
        engine["main_thread_cpu_pct"] = round(100 * (cpu1[1] - cpu0[1]) / seconds, 1)
    engine["sink_backlog_max"] = max(backlogs) if backlogs else None
    engine["status_line"] = next((line for at, line in reversed(server.lines) if at <= end), None)
    total = load.total().summary(seconds)
    return {"load": load, "start": start, "end": end, "engine": engine, "total": total}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the bench and return its figures: ``rate``, ``agents``, ``clients``, ``stream_clients``, ``seconds``,
    ``staffing`` (``erlangs``, ``occupancy``), ``requests``, ``requests_per_s``, ``latency_ms`` (``p50``, ``p90``,
    ``p99``, ``max``), ``errors`` (by status, or ``connection: ...``), ``routes`` (the same per route label),
    ``skipped_routes`` (absent from this server), ``engine`` (``events_per_s``, ``contacts_arrived_per_s``,
    ``contacts_routed_per_s``, ``contacts_abandoned_per_s``, ``offer_wait_p50_s``, ``offer_wait_p99_s``,
    ``cpu_pct``, ``main_thread_cpu_pct``, ``sink_backlog_max``, ``status_line``: its last in the window) and ``stream`` (``available``, ``clients``,
    ``frames``, ``lag_ms``: ``p50``, ``p99``, ``max``; ``error`` when it could not be read)."""
    erlangs = args.rate * (RING_S + args.talk_s + args.wrap_s)
    select_mix(args.routes)  # a bad --routes stops here, before a server is started
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-api-") as temp:
        root = Path(temp)
        data_dir = args.keep if args.keep is not None else root / "data"
        config = root / "center.toml"
        config.write_text(center_toml(args.agents, args.wrap_s), encoding="utf-8")
        server = Server(data_dir, config, root / "serve.log", args)
        try:
            measured = trio.run(_measure, server, args)
        finally:
            server.stop()
        engine = {**measured["engine"], **journal_figures(data_dir, measured["start"], measured["end"])}
    load: Load = measured["load"]
    seconds = measured["end"] - measured["start"]
    total = measured["total"]
    lags = sorted(load.lags)
    stream: dict[str, Any] = {"available": not load.stream_absent,
                              "clients": args.stream_clients, "frames": load.frames,
                              "lag_ms": {"p50": round(percentile(lags, 0.5) * 1000, 1) if lags else None,
                                         "p99": round(percentile(lags, 0.99) * 1000, 1) if lags else None,
                                         "max": round(lags[-1] * 1000, 1) if lags else None}}
    if load.stream_error is not None:
        stream["error"] = load.stream_error
    return {
        "rate": args.rate, "agents": args.agents, "clients": args.clients, "stream_clients": args.stream_clients,
        "seconds": round(seconds, 2),
        "staffing": {"erlangs": round(erlangs, 1), "occupancy": round(erlangs / max(1, args.agents), 3)},
        "requests": total["count"], "requests_per_s": total["per_s"],
        "latency_ms": {k: total[k] for k in ("p50", "p90", "p99", "max")}, "errors": total["errors"],
        "routes": {label: latencies.summary(seconds) for label, latencies in load.routes.items()
                   if label not in load.skipped},
        "skipped_routes": sorted(load.skipped), "engine": engine, "stream": stream,
    }
