"""Loading and validating the routing configuration.

``load_config(path)`` reads a TOML file (format in ``docs/configuration.md``) into ``engine.model.CenterConfig``;
``validate_config`` checks a configuration as a whole (cross references, ranges, a queue no agent could ever
serve); ``demo_config()`` is the embedded demo that ``switchboard serve`` starts with. Every error is a
``ConfigError`` whose message names the file and the key path (``queues[2].strategy``) and says what is wrong.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError
from engine.model import (
    DEFAULT_CAPACITY,
    DEFAULT_CHANNELS,
    DEFAULT_DISPOSITIONS,
    MAX_SKILL_LEVEL,
    MIN_SKILL_LEVEL,
    STRATEGIES,
    AgentConfig,
    CenterConfig,
    OpenHours,
    QueueConfig,
    RoutingStep,
    WorkflowConfig,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ----------------------------------------------------------------------------------------------- hours ----

@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_timezone(name: str, where: str) -> None:
    """Raise ``ConfigError`` naming ``where`` if ``name`` is not an IANA time zone."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {name!r}") from None


def is_open(hours: OpenHours, now: float) -> bool:
    """Whether a queue with these hours is open at Unix time ``now`` (local time of ``hours.timezone``)."""
    if not hours.weekly and not hours.holidays:
        return True
    local = datetime.fromtimestamp(now, _zone(hours.timezone))
    if local.date().isoformat() in hours.holidays:
        return False
    if not hours.weekly:
        return True
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in hours.weekly.get(local.weekday(), ()))


# ------------------------------------------------------------------------------------------ validation ----

def _check_skill_map(skills: dict[str, int], known: set[str], where: str) -> None:
    if not isinstance(skills, dict):
        raise ConfigError(f"{where}: expected a table of skill = level")
    for name, level in skills.items():
        if name not in known:
            raise ConfigError(f"{where}: unknown skill {name!r} (declare it in skills)")
        if not isinstance(level, int) or isinstance(level, bool) or not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL:
            raise ConfigError(f"{where}.{name}: level must be an integer {MIN_SKILL_LEVEL}..{MAX_SKILL_LEVEL}, "
                              f"got {level!r}")


def agent_serves(agent: AgentConfig, queue: QueueConfig) -> bool:
    """Whether ``agent`` has the skills and the channel capacity to take ``queue``'s contacts."""
    return _serves(agent, queue.channel, queue.skills)


def _serves(agent: AgentConfig, channel: str, skills: dict[str, int], agents: tuple[str, ...] = ()) -> bool:
    if agents and agent.id not in agents:
        return False
    if agent.capacity.get(channel, 0) <= 0:
        return False
    return all(agent.skills.get(s, 0) >= level for s, level in skills.items())


def validate_config(config: CenterConfig, source: str = "config") -> None:
    """Check a whole configuration; raise ``ConfigError`` naming ``source`` and the key of the first problem."""
    skills = set(config.skills)
    if len(skills) != len(config.skills):
        raise ConfigError(f"{source}: skills: duplicate skill names")
    for name in config.skills:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: skills: every skill needs a non-empty name")
    if not config.channels:
        raise ConfigError(f"{source}: channels: at least one channel is needed")
    if not config.dispositions:
        raise ConfigError(f"{source}: dispositions: at least one disposition code is needed")
    agent_ids: set[str] = set()
    for i, agent in enumerate(config.agents):
        where = f"{source}: agents[{i}]"
        if not agent.id:
            raise ConfigError(f"{where}.id: an agent needs an id")
        if agent.id in agent_ids:
            raise ConfigError(f"{where}.id: duplicate agent id {agent.id!r}")
        agent_ids.add(agent.id)
        _check_skill_map(agent.skills, skills, f"{where}.skills")
        for channel, n in agent.capacity.items():
            if channel not in config.channels:
                raise ConfigError(f"{where}.capacity: unknown channel {channel!r}")
            if not isinstance(n, int) or n < 0:
                raise ConfigError(f"{where}.capacity.{channel}: must be a whole number >= 0, got {n!r}")
    queue_ids = {q.id for q in config.queues}
    if len(queue_ids) != len(config.queues):
        raise ConfigError(f"{source}: queues: duplicate queue ids")
    for i, queue in enumerate(config.queues):
        where = f"{source}: queues[{i}] ({queue.id!r})"
        _validate_queue(queue, config, queue_ids, skills, where)
    flow_ids: set[str] = set()
    for i, workflow in enumerate(config.workflows):
        where = f"{source}: workflows[{i}] ({workflow.id!r})"
        if workflow.id in flow_ids:
            raise ConfigError(f"{where}.id: duplicate workflow id")
        flow_ids.add(workflow.id)
        if not workflow.steps:
            raise ConfigError(f"{where}.steps: a workflow needs at least one step")
        for j, step in enumerate(workflow.steps):
            _validate_step(step, j == len(workflow.steps) - 1, config, queue_ids, skills, agent_ids,
                           f"{where}.steps[{j}]")


