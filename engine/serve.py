"""``switchboard serve``: run the engine on a data directory until SIGTERM / SIGINT.

On start the data directory is recovered if it holds a journal (newest valid snapshot + the frames after it; the
log says which snapshot and how many events were replayed), otherwise it is initialised from the configuration
(``--config FILE``, or the embedded demo): the configuration is recorded as the directory's *genesis* record, so
that replaying the journal from its first frame rebuilds exactly the same state. Configured agents who are logged
out are logged in and made ready (``--no-login`` to leave them alone), so the demo routes at once.

With ``--config`` on a recovered directory, what the file changed since it was last applied (kept in
``<data-dir>/config-applied.json``) is applied as ``AddSkill`` / ``UpsertQueue`` / ``UpsertWorkflow`` /
``UpsertAgent`` / ``RemoveAgent`` / ``RemoveWorkflow`` / ``RemoveQueue`` events (journaled like everything else),
so changes made through the admin API to what the file did not touch survive a restart; channels, dispositions,
the seed and the removal of skills cannot change live and are reported.

``--sim-load RATE`` drives the engine in real time with the simulator's callers and agents
(``engine.sim.channel.SimulatedChannel``): Poisson arrivals at RATE contacts per second over the voice queues,
callers who abandon, agents who answer, talk and hang up.

One status line is printed every ``--status-every`` seconds; ``seq=N`` in it means every event up to N is in
the journal (acknowledged). SIGTERM / SIGINT shut down cleanly: the journal is synced and a final snapshot written.

At start, once the engine runs, every campaign's open leads in the store that its dialer does not have yet
(imported by ``switchboard leads import`` while the server was down or running) are handed to it
(``engine.lead_handover.sync_all``).

Plugins (``plugins.host.PluginHost``) come first: the store (``engine.store.target``) is opened and
every plugin configured strictly from the configuration file's ``[plugins]`` sections, so a bad section stops the
start with ``file:line: key: problem`` before the journal is touched. One channel dispatcher then carries the
ACD's actions to the channel hooks of every channel (and each contact's record to the CRMs).

The HTTP side (``--host`` / ``--port``) is the admin API (``admin_api.create_app``: ``/healthz``, the chat widget
and agent chat over WebSocket), served by hypercorn in the engine's nursery. The WebRTC gateway (browser agents and
web callers with audio: ``docs/gateway.md``) runs there too, with its media worker processes, when the
configuration has a ``[plugins.webrtc]`` section, and by default on the embedded demo (``--no-webrtc`` turns it
off). With a ``[plugins.email]`` section the
SMTP listener runs there too. This module is the process's composition root: the one place of ``engine`` that
reaches ``plugins`` and ``admin_api``, lazily.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import signal
import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import trio

from engine import journal as jm
from engine.errors import AcdError, JournalError, SwitchboardError
from engine.events import (
    Action,
    AddSkill,
    AgentHungUp,
    AgentLogin,
    AgentReady,
    AgentStateChanged,
    ContactRecord,
    ContactStateChanged,
    CustomerHungUp,
    Event,
    OfferAccepted,
    RemoveAgent,
    RemoveQueue,
    RemoveWorkflow,
    UpsertAgent,
    UpsertQueue,
    UpsertWorkflow,
)
from engine.journal import Journal
from engine.model import CenterConfig
from engine.runtime import Runtime
from engine.sim.live import ScheduledEvents
from engine.store.target import add_store_arguments

if TYPE_CHECKING:
    from engine.acd import Acd

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
    parser.add_argument("--sim-talk-s", type=float, default=20.0, metavar="SECONDS",
                        help="mean talk time of the simulated contacts (default 20)")
    parser.add_argument("--sim-patience-s", type=float, default=60.0, metavar="SECONDS",
                        help="mean patience of the simulated callers before they hang up (default 60)")
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
    parser.add_argument("--no-webrtc", action="store_true",
                        help="do not start the WebRTC gateway (on by default with the embedded demo, else with a "
                             "[plugins.webrtc] section)")
    parser.add_argument("--live-timezone", default="UTC", metavar="ZONE",
                        help="the live figures' day begins at midnight in this IANA time zone (default UTC)")
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


def config_changes(current: CenterConfig, wanted: CenterConfig, base: CenterConfig | None = None
                   ) -> tuple[list[Event], list[str]]:
    """Events turning ``current`` into ``wanted`` live, and what cannot change live.

    With ``base`` (the file's configuration as it was last applied), only what the file changed since then is
    applied: skills, agents, queues and workflows that the file adds, changes or drops relative to ``base``.
    Changes made since through the admin API to things the file did not touch are kept; where both changed the
    same agent, queue or workflow, the file wins. Without ``base`` the whole file is applied (it wins everywhere).
    """
    reference = base if base is not None else current
    events: list[Event] = [AddSkill(s) for s in wanted.skills if s not in current.skills]

    def changed(old: dict[str, Any], new: dict[str, Any], now: dict[str, Any]) -> tuple[list[Any], list[str]]:
        upserts = [item for key, item in new.items() if old.get(key) != item and now.get(key) != item]
        removals = [key for key in old if key not in new and key in now]
        return upserts, removals

    agents, gone_agents = changed({a.id: a for a in reference.agents}, {a.id: a for a in wanted.agents},
                                  {a.id: a for a in current.agents})
    queues, gone_queues = changed({q.id: q for q in reference.queues}, {q.id: q for q in wanted.queues},
                                  {q.id: q for q in current.queues})
    flows, gone_flows = changed({w.id: w for w in reference.workflows}, {w.id: w for w in wanted.workflows},
                                {w.id: w for w in current.workflows})
    events += [UpsertQueue(q) for q in queues] + [UpsertWorkflow(w) for w in flows]
    events += [UpsertAgent(a) for a in agents] + [RemoveAgent(a) for a in gone_agents]
    events += [RemoveWorkflow(w) for w in gone_flows] + [RemoveQueue(q) for q in gone_queues]
    fixed = [name for name in ("channels", "dispositions", "seed") if getattr(reference, name) != getattr(wanted, name)]
    dropped = [s for s in reference.skills if s not in wanted.skills and s in current.skills]
    if dropped:
        fixed.append("removal of skills " + ", ".join(dropped))
    return events, fixed


APPLIED_CONFIG_FILE = "config-applied.json"
"""The ``--config`` file's configuration as last applied to the data directory (the base of the next restart's
changes, so a restart does not undo what the admin API changed since)."""


def _read_applied(data_dir: Path) -> CenterConfig | None:
    import json

    try:
        return CenterConfig.from_dict(json.loads((data_dir / APPLIED_CONFIG_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_applied(data_dir: Path, config: CenterConfig) -> None:
    import json
    import os

    path = data_dir / APPLIED_CONFIG_FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(config.to_dict(), sort_keys=True), encoding="utf-8")
    os.replace(temp, path)


async def _submit_quietly(runtime: Runtime, event: Event) -> bool:
    try:
        await runtime.submit(event)
        return True
    except AcdError as exc:
        log.warning("%s refused: %s", type(event).__name__, exc)
        return False


# --------------------------------------------------------------------------------------------- load ----

class SimulatedLoad(ScheduledEvents):
    """The simulator's callers and agents (``SimulatedChannel``) in real time against the runtime.

    It is an action sink (``handle``) that schedules the channel's replies, and a task (``run``, from
    ``engine.sim.live.ScheduledEvents``) that submits them in batches as they come due, waking at most every
    ``granularity_s``. With ``plugin`` (the built-in ``sim`` plugin, as ``serve`` runs it) the simulator is reached
    only through the channel and observer hooks, like any channel adapter, and the sink is offered only the actions
    that can schedule something (``accepts``). Events the ACD refuses (an answer to an offer withdrawn meanwhile)
    are counted and dropped, as a real channel's would be.
    """

    def __init__(self, runtime: Runtime, config: CenterConfig, rate: float, seed: int, plugin: Any = None, *,
                 talk_s: float = 20.0, patience_s: float = 60.0, granularity_s: float = 0.005) -> None:
        from engine.sim.channel import SimulatedChannel
        from engine.sim.distributions import Distribution

        super().__init__(runtime, granularity_s=granularity_s)
        queues = [q.id for q in config.queues if q.channel == "voice"] or [q.id for q in config.queues]
        if not queues:
            raise SwitchboardError("--sim-load: the configuration has no queue")
        self.talk = Distribution.exponential(talk_s)
        self.channel = SimulatedChannel(
            agents=[a.id for a in config.agents], talk=self.talk,
            arrival_rates={q: rate / len(queues) for q in queues},
            patience=Distribution.exponential(patience_s), answer=Distribution.fixed(1.0), seed=seed,
            contact_prefix=f"sim{seed}-{int(runtime.now() * 1000)}-",
        )
        self.plugin = plugin
        if plugin is not None:
            plugin.attach(self.channel)
            # the observer events the plugin answers (drained here), and agents going not-ready (see handle)
            self.accepts: tuple[type, ...] | None = (ContactStateChanged, ContactRecord, AgentStateChanged)
        else:
            self.accepts = None

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

    def first_events(self, now: float) -> Iterable[tuple[float, Event]]:
        return self.channel.start(now)

    def due(self, event: Event, at: float) -> Iterable[tuple[float, Event]] | None:
        return self.channel.due(event, at)

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


# --------------------------------------------------------------------------------------------- HTTP ----

async def _serve_http(api: Any, host: str, port: int, *,
                      task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """The admin API (``admin_api.create_app``) in the engine's nursery: API and engine start and stop together."""
    from admin_api.app import create_app
    from admin_api.app import serve as serve_app

    await serve_app(create_app(api), host, port, task_status=task_status)


