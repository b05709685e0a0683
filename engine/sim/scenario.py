"""Scenario files: the shared inputs of the simulator, the benchmarks and the tests (TOML, read with tomllib).

The format (see ``benchmarks/scenarios/README.md`` and the files beside it)::

    [scenario]              name, agents, shift_hours, seed; outbound: abandon_target, abandon_grace_s
    [outcomes]              outbound: probabilities of one dial's outcome (human, machine, busy; the rest no answer)
    [timing]                times in seconds, each a number or a distribution (engine.sim.distributions):
                            ring_s, no_answer_timeout_s, busy_s, amd_s (outbound), talk_s, wrap_s (both),
                            patience_s, answer_s (inbound: caller patience, agent's answer delay)
    [inbound]               arrival_rate (contacts per second, Poisson)
    [[phase]]               at_hour, then any keys of [outcomes], [timing] or [inbound] that change from then on
    [[case]]                queueing-theory cases: name, arrival_rate, aht_s, agents, model ("erlang-c" |
                            "erlang-a"), patience_s (Erlang A), and expected answers p_wait, asa_s,
                            service_level_20s, p_abandon

Every table is optional, but unknown tables and keys are errors (a typo must not silently become a default).
Every error is a ``ConfigError`` whose message starts with the file name and names the key.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.sim.distributions import Distribution, parse_distribution

SCENARIO_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "agents": int,
    "shift_hours": (int, float),
    "seed": int,
    "abandon_target": (int, float),
    "abandon_grace_s": (int, float),
}
OUTCOME_KEYS: tuple[str, ...] = ("human", "machine", "busy")
TIMING_KEYS: tuple[str, ...] = (
    "ring_s", "no_answer_timeout_s", "busy_s", "amd_s", "talk_s", "wrap_s", "patience_s", "answer_s",
)
INBOUND_KEYS: tuple[str, ...] = ("arrival_rate",)
CASE_MODELS: tuple[str, ...] = ("erlang-c", "erlang-a")
CASE_KEYS: tuple[str, ...] = (
    "name", "arrival_rate", "aht_s", "agents", "model", "patience_s", "p_wait", "asa_s", "service_level_20s",
    "p_abandon",
)
TABLES: tuple[str, ...] = ("scenario", "outcomes", "timing", "inbound", "phase", "case")


@dataclass(frozen=True, slots=True)
class Phase:
    """From ``at_hour`` on, these values replace the scenario's (``outcomes``, ``timing``, ``inbound`` keys)."""

    at_hour: float
    outcomes: dict[str, float] = field(default_factory=dict)
    timing: dict[str, Distribution] = field(default_factory=dict)
    inbound: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Case:
    """A queueing-theory case with its exact answers (``expected``: p_wait, asa_s, service_level_20s, p_abandon)."""

    name: str
    arrival_rate: float
    aht_s: float
    agents: int
    model: str
    patience_s: float | None
    expected: dict[str, float]


@dataclass(frozen=True, slots=True)
class Scenario:
    path: str
    name: str
    agents: int | None = None
    shift_hours: float | None = None
    seed: int | None = None
    abandon_target: float | None = None
    abandon_grace_s: float | None = None
    outcomes: dict[str, float] = field(default_factory=dict)
    timing: dict[str, Distribution] = field(default_factory=dict)
    inbound: dict[str, float] = field(default_factory=dict)
    phases: tuple[Phase, ...] = ()
    cases: tuple[Case, ...] = ()

    def at(self, hour: float) -> tuple[dict[str, float], dict[str, Distribution], dict[str, float]]:
        """(outcomes, timing, inbound) in force at ``hour`` of the shift, phases applied in order."""
        outcomes, timing, inbound = dict(self.outcomes), dict(self.timing), dict(self.inbound)
        for phase in self.phases:
            if phase.at_hour > hour:
                break
            outcomes.update(phase.outcomes)
            timing.update(phase.timing)
            inbound.update(phase.inbound)
        return outcomes, timing, inbound

    def case(self, name: str) -> Case:
        for case in self.cases:
            if case.name == name:
                return case
        known = ", ".join(c.name for c in self.cases) or "none"
        raise ConfigError(f"{self.path}: no [[case]] named {name!r} (cases: {known})")