def _validate_queue(queue: QueueConfig, config: CenterConfig, queue_ids: set[str], skills: set[str],
                    where: str) -> None:
    if not queue.id:
        raise ConfigError(f"{where}.id: a queue needs an id")
    if queue.channel not in config.channels:
        raise ConfigError(f"{where}.channel: unknown channel {queue.channel!r}")
    _check_skill_map(queue.skills, skills, f"{where}.skills")
    if queue.strategy not in STRATEGIES:
        raise ConfigError(f"{where}.strategy: unknown strategy {queue.strategy!r} (one of {', '.join(STRATEGIES)})")
    for key in ("ring_timeout_s", "service_level_s"):
        if not getattr(queue, key) > 0:
            raise ConfigError(f"{where}.{key}: must be > 0")
    for key in ("wrap_up_s", "aging_per_min"):
        if not getattr(queue, key) >= 0:
            raise ConfigError(f"{where}.{key}: must be >= 0")
    for key in ("max_wait_s", "announce_every_s", "callback_after_s"):
        value = getattr(queue, key)
        if value is not None and not value > 0:
            raise ConfigError(f"{where}.{key}: must be > 0 (or left out)")
    if not 0 < queue.service_level_target <= 1:
        raise ConfigError(f"{where}.service_level_target: must be in (0, 1]")
    for key in ("overflow_queue", "closed_queue"):
        target = getattr(queue, key)
        if target is None:
            continue
        if target not in queue_ids:
            raise ConfigError(f"{where}.{key}: unknown queue {target!r}")
        if target == queue.id:
            raise ConfigError(f"{where}.{key}: a queue cannot overflow into itself")
        if next(q for q in config.queues if q.id == target).channel != queue.channel:
            raise ConfigError(f"{where}.{key}: queue {target!r} is not a {queue.channel} queue")
    check_timezone(queue.hours.timezone, f"{where}.hours.timezone")
    for day, ranges in queue.hours.weekly.items():
        if day not in range(7):
            raise ConfigError(f"{where}.hours.weekly: weekday {day!r} is not 0..6")
        for start, end in ranges:
            if not 0 <= start < end <= 24 * 60:
                raise ConfigError(f"{where}.hours.{WEEKDAYS[day]}: range {start}-{end} minutes is not within a day")
    for holiday in queue.hours.holidays:
        try:
            datetime.strptime(holiday, "%Y-%m-%d")
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.hours.holidays: {holiday!r} is not a YYYY-MM-DD date") from None
    if not any(_serves(a, queue.channel, queue.skills) for a in config.agents):
        raise ConfigError(f"{where}: no agent can serve this queue (no agent has {queue.channel} capacity and "
                          f"skills {queue.skills or '{}'} at those levels)")


def _validate_step(step: RoutingStep, last: bool, config: CenterConfig, queue_ids: set[str], skills: set[str],
                   agent_ids: set[str], where: str) -> None:
    if step.queue not in queue_ids:
        raise ConfigError(f"{where}.queue: unknown queue {step.queue!r}")
    if step.skills is not None:
        _check_skill_map(step.skills, skills, f"{where}.skills")
    for agent in step.preferred_agents:
        if agent not in agent_ids:
            raise ConfigError(f"{where}.preferred_agents: unknown agent {agent!r}")
    if last and step.timeout_s is not None:
        raise ConfigError(f"{where}.timeout_s: the last step waits for ever; leave timeout_s out")
    if not last and (step.timeout_s is None or not step.timeout_s > 0):
        raise ConfigError(f"{where}.timeout_s: every step but the last needs a timeout > 0")