# --------------------------------------------------------------------------------------------- main ----

def acd_of(runtime: Runtime) -> Acd:
    """The runtime's state machine, which serve always makes an ``Acd`` (the runtime only needs ``AcdLike``)."""
    return cast("Acd", runtime.acd)


def status_line(runtime: Runtime, load: SimulatedLoad | None, plugin_faults: int = 0,
                write_backs_dropped: int = 0) -> str:
    digest = acd_of(runtime).digest()
    agents = digest.get("agents", {})
    waiting = sum(len(q) for q in digest.get("queues", {}).values())
    available = sum(1 for a in agents.values() if a[0] == "available")
    logged_in = sum(1 for a in agents.values() if a[0] != "logged-out")
    line = (f"serve: seq={runtime.seq} accepted={runtime.accepted} refused={runtime.refused} waiting={waiting} "
            f"available={available}/{logged_in} contacts={len(digest.get('contacts', {}))} "
            f"backlog={runtime.sink_backlog()}")
    if load is not None:
        line += f" sim_submitted={load.submitted} sim_refused={load.refused}"
    if plugin_faults:
        line += f" plugin_faults={plugin_faults}"
    if write_backs_dropped:
        line += f" write_backs_dropped={write_backs_dropped}"
    return line


async def serve(args: argparse.Namespace) -> int:
    # The composition root: the one place of ``engine`` that reaches ``plugins`` and ``admin_api`` (lazily).
    from engine.config import check_timezone
    from plugins.host import PluginHost

    check_timezone(args.live_timezone, "--live-timezone")
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
    from engine import lead_handover
    from engine.live import LiveFigures

    acd, journal, how, recovered = await trio.to_thread.run_sync(open_engine, data_dir, config, args.fsync, args.fsync_ms)
    log.info("%s", how)
    keep = args.keep_snapshots
    runtime = Runtime(acd, journal, snapshot_every=max(1, args.snapshot_every), keep_snapshots=max(1, keep),
                      prune=keep > 0)
    dispatcher = host.attach(runtime)
    compliance = _attach_dialer_sinks(runtime, host)
    writers = _attach_writers(runtime, host)
    dispatcher.on_record = writers[-1].amend  # what a channel adapter adds to a record (a recording) reaches the CDR
    live = LiveFigures(acd, timezone=args.live_timezone)
    runtime.add_sink(live)
    api = EngineHandle(runtime, host.manager, host.config, dispatcher=dispatcher, live=live)
    load: SimulatedLoad | None = None
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await nursery.start(dispatcher.run)
            await compliance.resume(runtime.acd)
            handed = await lead_handover.sync_all(runtime, host.store)
            if any(handed.values()):
                log.info("leads handed to the dialer from the store: %s",
                         ", ".join(f"{c} {n}" for c, n in handed.items() if n))
            for writer in writers:
                await nursery.start(writer.run)
            if not args.no_http and not args.no_webrtc:
                await _start_gateway(nursery, runtime, host, dispatcher, data_dir, demo=not args.config)
            if not args.no_http:
                await trio.to_thread.run_sync(_bootstrap_admin_token, host.store, data_dir)
                binds = await nursery.start(_serve_http, api, args.host, args.port)
                print(f"serve: http on {' '.join(binds)}", flush=True)
            email = host.manager.pm.get_plugin("email")
            if email is not None and "email" in host.config.get("plugins", {}):
                email.attach(runtime, host.manager, dispatcher)
                port = await nursery.start(email.serve)
                print(f"serve: smtp on {email.settings.listen_host}:{port}", flush=True)
            if args.config and recovered:
                base = await trio.to_thread.run_sync(_read_applied, data_dir)
                events, fixed = config_changes(acd.config_now(), config, base)
                for event in events:
                    await _submit_quietly(runtime, event)
                if events:
                    log.info("applied %d configuration change(s) from %s", len(events), args.config)
                if fixed:
                    log.warning("%s: cannot change live, kept from the data directory: %s", args.config,
                                "; ".join(fixed))
            if args.config:
                await trio.to_thread.run_sync(_write_applied, data_dir, config)
            if not args.no_login:
                for agent in acd_of(runtime).config_now().agents:
                    state = acd_of(runtime).agent_state(agent.id)[0]
                    if state == "logged-out":
                        await _submit_quietly(runtime, AgentLogin(agent.id))
                        await _submit_quietly(runtime, AgentReady(agent.id))
            if args.sim_load:
                for flag, value in (("--sim-load", args.sim_load), ("--sim-talk-s", args.sim_talk_s),
                                    ("--sim-patience-s", args.sim_patience_s)):
                    if not (value > 0 and math.isfinite(value)):
                        raise SwitchboardError(f"{flag} must be > 0, got {value}")
                # The simulator is a channel plugin like any other: the dispatcher hands it the ACD's actions.
                load = SimulatedLoad(runtime, acd_of(runtime).config_now(), args.sim_load, args.seed,
                                     plugin=host.manager.pm.get_plugin("sim"), talk_s=args.sim_talk_s,
                                     patience_s=args.sim_patience_s)
                dispatcher.on_result = load.on_result
                runtime.add_sink(load)
                load.resume(runtime.acd, runtime.now())
                await nursery.start(load.run)
            print(f"serve: ready seq={runtime.seq} ({how})", flush=True)
            if args.status_every > 0:
                nursery.start_soon(_status_loop, runtime, load, host.manager, dispatcher, args.status_every)
            async for signum in signals:
                log.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
    print(f"serve: stopped seq={runtime.seq}", flush=True)
    return 0