def _num(value: Any, where: str, *, positive: bool = False, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{where}: expected {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ConfigError(f"{where}: expected a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return value


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value


def _outcomes(raw: dict[str, Any], where: str) -> dict[str, float]:
    out = {}
    for key, value in raw.items():
        if key not in OUTCOME_KEYS:
            raise ConfigError(f"{where} {key}: unknown outcome (known: {', '.join(OUTCOME_KEYS)})")
        number = _num(value, f"{where} {key}")
        if number > 1:
            raise ConfigError(f"{where} {key}: a probability must be in [0, 1], got {value!r}")
        out[key] = float(number)
    return out


def _timing(raw: dict[str, Any], where: str) -> dict[str, Distribution]:
    out = {}
    for key, value in raw.items():
        if key not in TIMING_KEYS:
            raise ConfigError(f"{where} {key}: unknown timing key (known: {', '.join(TIMING_KEYS)})")
        out[key] = parse_distribution(value, f"{where} {key}")
    return out


def _inbound(raw: dict[str, Any], where: str) -> dict[str, float]:
    out = {}
    for key, value in raw.items():
        if key not in INBOUND_KEYS:
            raise ConfigError(f"{where} {key}: unknown inbound key (known: {', '.join(INBOUND_KEYS)})")
        out[key] = float(_num(value, f"{where} {key}"))
    return out


def _check_outcome_sum(outcomes: dict[str, float], where: str) -> None:
    total = sum(outcomes.values())
    if total > 1 + 1e-9:
        raise ConfigError(f"{where}: outcome probabilities add up to {total:g} > 1 ({', '.join(sorted(outcomes))})")


def parse_scenario(data: dict[str, Any], path: str = "<scenario>") -> Scenario:
    """Validate parsed TOML ``data``; ``path`` is the name errors start with."""
    for name in data:
        if name not in TABLES:
            raise ConfigError(f"{path}: unknown table or key {name!r} (known: {', '.join(TABLES)})")
    head = _table(data, "scenario", path)
    values: dict[str, Any] = {}
    for key, value in head.items():
        kind = SCENARIO_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{path}: [scenario] {key}: unknown key (known: {', '.join(SCENARIO_KEYS)})")
        where = f"{path}: [scenario] {key}"
        if key == "name":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where}: expected an integer, got {value!r}")
        elif key == "agents":
            _num(value, where, integer=True)
        elif key == "shift_hours":
            _num(value, where, positive=True)
        else:
            _num(value, where)
        values[key] = value
    if "abandon_target" in values and values["abandon_target"] > 1:
        raise ConfigError(f"{path}: [scenario] abandon_target: must be in [0, 1], got {values['abandon_target']!r}")
    outcomes = _outcomes(_table(data, "outcomes", path), f"{path}: [outcomes]")
    _check_outcome_sum(outcomes, f"{path}: [outcomes]")
    timing = _timing(_table(data, "timing", path), f"{path}: [timing]")
    inbound = _inbound(_table(data, "inbound", path), f"{path}: [inbound]")

    phases = []
    raw_phases = data.get("phase", [])
    if not isinstance(raw_phases, list):
        raise ConfigError(f"{path}: phase must be an array of tables ([[phase]])")
    last = -math.inf
    current = dict(outcomes)
    for i, raw in enumerate(raw_phases):
        where = f"{path}: [[phase]] #{i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table")
        if "at_hour" not in raw:
            raise ConfigError(f"{where} at_hour: missing")
        at_hour = float(_num(raw["at_hour"], f"{where} at_hour"))
        if at_hour <= last:
            raise ConfigError(f"{where} at_hour: phases must be in increasing order of at_hour ({at_hour:g} after "
                              f"{last:g})")
        shift = values.get("shift_hours")
        if shift is not None and at_hour >= shift:
            raise ConfigError(f"{where} at_hour: {at_hour:g} is not within the shift ({shift:g} hours)")
        last = at_hour
        p_out, p_time, p_in = {}, {}, {}
        for key, value in raw.items():
            if key == "at_hour":
                continue
            if key in OUTCOME_KEYS:
                p_out.update(_outcomes({key: value}, where))
            elif key in TIMING_KEYS:
                p_time.update(_timing({key: value}, where))
            elif key in INBOUND_KEYS:
                p_in.update(_inbound({key: value}, where))
            else:
                raise ConfigError(f"{where} {key}: not a key a phase can change (keys of [outcomes], [timing], "
                                  f"[inbound])")
        current.update(p_out)
        _check_outcome_sum(current, where)
        phases.append(Phase(at_hour, p_out, p_time, p_in))

    cases = []
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list):
        raise ConfigError(f"{path}: case must be an array of tables ([[case]])")
    names = set()
    for i, raw in enumerate(raw_cases):
        where = f"{path}: [[case]] #{i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table")
        for key in raw:
            if key not in CASE_KEYS:
                raise ConfigError(f"{where} {key}: unknown key (known: {', '.join(CASE_KEYS)})")
        for key in ("name", "arrival_rate", "aht_s", "agents", "model"):
            if key not in raw:
                raise ConfigError(f"{where} {key}: missing")
        name = raw["name"]
        if not isinstance(name, str) or not name or name in names:
            raise ConfigError(f"{where} name: expected a unique non-empty string, got {name!r}")
        names.add(name)
        where = f"{path}: [[case]] {name!r}"
        model = raw["model"]
        if model not in CASE_MODELS:
            raise ConfigError(f"{where} model: expected one of {', '.join(CASE_MODELS)}, got {model!r}")
        patience = raw.get("patience_s")
        if model == "erlang-a" and patience is None:
            raise ConfigError(f"{where} patience_s: missing (an erlang-a case needs a mean patience)")
        if model == "erlang-c" and patience is not None:
            raise ConfigError(f"{where} patience_s: an erlang-c case has no patience (use model = \"erlang-a\")")
        expected = {}
        for key in ("p_wait", "asa_s", "service_level_20s", "p_abandon"):
            if key in raw:
                expected[key] = float(_num(raw[key], f"{where} {key}"))
        cases.append(Case(
            name=name,
            arrival_rate=float(_num(raw["arrival_rate"], f"{where} arrival_rate", positive=True)),
            aht_s=float(_num(raw["aht_s"], f"{where} aht_s", positive=True)),
            agents=int(_num(raw["agents"], f"{where} agents", positive=True, integer=True)),
            model=model,
            patience_s=None if patience is None else float(_num(patience, f"{where} patience_s", positive=True)),
            expected=expected,
        ))

    return Scenario(
        path=path,
        name=values.get("name", Path(path).stem),
        agents=values.get("agents"),
        shift_hours=None if "shift_hours" not in values else float(values["shift_hours"]),
        seed=values.get("seed"),
        abandon_target=None if "abandon_target" not in values else float(values["abandon_target"]),
        abandon_grace_s=None if "abandon_grace_s" not in values else float(values["abandon_grace_s"]),
        outcomes=outcomes,
        timing=timing,
        inbound=inbound,
        phases=tuple(phases),
        cases=tuple(cases),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. ``ConfigError`` names the file and the key for anything wrong."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such scenario file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_scenario(data, p.name)
