"""``/metrics``: the live figures and the runtime's counters in the Prometheus text exposition format 0.0.4.

``exposition(snapshot, counters)`` renders a (role-cut) ``LiveFigures.snapshot`` and a mapping of counters; every
family has its ``# HELP`` and ``# TYPE``, label values are escaped (``\\``, ``"``, newline), an undefined ratio
is ``NaN``. The names, all prefixed ``switchboard_`` (see docs/operations.md):

- per queue (label ``queue``): ``queue_waiting``, ``queue_longest_wait_seconds``, ``queue_offered_today``,
  ``queue_answered_today``, ``queue_abandoned_today``, ``queue_unserved_today``, ``queue_service_level_ratio``,
  ``queue_service_level_target_ratio``, ``queue_service_level_threshold_seconds``, ``queue_asa_seconds``,
  ``queue_abandon_ratio``, ``queue_agents_staffed``, ``queue_agents_available``;
- agents: ``agents`` (label ``state``: how many are in it), ``agent_state`` (labels ``agent``, ``state``: 1 for
  the agent's state, 0 for the others), ``agent_time_in_state_seconds`` (label ``agent``);
- per campaign (label ``campaign``): ``campaign_dials_today``, ``campaign_humans_today``,
  ``campaign_abandoned_today``, ``campaign_connect_ratio``, ``campaign_abandon_ratio``,
  ``campaign_abandon_target_ratio``, ``campaign_calls_in_progress``, ``campaign_mode`` (label ``mode``: 1 for
  the mode it dials in now, 0 for the others);
- the engine: ``engine_time_seconds``, ``events_seq``, ``events_accepted_total``, ``events_refused_total``,
  ``sink_errors_total``, ``sink_dropped_actions_total``, ``plugin_faults_total`` (label ``plugin``);
- the stream: ``live_subscribers``, ``live_frames_built_total``, ``live_frames_replaced_total``,
  ``live_build_seconds``, ``live_errors_total``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from engine.acd import AGENT_STATES
from engine.model import DIAL_MODES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "switchboard_"

QUEUE_FAMILIES = (
    ("queue_waiting", "waiting", "Contacts waiting in the queue now (queued or ringing an agent)."),
    ("queue_longest_wait_seconds", "longest_wait_s", "The longest wait of the contacts waiting now."),
    ("queue_offered_today", "offered", "Contacts that arrived in the queue since the period start (midnight)."),
    ("queue_answered_today", "answered", "Of those, contacts connected to an agent."),
    ("queue_abandoned_today", "abandoned", "Of those, contacts whose caller left before being connected."),
    ("queue_unserved_today", "unserved", "Of those, contacts ended without an agent (closed, rejected, max wait)."),
    ("queue_service_level_ratio", "service_level",
     "Answered within the threshold over answered + abandoned + unserved (NaN: none yet)."),
    ("queue_service_level_target_ratio", "service_level_target", "The queue's service-level target."),
    ("queue_service_level_threshold_seconds", "service_level_s", "The queue's answered-within threshold."),
    ("queue_asa_seconds", "asa_s", "Average speed of answer: mean wait of the answered contacts (NaN: none)."),
    ("queue_abandon_ratio", "abandon_rate", "Abandoned over answered + abandoned + unserved (NaN: none yet)."),
    ("queue_agents_staffed", "staffed", "Agents logged in who can serve the queue."),
    ("queue_agents_available", "available", "Of those, agents ready for a contact now."),
)
CAMPAIGN_FAMILIES = (
    ("campaign_dials_today", "dials", "Numbers dialled since the period start."),
    ("campaign_humans_today", "humans", "Dials answered by a person."),
    ("campaign_abandoned_today", "abandoned", "People reached who got no agent within the grace."),
    ("campaign_connect_ratio", "connect_rate", "Humans over dials (NaN: no dial yet)."),
    ("campaign_abandon_ratio", "abandon_rate", "Abandoned over humans (NaN: nobody reached yet)."),
    ("campaign_abandon_target_ratio", "abandon_target", "The abandonment cap the pacer stays under."),
    ("campaign_calls_in_progress", "calls_in_progress", "Calls of the campaign in progress now."),
)
COUNTERS = (
    ("engine_time_seconds", "gauge", "The engine's time (Unix seconds) the figures describe."),
    ("events_seq", "gauge", "Sequence number of the last event written to the journal."),
    ("events_accepted_total", "counter", "Events accepted by the engine since the process started."),
    ("events_refused_total", "counter", "Events refused by the engine since the process started."),
    ("sink_errors_total", "counter", "Exceptions raised by action sinks (isolated)."),
    ("sink_dropped_actions_total", "counter", "Actions dropped because an asynchronous sink's buffer was full."),
    ("live_subscribers", "gauge", "Clients connected to the live stream."),
    ("live_frames_built_total", "counter", "Publishing cycles of the live stream (one snapshot each)."),
    ("live_frames_replaced_total", "counter",
     "Snapshot frames slow clients of the stream never got because a newer one replaced them."),
    ("live_build_seconds", "gauge", "Time the last publishing cycle of the live stream took."),
    ("live_errors_total", "counter", "Publishing cycles of the live stream that failed (logged)."),
)


def _value(value: Any) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[Mapping[str, str], Any]]) -> None:
        self.lines.append(f"# HELP {PREFIX}{name} {help_text}")
        self.lines.append(f"# TYPE {PREFIX}{name} {kind}")
        for labels, value in samples:
            if labels:
                text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
                self.lines.append(f"{PREFIX}{name}{{{text}}} {_value(value)}")
            else:
                self.lines.append(f"{PREFIX}{name} {_value(value)}")


def exposition(snapshot: Mapping[str, Any], counters: Mapping[str, Any],
               plugin_faults: Mapping[str, int] | None = None) -> str:
    """The text exposition of ``snapshot`` (a role-cut live snapshot with agents) and ``counters`` (name in
    ``COUNTERS`` -> value; missing ones are left out)."""
    out = _Writer()
    queues = snapshot["queues"]
    for name, key, help_text in QUEUE_FAMILIES:
        out.family(name, "gauge", help_text, (({"queue": q}, figures[key]) for q, figures in queues.items()))
    agents = snapshot.get("agents", {})
    out.family("agents", "gauge", "Agents in each state (all agents, whatever the caller may see of them).",
               (({"state": s}, snapshot["totals"]["agents"].get(s, 0)) for s in AGENT_STATES))
    out.family("agent_state", "gauge", "1 for the agent's current state, 0 for the others.",
               (({"agent": a, "state": s}, int(e["state"] == s)) for a, e in agents.items() for s in AGENT_STATES))
    out.family("agent_time_in_state_seconds", "gauge", "Time the agent has been in its current state.",
               (({"agent": a}, e["time_in_state_s"]) for a, e in agents.items()))
    campaigns = snapshot.get("campaigns", {})
    for name, key, help_text in CAMPAIGN_FAMILIES:
        out.family(name, "gauge", help_text, (({"campaign": c}, f[key]) for c, f in campaigns.items()))
    out.family("campaign_mode", "gauge", "1 for the mode the campaign dials in now, 0 for the others.",
               (({"campaign": c, "mode": m}, int(f["mode_now"] == m)) for c, f in campaigns.items()
                for m in DIAL_MODES))
    for name, kind, help_text in COUNTERS:
        if name in counters:
            out.family(name, kind, help_text, [({}, counters[name])])
    if plugin_faults is not None:
        out.family("plugin_faults_total", "counter", "Hook calls of a plugin that raised or overran (isolated).",
                   (({"plugin": p}, n) for p, n in sorted(plugin_faults.items())))
    return "\n".join(out.lines) + "\n"
