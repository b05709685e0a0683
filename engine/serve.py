"""``switchboard serve``: run the engine on a data directory until SIGTERM / SIGINT.

On start the data directory is recovered if it holds a journal (newest valid snapshot + the frames after it; the
log says which snapshot and how many events were replayed), otherwise it is initialised from the configuration
(``--config FILE``, or the embedded demo): the configuration is recorded as the directory's *genesis* record, so
that replaying the journal from its first frame rebuilds exactly the same state. Configured agents who are logged
out are logged in and made ready (``--no-login`` to leave them alone), so the demo routes at once.

With ``--config`` on a recovered directory, the file's agents, queues and workflows that differ from the running
configuration are applied as ``UpsertQueue`` / ``UpsertWorkflow`` / ``UpsertAgent`` / ``RemoveAgent`` events (so
they are journaled like everything else); skills, channels, dispositions and the seed cannot change live and are
reported.

``--sim-load RATE`` drives the engine in real time with the simulator's callers and agents
(``engine.sim.channel.SimulatedChannel``): Poisson arrivals at RATE contacts per second over the voice queues,
callers who abandon, agents who answer, talk and hang up.

One status line is printed every ``--status-every`` seconds; ``seq=N`` in it means every event up to N is in
the journal (acknowledged). SIGTERM / SIGINT shut down cleanly: the journal is synced and a final snapshot written.

Plugins (``plugins.host.PluginHost``) come first: the store (``engine.store.target``) is opened and
every plugin configured strictly from the configuration file's ``[plugins]`` sections, so a bad section stops the
start with ``file:line: key: problem`` before the journal is touched. One channel dispatcher then carries the
ACD's actions to the channel hooks of every channel (and each contact's record to the CRMs).

The HTTP side (``--host`` / ``--port``) is the admin API (``admin_api.create_app``: ``/healthz``, the chat widget
and agent chat over WebSocket), served by hypercorn in the engine's nursery. With a ``[plugins.email]`` section the
SMTP listener runs there too. This module is the process's composition root: the one place of ``engine`` that
reaches ``plugins`` and ``admin_api``, lazily.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import random
import signal
import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import trio

from engine import journal as jm
from engine.errors import AcdError, JournalError, SwitchboardError
from engine.events import (
    Action,
    AgentHungUp,
    AgentLogin,
    AgentReady,
    AgentStateChanged,
    CustomerHungUp,
    Event,
    OfferAccepted,
    RemoveAgent,
    UpsertAgent,
    UpsertQueue,
    UpsertWorkflow,
)
from engine.journal import Journal
from engine.model import CenterConfig
from engine.runtime import Runtime
from engine.store.target import add_store_arguments

log = logging.getLogger("switchboard.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP side (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of the HTTP side; 0 picks a free one "
                        "(default 8080)")
    parser.add_argument("--data-dir", default="./var", help="journal and snapshots (default ./var)")
    parser.add_argument("--config", metavar="FILE", help="routing configuration (TOML); default: the embedded demo")
    add_store_arguments(parser, config=False)
    parser.add_argument("--sim-load", type=float, metavar="RATE", default=None,
                        help="drive the engine with simulated callers at RATE contacts/s and simulated agents")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated load (default 1)")
    parser.add_argument("--fsync", choices=jm.FSYNC_POLICIES, default="batch",
                        help="journal durability: always (every event), batch (every --fsync-ms), never "
                             "(default batch)")
    parser.add_argument("--fsync-ms", type=float, default=50.0, help="batch fsync period in ms (default 50)")
    parser.add_argument("--snapshot-every", type=int, default=10_000, metavar="N",
                        help="snapshot after every N events (default 10000)")
    parser.add_argument("--keep-snapshots", type=int, default=2, metavar="N",
                        help="snapshots to keep, with the journal segments needed to replay from the oldest; "
                             "0 keeps everything (default 2)")
    parser.add_argument("--status-every", type=float, default=5.0, metavar="SECONDS",
                        help="period of the status line (default 5; 0 turns it off)")
    parser.add_argument("--no-login", action="store_true",
                        help="do not log in and make ready the configured agents at start")
    parser.add_argument("--no-http", action="store_true", help="do not start the HTTP side")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return trio.run(serve, args)


# --------------------------------------------------------------------------------------------- start ----

def _load_config(args: argparse.Namespace) -> tuple[CenterConfig, Any]:
    """The routing configuration and the ``TomlFile`` it came from (``None`` for the embedded demo)."""
    from engine.config import demo_config, parse_config
    from engine.tomlfile import TomlFile

    if not args.config:
        return demo_config(), None
    doc = TomlFile.read(args.config)
    return parse_config(doc.data, args.config), doc


def open_engine(data_dir: Path, config: CenterConfig, fsync: str, fsync_ms: float = 50.0
                ) -> tuple[Any, Journal, str, bool]:
    """Recover ``data_dir`` or initialise it from ``config``: ``(center, journal, what happened, recovered)``; the
    center is the ACD and the dialer (``engine.center.Center``)."""
    from engine.center import Center

    if jm.has_journal(data_dir):
        journal = Journal.open(data_dir, fsync=fsync, batch_ms=fsync_ms)  # cuts a torn tail off first
        try:
            r = jm.recover_info(data_dir, config, acd_factory=Center.build, acd_restore=Center.restore)
        except BaseException:
            journal.close()
            raise
        if r.last_seq != journal.last_seq:
            journal.close()
            raise JournalError(f"{data_dir}: recovered seq {r.last_seq} but the journal ends at {journal.last_seq}")
        torn = f"; dropped a torn last frame ({journal.torn.torn})" if journal.torn else ""
        skipped = f"; {len(r.skipped_snapshots)} unusable snapshot(s) skipped" if r.skipped_snapshots else ""
        return r.acd, journal, r.describe() + skipped + torn, True
    acd = Center.build(config)  # ConfigError before anything is written
    journal = Journal.open(data_dir, fsync=fsync, batch_ms=fsync_ms)  # takes the directory's lock
    try:
        jm.write_genesis(data_dir, config)
    except BaseException:
        journal.close()
        raise
    return acd, journal, f"new data directory {data_dir}", False


def config_changes(current: CenterConfig, wanted: CenterConfig) -> tuple[list[Event], list[str]]:
    """Events turning ``current`` into ``wanted`` live, and what cannot change live."""
    events: list[Event] = []
    cur_q = {q.id: q for q in current.queues}
    for q in wanted.queues:
        if cur_q.get(q.id) != q:
            events.append(UpsertQueue(q))
    cur_w = {w.id: w for w in current.workflows}
    for w in wanted.workflows:
        if cur_w.get(w.id) != w:
            events.append(UpsertWorkflow(w))
    cur_a = {a.id: a for a in current.agents}
    want_a = {a.id for a in wanted.agents}
    for a in wanted.agents:
        if cur_a.get(a.id) != a:
            events.append(UpsertAgent(a))
    for aid in cur_a:
        if aid not in want_a:
            events.append(RemoveAgent(aid))
    fixed = []
    for name in ("skills", "channels", "dispositions", "seed"):
        if getattr(current, name) != getattr(wanted, name):
            fixed.append(name)
    gone = sorted({q.id for q in current.queues} - {q.id for q in wanted.queues}) + \
        sorted({w.id for w in current.workflows} - {w.id for w in wanted.workflows})
    if gone:
        fixed.append("removal of queues/workflows " + ", ".join(gone))
    return events, fixed


async def _submit_quietly(runtime: Runtime, event: Event) -> bool:
    try:
        await runtime.submit(event)
        return True
    except AcdError as exc:
        log.warning("%s refused: %s", type(event).__name__, exc)
        return False


# --------------------------------------------------------------------------------------------- load ----

class SimulatedLoad:
    """The simulator's callers and agents (``SimulatedChannel``) in real time against the runtime.

    It is an action sink (``handle``) that schedules the channel's replies on a heap, and a task that submits
    each one when it comes due. With ``plugin`` (the built-in ``sim`` plugin, as ``serve`` runs it) the
    simulator is reached only through the channel and observer hooks, like any channel adapter. Events the ACD refuses (an answer to an offer withdrawn meanwhile) are counted and
    dropped, as a real channel's would be.
    """

    def __init__(self, runtime: Runtime, config: CenterConfig, rate: float, seed: int, plugin: Any = None) -> None:
        from engine.sim.channel import SimulatedChannel
        from engine.sim.distributions import Distribution

        queues = [q.id for q in config.queues if q.channel == "voice"] or [q.id for q in config.queues]
        if not queues:
            raise SwitchboardError("--sim-load: the configuration has no queue")
        self.runtime = runtime
        self.talk = Distribution.exponential(20.0)
        self.channel = SimulatedChannel(
            agents=[a.id for a in config.agents], talk=self.talk,
            arrival_rates={q: rate / len(queues) for q in queues},
            patience=Distribution.exponential(60.0), answer=Distribution.fixed(1.0), seed=seed,
            contact_prefix=f"sim{seed}-{int(runtime.now() * 1000)}-",
        )
        self.plugin = plugin
        if plugin is not None:
            plugin.attach(self.channel)
        self._heap: list[tuple[float, int, Event]] = []
        self._n = 0
        self._wake = trio.Event()
        self.submitted = 0
        self.refused = 0

    def _push(self, items: Iterable[tuple[float, Event]]) -> None:
        for at, event in items:
            self._n += 1
            heapq.heappush(self._heap, (at, self._n, event))
        self._wake.set()

    def handle(self, action: Action, now: float) -> None:
        if self.plugin is None:
            self._push(self.channel.handle(action, now))
        else:  # the channel actions reach it through the dispatcher (on_result); observer events through the hook
            self._push(self.plugin.drain())
        if isinstance(action, AgentStateChanged) and action.state == "not-ready" and \
                action.reason not in ("logging-out", "login"):
            self._push([(now + 2.0, AgentReady(action.agent_id))])  # back after a missed offer or a decline

    def on_result(self, hook: str, result: Any, now: float) -> None:
        """The channel dispatcher's ``on_result``: the simulator's answer to a channel hook is its follow-ups."""
        if isinstance(result, list):
            self._push(result)

    def resume(self, acd: Any, now: float) -> None:
        """Pick up contacts a recovered ACD has in flight: answer offers, end conversations, let callers wait."""
        try:
            digest = acd.digest()
        except Exception:
            return
        rng_talk = self.talk.sampler(random.Random(now))
        for cid, info in sorted(digest.get("contacts", {}).items()):
            state, agent = info[0], info[2]
            if state == "offered" and agent:
                self.channel.ringing[cid] = agent
                self._push([(now + 1.0, OfferAccepted(agent, cid))])
            elif state == "connected" and agent:
                self.channel.talking[cid] = agent
                self._push([(now + rng_talk(), AgentHungUp(agent, cid))])
            elif state == "queued":
                self.channel.waiting.add(cid)
                self._push([(now + 60.0, CustomerHungUp(cid))])
        for aid, info in sorted(digest.get("agents", {}).items()):
            if info[0] == "not-ready" and info[2]:
                self._push([(now, AgentReady(aid))])

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        runtime = self.runtime
        self._push(self.channel.start(runtime.now()))
        task_status.started()
        while True:
            self._wake = trio.Event()
            if not self._heap:
                await self._wake.wait()
                continue
            at = self._heap[0][0]
            if at > runtime.now():
                with trio.move_on_at(runtime.trio_deadline(at)):
                    await self._wake.wait()
                    continue
            _, _, event = heapq.heappop(self._heap)
            follow = self.channel.due(event, max(at, runtime.now()))
            if follow is None:
                continue
            self._push(follow)
            try:
                await runtime.submit(event)
                self.submitted += 1
            except AcdError as exc:
                self.refused += 1
                log.debug("simulated %s refused: %s", type(event).__name__, exc)


# --------------------------------------------------------------------------------------------- HTTP ----

async def _serve_http(api: Any, host: str, port: int, *,
                      task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """The admin API (``admin_api.create_app``) in the engine's nursery: API and engine start and stop together."""
    from admin_api.app import create_app
    from admin_api.app import serve as serve_app

    await serve_app(create_app(api), host, port, task_status=task_status)