async def _start_gateway(nursery: trio.Nursery, runtime: Runtime, host: Any, dispatcher: Any, data_dir: Path, *,
                         demo: bool) -> None:
    """The WebRTC gateway (plugin ``webrtc``, ``docs/gateway.md``) in the engine's nursery, when its section
    turns it on (``[plugins.webrtc]``) or on the embedded demo; its sockets are served by the admin API."""
    from functools import partial

    plugin = host.manager.pm.get_plugin("webrtc")
    settings = plugin.wanted(default_on=demo) if plugin is not None else None
    if settings is None:
        return
    gateway = await nursery.start(partial(plugin.run, runtime, host.manager, settings, data_dir,
                                          dispatcher=dispatcher))
    ivr = "the IVR" if gateway.ivr is not None else f"queue {settings.default_queue!r}"
    print(f"serve: webrtc gateway with {settings.workers or 'one per CPU'} media worker(s); web callers go to "
          f"{ivr}", flush=True)


ADMIN_TOKEN_FILE = "admin-token"


def _bootstrap_admin_token(store: Any, data_dir: Path) -> None:
    """On a store with no user and no token (a fresh install), make an admin token and write it to
    ``<data-dir>/admin-token`` (readable by the owner only), so the first operator can reach the API and the
    wallboard; ``switchboard token create`` and ``switchboard user add`` make the others."""
    from admin_api.auth import create_token

    if store.users() or store.tokens(include_revoked=True):
        return
    secret, token = create_token(store, "bootstrap", "admin")
    path = data_dir / ADMIN_TOKEN_FILE
    path.touch(mode=0o600)
    path.write_text(secret + "\n", encoding="utf-8")
    store.add_audit("serve", "create", f"token:{token.id}", {"after": token.public(), "file": str(path)})
    print(f"serve: first start: an admin token is in {path} (shown nowhere else)", flush=True)


