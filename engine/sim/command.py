"""``switchboard simulate inbound``: one inbound queue in virtual time, its figures as one JSON object.

The center: one queue (``inbound``), N agents with its one skill, no wrap-up (``wrap_up_s = 0``) unless the
scenario gives ``wrap_s``, a ring timeout far beyond any answer delay, no announcements. Calls arrive as a Poisson
stream; handle times are exponential with mean ``--aht`` and patience exponential with mean ``--patience`` (no
abandonment without it): the M/M/n (Erlang C) and M/M/n+M (Erlang A) models of ``engine.staffing``. A scenario file
(``--scenario``) can replace any of these: its ``[scenario]`` agents / shift_hours / seed, ``[inbound]`` arrival_rate,
``[timing]`` talk_s / wrap_s / patience_s / answer_s, its ``[[phase]]`` changes mid-shift, or with ``--case NAME``
one of its ``[[case]]`` entries. Flags given on the command line win over the scenario.

The figures are those of ``engine.stats`` over the contacts that arrived after ``--warmup-hours``; arrivals stop at
``--hours`` and the contacts still in the system are then served to the end, so every counted contact has an outcome.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SwitchboardError
from engine.events import Action
from engine.model import AgentConfig, CenterConfig, QueueConfig
from engine.sim.channel import SimulatedChannel
from engine.sim.distributions import Distribution
from engine.sim.driver import Driver
from engine.sim.scenario import Scenario, load_scenario
from engine.stats import Stats

QUEUE = "inbound"
SKILL = "inbound"
LONG_S = 86_400.0 * 365


@dataclass
class InboundSetup:
    """Everything one inbound simulation needs; ``run_inbound`` runs it."""

    agents: int
    arrival_rate: float
    talk: Distribution
    hours: float
    seed: int = 0
    patience: Distribution | None = None
    wrap: Distribution | None = None
    answer: Distribution | None = None
    warmup_hours: float = 0.0
    phases: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    scenario: str | None = None

    def validate(self) -> None:
        if isinstance(self.agents, bool) or not isinstance(self.agents, int) or self.agents < 1:
            raise SwitchboardError(f"--agents must be a whole number >= 1, got {self.agents!r}")
        if not (math.isfinite(self.arrival_rate) and self.arrival_rate >= 0):
            raise SwitchboardError(f"--arrival-rate must be a number >= 0 per second, got {self.arrival_rate!r}")
        if not (math.isfinite(self.hours) and self.hours > 0):
            raise SwitchboardError(f"--hours must be a number > 0, got {self.hours!r}")
        if not (math.isfinite(self.warmup_hours) and 0 <= self.warmup_hours < self.hours):
            raise SwitchboardError(f"--warmup-hours must be >= 0 and less than --hours ({self.hours:g}), "
                                   f"got {self.warmup_hours!r}")

    def center(self) -> CenterConfig:
        agents = tuple(AgentConfig(id=f"a{i + 1}", skills={SKILL: 1}, capacity={"voice": 1})
                       for i in range(self.agents))
        queue = QueueConfig(id=QUEUE, skills={SKILL: 1}, wrap_up_s=0.0 if self.wrap is None else LONG_S,
                            ring_timeout_s=LONG_S, announce_every_s=None)
        return CenterConfig(skills=(SKILL,), agents=agents, queues=(queue,), seed=self.seed)


def build(setup: InboundSetup, observers: Iterable[Callable[[Action], Any]] = (),
          acd_factory: Callable[[CenterConfig], Any] | None = None) -> tuple[Any, SimulatedChannel, Driver]:
    """The ACD, the simulated channel and the driver for ``setup`` (not run yet)."""
    setup.validate()
    if acd_factory is None:
        from engine.acd import Acd

        acd_factory = Acd
    config = setup.center()
    acd = acd_factory(config)
    channel = SimulatedChannel(
        agents=[a.id for a in config.agents], talk=setup.talk, arrival_rates={QUEUE: setup.arrival_rate},
        patience=setup.patience, wrap=setup.wrap, answer=setup.answer, arrivals_until=setup.hours * 3600.0,
        phases=setup.phases, seed=setup.seed,
    )
    return acd, channel, Driver(acd, channel, observers)


def run_inbound(setup: InboundSetup, observers: Sequence[Callable[[Action], Any]] = (),
                acd_factory: Callable[[CenterConfig], Any] | None = None) -> dict[str, Any]:
    """Run ``setup`` to the end and return its figures (the JSON ``switchboard simulate inbound`` prints)."""
    started = time.perf_counter()
    stats = Stats(warmup=setup.warmup_hours * 3600.0, until=setup.hours * 3600.0)
    _, _, driver = build(setup, [stats, *observers], acd_factory)
    end = driver.run()
    snap = stats.snapshot(end)
    wall = time.perf_counter() - started
    result: dict[str, Any] = {
        "offered": snap["offered"],
        "answered": snap["answered"],
        "abandoned": snap["abandoned"],
        "p_wait": snap["p_wait"],
        "service_level_20s": snap["service_level_20s"],
        "asa_s": snap["asa_s"],
        "aht_s": snap["aht_s"],
        "abandon_rate": snap["abandon_rate"],
        "occupancy": snap["occupancy"],
        "agents": setup.agents,
        "arrival_rate": setup.arrival_rate,
        "seed": setup.seed,
        "simulated_hours": setup.hours,
        "warmup_hours": setup.warmup_hours,
        "events": driver.events_fed,
        "wall_s": round(wall, 3),
    }
    if setup.scenario is not None:
        result["scenario"] = setup.scenario
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``switchboard simulate inbound``."""
    parser.add_argument("--agents", type=int, default=None, metavar="N", help="agents logged in (one skill)")
    parser.add_argument("--arrival-rate", type=float, default=None, metavar="PER_S", help="Poisson arrivals per second")
    parser.add_argument("--aht", type=float, default=None, metavar="S",
                        help="mean handle time, seconds (exponential)")
    parser.add_argument("--patience", type=float, default=None, metavar="S",
                        help="mean caller patience, seconds (exponential); without it nobody abandons")
    parser.add_argument("--hours", type=float, default=None, metavar="H", help="hours of arrivals to simulate")
    parser.add_argument("--seed", type=int, default=None, metavar="K", help="random seed (default 1)")
    parser.add_argument("--scenario", default=None, metavar="FILE", help="a scenario TOML file")
    parser.add_argument("--case", default=None, metavar="NAME", help="a [[case]] of the scenario file")
    parser.add_argument("--warmup-hours", type=float, default=None, metavar="W",
                        help="ignore contacts that arrive in the first W hours (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def setup_from_args(args: argparse.Namespace) -> InboundSetup:
    """Combine the scenario (if any) and the flags (which win) into an ``InboundSetup``."""
    scenario: Scenario | None = None
    agents = arrival_rate = hours = seed = None
    talk = patience = wrap = answer = None
    phases: list[tuple[float, dict[str, Any]]] = []
    if args.scenario is not None:
        scenario = load_scenario(args.scenario)
        if args.case is not None:
            case = scenario.case(args.case)
            agents, arrival_rate = case.agents, case.arrival_rate
            talk = Distribution.exponential(case.aht_s)
            if case.patience_s is not None:
                patience = Distribution.exponential(case.patience_s)
        else:
            agents, hours, seed = scenario.agents, scenario.shift_hours, scenario.seed
            arrival_rate = scenario.inbound.get("arrival_rate")
            talk = scenario.timing.get("talk_s")
            patience = scenario.timing.get("patience_s")
            wrap = scenario.timing.get("wrap_s")
            answer = scenario.timing.get("answer_s")
            names = {"talk_s": "talk", "patience_s": "patience", "wrap_s": "wrap", "answer_s": "answer"}
            for phase in scenario.phases:
                changes: dict[str, Any] = {names[k]: v for k, v in phase.timing.items() if k in names}
                if "arrival_rate" in phase.inbound:
                    changes["arrival_rates"] = {QUEUE: phase.inbound["arrival_rate"]}
                if changes:
                    phases.append((phase.at_hour * 3600.0, changes))
    elif args.case is not None:
        raise SwitchboardError("--case needs --scenario FILE")
    if args.agents is not None:
        agents = args.agents
    if args.arrival_rate is not None:
        arrival_rate = args.arrival_rate
    if args.aht is not None:
        if not (args.aht > 0 and math.isfinite(args.aht)):
            raise SwitchboardError(f"--aht must be a number of seconds > 0, got {args.aht!r}")
        talk = Distribution.exponential(args.aht)
        phases = [(t, {k: v for k, v in c.items() if k != "talk"}) for t, c in phases]
    if args.patience is not None:
        if not (args.patience > 0):
            raise SwitchboardError(f"--patience must be a number of seconds > 0, got {args.patience!r}")
        patience = Distribution.exponential(args.patience)
        phases = [(t, {k: v for k, v in c.items() if k != "patience"}) for t, c in phases]
    if args.hours is not None:
        hours = args.hours
    if args.seed is not None:
        seed = args.seed
    source = "the scenario" if scenario is not None else "a flag"
    if agents is None:
        raise SwitchboardError(f"--agents is required (no agents in {source})")
    if arrival_rate is None:
        raise SwitchboardError(f"--arrival-rate is required (no arrival rate in {source})")
    if talk is None:
        raise SwitchboardError(f"--aht is required (no talk_s in {source})")
    if hours is None:
        raise SwitchboardError(f"--hours is required (no shift_hours in {source})")
    setup = InboundSetup(
        agents=agents, arrival_rate=float(arrival_rate), talk=talk, hours=float(hours),
        seed=1 if seed is None else int(seed), patience=patience, wrap=wrap, answer=answer,
        warmup_hours=0.0 if args.warmup_hours is None else float(args.warmup_hours),
        phases=[p for p in phases if p[1]], scenario=None if scenario is None else scenario.name,
    )
    setup.validate()
    return setup


def run(args: argparse.Namespace) -> int:
    result = run_inbound(setup_from_args(args))
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0

    def pct(key: str) -> str:
        return "-" if result[key] is None else f"{result[key]:.1%}"

    def sec(key: str) -> str:
        return "-" if result[key] is None else f"{result[key]:.1f} s"

    rows = [
        ("simulated", f"{result['simulated_hours']:g} h ({result['warmup_hours']:g} h warm-up), seed {result['seed']}"),
        ("agents", str(result["agents"])),
        ("offered", f"{result['offered']} ({result['arrival_rate']:g} /s)"),
        ("answered", str(result["answered"])),
        ("abandoned", f"{result['abandoned']} ({pct('abandon_rate')})"),
        ("P(wait)", "-" if result["p_wait"] is None else f"{result['p_wait']:.4f}"),
        ("service level 20 s", pct("service_level_20s")),
        ("ASA", sec("asa_s")),
        ("AHT", sec("aht_s")),
        ("occupancy", pct("occupancy")),
        ("wall time", f"{result['wall_s']:.2f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