# --------------------------------------------------------------------------------------------- main ----

def status_line(runtime: Runtime, load: SimulatedLoad | None, plugin_faults: int = 0) -> str:
    digest = runtime.acd.digest()
    agents = digest.get("agents", {})
    waiting = sum(len(q) for q in digest.get("queues", {}).values())
    available = sum(1 for a in agents.values() if a[0] == "available")
    logged_in = sum(1 for a in agents.values() if a[0] != "logged-out")
    line = (f"serve: seq={runtime.seq} accepted={runtime.accepted} refused={runtime.refused} waiting={waiting} "
            f"available={available}/{logged_in} contacts={len(digest.get('contacts', {}))}")
    if load is not None:
        line += f" sim_submitted={load.submitted} sim_refused={load.refused}"
    if plugin_faults:
        line += f" plugin_faults={plugin_faults}"
    return line


async def serve(args: argparse.Namespace) -> int:
    # The composition root: the one place of ``engine`` that reaches ``plugins`` and ``admin_api`` (lazily).
    from plugins.host import PluginHost

    config, config_file = _load_config(args)
    data_dir = Path(args.data_dir)
    # Plugins first: a bad plugin section stops the start before the journal is touched.
    host = await trio.to_thread.run_sync(partial(PluginHost.open, data_dir, config_file, store_option=args.store))
    try:
        return await _serve_engine(args, config, data_dir, host)
    finally:
        host.close()