# ------------------------------------------------------------------------------------------------ TOML ----

_TOP_KEYS = {"seed", "skills", "channels", "dispositions", "agents", "queues", "workflows",
             "plugins",  # [plugins]: read by plugins.manager and each plugin, not by the routing configuration
             "store"}  # [store]: read by engine.store.target
_AGENT_KEYS = {"id", "name", "skills", "capacity", "teams", "optional_queues"}
_QUEUE_KEYS = set(QueueConfig.__dataclass_fields__)
_HOURS_KEYS = {"timezone", "holidays", *WEEKDAYS}
_STEP_KEYS = set(RoutingStep.__dataclass_fields__)


def _unknown_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _parse_clock(text: Any, where: str) -> int:
    try:
        hours, minutes = str(text).split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a HH:MM time") from None
    if not 0 <= value <= 24 * 60:
        raise ConfigError(f"{where}: {text!r} is not a time of day")
    return value


def _parse_hours(table: dict[str, Any], where: str) -> OpenHours:
    _unknown_keys(table, _HOURS_KEYS, where)
    weekly: dict[int, list[tuple[int, int]]] = {}
    for day_index, day in enumerate(WEEKDAYS):
        for k, text in enumerate(table.get(day, [])):
            span = str(text).split("-")
            if len(span) != 2:
                raise ConfigError(f"{where}.{day}[{k}]: {text!r} is not a HH:MM-HH:MM range")
            start, end = (_parse_clock(t, f"{where}.{day}[{k}]") for t in span)
            weekly.setdefault(day_index, []).append((start, end))
    return OpenHours(timezone=table.get("timezone", "UTC"), weekly=weekly,
                     holidays=tuple(str(h) for h in table.get("holidays", ())))