def _attach_writers(runtime: Runtime, host: Any) -> list[Any]:
    """The report counters and the call detail records, gathered from the runtime's actions and written to the
    store in batches off the routing path (``engine.batch_writer``); each writer's ``run`` is a task to start."""
    from engine.batch_writer import CdrWriter, ReportWriter
    from engine.reports import ReportAggregator

    aggregator = ReportAggregator.for_center(runtime.acd)
    runtime.add_sink(aggregator)
    cdrs = CdrWriter(host.store)
    runtime.add_sink(cdrs)
    return [ReportWriter(aggregator, host.store), cdrs]


def _attach_dialer_sinks(runtime: Runtime, host: Any) -> Any:
    """The dialer's way out: its compliance questions answered by the rules (audited in the store) and its lead
    updates written to the store, both off the routing path. Returns the compliance sink (to ``resume``)."""
    from engine.lead_writer import LeadWriter
    from plugins.compliance_gate import ComplianceGate, ComplianceSink

    compliance = ComplianceSink(runtime, ComplianceGate(host.manager, host.store))
    runtime.add_sink(compliance)
    runtime.add_sink(LeadWriter(host.store))
    return compliance


async def _status_loop(runtime: Runtime, load: SimulatedLoad | None, manager: Any, dispatcher: Any,
                       every: float) -> None:
    while True:
        await trio.sleep(every)
        print(status_line(runtime, load, sum(manager.faults.values()), dispatcher.write_backs_dropped), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="switchboard serve")
    add_arguments(parser)
    ns = parser.parse_args()
    try:
        sys.exit(run(ns))
    except SwitchboardError as exc:
        print(f"switchboard serve: error: {exc}", file=sys.stderr)
        sys.exit(2)