async def _serve_engine(args: argparse.Namespace, config: CenterConfig, data_dir: Path, host: Any) -> int:
    from admin_api.context import EngineHandle

    acd, journal, how, recovered = await trio.to_thread.run_sync(open_engine, data_dir, config, args.fsync, args.fsync_ms)
    log.info("%s", how)
    keep = args.keep_snapshots
    runtime = Runtime(acd, journal, snapshot_every=max(1, args.snapshot_every), keep_snapshots=max(1, keep),
                      prune=keep > 0)
    dispatcher = host.attach(runtime)
    compliance = _attach_dialer_sinks(runtime, host)
    reports = _attach_reports(runtime, host)
    api = EngineHandle(runtime, host.manager, host.config, dispatcher=dispatcher)
    load: SimulatedLoad | None = None
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await compliance.resume(runtime.acd)
            await nursery.start(reports.run)
            if not args.no_http:
                binds = await nursery.start(_serve_http, api, args.host, args.port)
                print(f"serve: http on {' '.join(binds)}", flush=True)
            email = host.manager.pm.get_plugin("email")
            if email is not None and "email" in host.config.get("plugins", {}):
                email.attach(runtime, host.manager, dispatcher)
                port = await nursery.start(email.serve)
                print(f"serve: smtp on {email.settings.listen_host}:{port}", flush=True)
            if args.config and recovered:
                events, fixed = config_changes(acd.config_now(), config)
                for event in events:
                    await _submit_quietly(runtime, event)
                if events:
                    log.info("applied %d configuration change(s) from %s", len(events), args.config)
                if fixed:
                    log.warning("%s: cannot change live, kept from the data directory: %s", args.config,
                                "; ".join(fixed))
            if not args.no_login:
                for agent in runtime.acd.config_now().agents:
                    state = runtime.acd.agent_state(agent.id)[0]
                    if state == "logged-out":
                        await _submit_quietly(runtime, AgentLogin(agent.id))
                        await _submit_quietly(runtime, AgentReady(agent.id))
            if args.sim_load:
                if not (args.sim_load > 0 and math.isfinite(args.sim_load)):
                    raise SwitchboardError(f"--sim-load must be a rate > 0, got {args.sim_load}")
                # The simulator is a channel plugin like any other: the dispatcher hands it the ACD's actions.
                load = SimulatedLoad(runtime, runtime.acd.config_now(), args.sim_load, args.seed,
                                     plugin=host.manager.pm.get_plugin("sim"))
                dispatcher.on_result = load.on_result
                runtime.add_sink(load)
                load.resume(runtime.acd, runtime.now())
                await nursery.start(load.run)
            print(f"serve: ready seq={runtime.seq} ({how})", flush=True)
            if args.status_every > 0:
                nursery.start_soon(_status_loop, runtime, load, host.manager, args.status_every)
            async for signum in signals:
                log.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
    print(f"serve: stopped seq={runtime.seq}", flush=True)
    return 0