def parse_hours(table: dict[str, Any], where: str) -> OpenHours:
    """Opening hours from their table form (``timezone``, ``mon`` .. ``sun`` as lists of ``"HH:MM-HH:MM"``,
    ``holidays`` as ISO dates); ``ConfigError`` naming ``where`` and the key at fault."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    hours = _parse_hours(table, where)
    check_timezone(hours.timezone, f"{where}.timezone")
    return hours


def hours_table(hours: OpenHours) -> dict[str, Any]:
    """The table form of ``hours`` (what ``parse_hours`` reads): days with no range are left out."""
    out: dict[str, Any] = {"timezone": hours.timezone}
    for day_index, day in enumerate(WEEKDAYS):
        ranges = hours.weekly.get(day_index)
        if ranges:
            out[day] = [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges]
    out["holidays"] = list(hours.holidays)
    return out


def _build(cls: Any, table: dict[str, Any], where: str) -> Any:
    try:
        return cls(**table)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_config(data: dict[str, Any], source: str = "config") -> CenterConfig:
    """Turn the parsed TOML tables into a validated ``CenterConfig``."""
    _unknown_keys(data, _TOP_KEYS, source)
    channels = data.get("channels", DEFAULT_CHANNELS)
    if not isinstance(channels, dict) or not all(isinstance(v, bool) for v in channels.values()):
        raise ConfigError(f"{source}: channels: expected a table of channel = exclusive (true/false)")
    default_capacity = {name: DEFAULT_CAPACITY.get(name, 1) for name in channels}
    agents = []
    for i, table in enumerate(data.get("agents", [])):
        where = f"{source}: agents[{i}]"
        _unknown_keys(table, _AGENT_KEYS, where)
        if "id" not in table:
            raise ConfigError(f"{where}: missing key 'id'")
        table = dict(table)
        table.setdefault("capacity", dict(default_capacity))
        table["teams"] = tuple(table.get("teams", ()))
        optional = table.get("optional_queues", [])
        if not isinstance(optional, list) or not all(isinstance(q, str) for q in optional):
            raise ConfigError(f"{where}.optional_queues: expected a list of queue ids")
        table["optional_queues"] = tuple(optional)
        agents.append(_build(AgentConfig, table, where))
    queues = []
    for i, table in enumerate(data.get("queues", [])):
        where = f"{source}: queues[{i}]"
        _unknown_keys(table, _QUEUE_KEYS, where)
        if "id" not in table:
            raise ConfigError(f"{where}: missing key 'id'")
        table = dict(table)
        table["hours"] = _parse_hours(table.get("hours", {}), f"{where}.hours")
        queues.append(_build(QueueConfig, table, where))
    workflows = []
    for i, table in enumerate(data.get("workflows", [])):
        where = f"{source}: workflows[{i}]"
        _unknown_keys(table, {"id", "steps"}, where)
        steps = []
        for j, step in enumerate(table.get("steps", [])):
            _unknown_keys(step, _STEP_KEYS, f"{where}.steps[{j}]")
            if "queue" not in step:
                raise ConfigError(f"{where}.steps[{j}]: missing key 'queue'")
            steps.append(RoutingStep.from_dict(step))
        workflows.append(WorkflowConfig(id=table.get("id", ""), steps=tuple(steps)))
    config = CenterConfig(
        skills=tuple(data.get("skills", ())),
        channels=dict(channels),
        agents=tuple(agents),
        queues=tuple(queues),
        workflows=tuple(workflows),
        dispositions=tuple(data.get("dispositions", DEFAULT_DISPOSITIONS)),
        seed=int(data.get("seed", 0)),
    )
    validate_config(config, source)
    queue_ids = {q.id for q in config.queues}
    for i, agent in enumerate(config.agents):
        for queue_id in agent.optional_queues:
            if queue_id not in queue_ids:
                raise ConfigError(f"{source}: agents[{i}].optional_queues: no queue {queue_id!r}")
    return config


def load_config(path: str | Path) -> CenterConfig:
    """Read and validate a configuration file; ``ConfigError`` names the file, the line or key, and the problem."""
    from engine.tomlfile import TomlFile

    return parse_config(TomlFile.read(path).data, str(path))


# ------------------------------------------------------------------------------------------------ demo ----

def demo_config() -> CenterConfig:
    """The embedded demo: four queues, one Spanish-first workflow, twelve agents with mixed skills in two teams
    (blue: agents 1-6, green: 7-12)."""
    skills = ("sales", "support", "billing", "english", "spanish")
    agents = []
    for n in range(1, 13):
        agent_skills = {"english": 5 + n % 5}
        if n <= 5:
            agent_skills["sales"] = 3 + n
        if n >= 4:
            agent_skills["support"] = 2 + n % 8
        if n % 3 == 0:
            agent_skills["billing"] = 6
        if n % 4 == 0:
            agent_skills["spanish"] = 8
        agents.append(AgentConfig(id=f"agent-{n:02d}", name=f"Agent {n}", skills=agent_skills,
                                  teams=("blue",) if n <= 6 else ("green",)))
    queues = (
        QueueConfig(id="sales", name="Sales", skills={"sales": 1}, strategy="longest-idle", announce_every_s=45.0,
                    callback_after_s=300.0, max_wait_s=900.0, overflow_queue="support"),
        QueueConfig(id="support", name="Support", skills={"support": 1}, strategy="best-skill-level",
                    aging_per_min=1.0, announce_every_s=60.0, callback_after_s=600.0),
        QueueConfig(id="billing", name="Billing", skills={"billing": 1}, strategy="fewest-calls"),
        QueueConfig(id="vip", name="VIP", skills={"support": 5}, priority=10, strategy="best-skill-level",
                    ring_timeout_s=15.0),
        QueueConfig(id="chat", name="Web chat", channel="chat", skills={"support": 1}, wrap_up_s=10.0),
    )
    workflows = (
        WorkflowConfig(id="support-spanish", steps=(
            RoutingStep(queue="support", skills={"support": 1, "spanish": 5}, timeout_s=60.0),
            RoutingStep(queue="support"),
        )),
    )
    config = CenterConfig(skills=skills, agents=tuple(agents), queues=queues, workflows=workflows, seed=1)
    validate_config(config, "demo")
    return config