def _attach_reports(runtime: Runtime, host: Any) -> Any:
    """The report counters, gathered from the runtime's actions and flushed to the store (``ReportWriter``)."""
    from engine.report_writer import ReportWriter
    from engine.reports import ReportAggregator

    aggregator = ReportAggregator.for_center(runtime.acd)
    runtime.add_sink(aggregator)
    return ReportWriter(aggregator, host.store)


def _attach_dialer_sinks(runtime: Runtime, host: Any) -> Any:
    """The dialer's way out: its compliance questions answered by the rules (audited in the store) and its lead
    updates written to the store, both off the routing path. Returns the compliance sink (to ``resume``)."""
    from engine.lead_writer import LeadWriter
    from plugins.compliance_gate import ComplianceGate, ComplianceSink

    compliance = ComplianceSink(runtime, ComplianceGate(host.manager, host.store))
    runtime.add_sink(compliance)
    runtime.add_sink(LeadWriter(host.store))
    return compliance


async def _status_loop(runtime: Runtime, load: SimulatedLoad | None, manager: Any, every: float) -> None:
    while True:
        await trio.sleep(every)
        print(status_line(runtime, load, sum(manager.faults.values())), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="switchboard serve")
    add_arguments(parser)
    ns = parser.parse_args()
    try:
        sys.exit(run(ns))
    except SwitchboardError as exc:
        print(f"switchboard serve: error: {exc}", file=sys.stderr)
        sys.exit(2)
