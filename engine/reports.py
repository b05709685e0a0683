"""Historical reports: figures per 15-minute interval and per queue, agent and campaign, rolled up to hours and days.

``ReportAggregator`` is sans-IO: it is shown the engine's actions with their time (``observe(action, now)``) and
adds each one to the counters of its 15-minute interval, for every dimension it concerns:

- ``ContactRecord`` (a contact's life is over): offered, answered, abandoned, answered within the queue's
  service-level threshold, wait of the answered, talk, wrap-up (record time minus conversation end), transfers,
  repeats (the same customer had a contact in the previous ``REPEAT_WINDOW_S``: the contrary of first-contact
  resolution), dispositions and conversions (dispositions in ``conversions``), for its queue, its agent and (an
  outbound contact) its campaign;
- ``AgentStateChanged``: staffed and busy seconds of the agent (reserved, on a contact or wrapping up), split
  across interval boundaries: the agent's occupancy;
- ``SurveyRecorded``: surveys answered, the sum of their scores, and satisfied answers (4 or 5) for the queue and
  agent rated.

``take()`` hands over the counters added since the last call (deltas, as ``IntervalRow`` records) for a writer to
add to the store (``Store.add_report_rows``), so the report rows only ever grow by what happened, and a restart
loses at most what was not yet handed over. ``derive(counts)`` turns summed counters into the figures a
report shows (service level, ASA, AHT, abandonment, FCR, transfer rate, CSAT, occupancy, conversion rate);
``roll_up(rows, interval)`` sums 15-minute rows into hours or days; ``to_csv(rows)`` writes them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.events import Action, AgentStateChanged, ContactRecord
from engine.survey import SurveyRecorded

INTERVAL_S = 900.0
INTERVALS = {"15min": 900.0, "hour": 3600.0, "day": 86400.0}
"""Report granularities (UTC boundaries) and their length in seconds."""
DIMENSIONS = ("queue", "agent", "campaign")
REPEAT_WINDOW_S = 7 * 86400.0
"""A contact from a customer who had one within this long before is a repeat (not first-contact resolved)."""
DEFAULT_CONVERSIONS = frozenset({"sale", "converted", "success"})
BUSY_STATES = frozenset({"reserved", "on-contact", "wrap-up"})
COUNTERS = ("offered", "answered", "abandoned", "answered_in_sl", "wait_s", "talk_s", "wrap_s", "transfers",
            "repeats", "conversions", "surveys", "survey_score", "satisfied", "staffed_s", "busy_s")


@dataclass(slots=True)
class IntervalRow:
    """Counters of one ``dimension`` / ``key`` for the interval starting at ``start`` (Unix seconds)."""

    dimension: str
    key: str
    start: float
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0.0))
    dispositions: dict[str, int] = field(default_factory=dict)

    def add(self, other: IntervalRow) -> None:
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0.0) + value
        for name, n in other.dispositions.items():
            self.dispositions[name] = self.dispositions.get(name, 0) + n


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def derive(counts: dict[str, float]) -> dict[str, float | None]:
    """The report figures of summed counters (``None`` where the denominator is zero)."""
    answered = counts.get("answered", 0.0)
    handled = counts.get("talk_s", 0.0) + counts.get("wrap_s", 0.0)
    return {
        "service_level": _ratio(counts.get("answered_in_sl", 0.0), counts.get("offered", 0.0)),
        "asa_s": _ratio(counts.get("wait_s", 0.0), answered),
        "aht_s": _ratio(handled, answered),
        "abandon_rate": _ratio(counts.get("abandoned", 0.0), counts.get("offered", 0.0)),
        "fcr_rate": _ratio(answered - counts.get("repeats", 0.0), answered) if answered else None,
        "transfer_rate": _ratio(counts.get("transfers", 0.0), answered),
        "csat": _ratio(counts.get("satisfied", 0.0), counts.get("surveys", 0.0)),
        "mean_survey_score": _ratio(counts.get("survey_score", 0.0), counts.get("surveys", 0.0)),
        "occupancy": _ratio(counts.get("busy_s", 0.0), counts.get("staffed_s", 0.0)),
        "conversion_rate": _ratio(counts.get("conversions", 0.0), answered),
    }


class ReportAggregator:
    """Interval counters fed by the engine's actions. See the module docstring. ``service_level_of(queue)``: the
    queue's answered-within threshold now (so a live change of the queue counts from then on; 20 s when it
    raises ``KeyError``); ``conversions``: the dispositions that count as a conversion."""

    accepts = (ContactRecord, AgentStateChanged, SurveyRecorded)  # the runtime offers it only these

    def __init__(self, service_level_of: Callable[[str], float] | None = None, *,
                 conversions: Iterable[str] = DEFAULT_CONVERSIONS) -> None:
        self._service_level_of = service_level_of
        self.conversions = frozenset(conversions)
        self._rows: dict[tuple[str, str, float], IntervalRow] = {}
        self._agents: dict[str, tuple[str, float]] = {}  # agent -> (state, since)
        self._last_contact: dict[str, float] = {}  # customer -> time of their last contact
        self._pruned = -math.inf

    @classmethod
    def for_center(cls, center: Any, **kwargs: Any) -> ReportAggregator:
        """An aggregator reading the thresholds of ``center``'s queues as they are (an ``Acd`` or ``Center``)."""
        return cls(lambda queue_id: center.queues[queue_id].service_level_s, **kwargs)

    def _threshold(self, queue_id: str) -> float:
        if self._service_level_of is None:
            return 20.0
        try:
            return float(self._service_level_of(queue_id))
        except KeyError:
            return 20.0

    def observe(self, action: Action, now: float) -> None:
        kind = type(action)
        if kind is ContactRecord:
            self._on_record(action, now)  # type: ignore[arg-type]
        elif kind is AgentStateChanged:
            self._on_agent(action)  # type: ignore[arg-type]
        elif kind is SurveyRecorded:
            self._on_survey(action)  # type: ignore[arg-type]

    def handle(self, action: Action, now: float) -> None:
        """The runtime's sink interface (inline: it only adds to counters)."""
        self.observe(action, now)

    def take(self) -> list[IntervalRow]:
        """The counters added since the last ``take`` (and forget them)."""
        rows = list(self._rows.values())
        self._rows = {}
        return rows

    # ------------------------------------------------------------------------------------------ intake ----

    def _row(self, dimension: str, key: str, at: float) -> IntervalRow:
        start = math.floor(at / INTERVAL_S) * INTERVAL_S
        row = self._rows.get((dimension, key, start))
        if row is None:
            row = self._rows[(dimension, key, start)] = IntervalRow(dimension, key, start)
        return row

    def _targets(self, record: ContactRecord, at: float) -> list[IntervalRow]:
        rows = [self._row("queue", record.queue, at)] if record.queue else []
        if record.agent_id:
            rows.append(self._row("agent", record.agent_id, at))
        campaign = record.data.get("campaign") if isinstance(record.data, dict) else None
        if isinstance(campaign, str) and campaign:
            rows.append(self._row("campaign", campaign, at))
        return rows

    def _on_record(self, record: ContactRecord, now: float) -> None:
        at = record.arrived
        answered = record.answered is not None
        wait = (record.answered - record.arrived) if record.answered is not None else 0.0
        talk = max(0.0, record.ended - record.answered) if record.answered is not None else 0.0
        wrap = max(0.0, now - record.ended) if answered else 0.0
        transferred = any(step[1] == "transferred" for step in record.history)
        repeat = False
        if record.customer:
            last = self._last_contact.get(record.customer)
            repeat = last is not None and record.arrived - last <= REPEAT_WINDOW_S
            self._last_contact[record.customer] = record.arrived
            self._prune(record.arrived)
        disposition = record.disposition or ""
        threshold = self._threshold(record.queue) if answered else 0.0
        for row in self._targets(record, at):
            c = row.counts
            c["offered"] += 1
            if answered:
                c["answered"] += 1
                c["wait_s"] += wait
                c["talk_s"] += talk
                c["wrap_s"] += wrap
                if wait <= threshold:
                    c["answered_in_sl"] += 1
                if repeat:
                    c["repeats"] += 1
                if transferred:
                    c["transfers"] += 1
                if disposition:
                    row.dispositions[disposition] = row.dispositions.get(disposition, 0) + 1
                    if disposition in self.conversions:
                        c["conversions"] += 1
            elif record.outcome == "abandoned":
                c["abandoned"] += 1

    def _prune(self, now: float) -> None:
        if now - self._pruned < 3600.0:
            return
        self._pruned = now
        cutoff = now - REPEAT_WINDOW_S
        self._last_contact = {k: t for k, t in self._last_contact.items() if t >= cutoff}

    def _on_agent(self, change: AgentStateChanged) -> None:
        previous = self._agents.get(change.agent_id)
        self._agents[change.agent_id] = (change.state, change.at)
        if previous is None:
            return
        state, since = previous
        if state == "logged-out":
            return
        t = since
        while t < change.at:
            end = min(change.at, (math.floor(t / INTERVAL_S) + 1) * INTERVAL_S)
            c = self._row("agent", change.agent_id, t).counts
            c["staffed_s"] += end - t
            if state in BUSY_STATES:
                c["busy_s"] += end - t
            t = end

    def _on_survey(self, survey: SurveyRecorded) -> None:
        rows = [self._row("queue", survey.queue, survey.at)]
        if survey.agent_id:
            rows.append(self._row("agent", survey.agent_id, survey.at))
        for row in rows:
            row.counts["surveys"] += 1
            row.counts["survey_score"] += survey.score
            if survey.score >= 4:
                row.counts["satisfied"] += 1


# ------------------------------------------------------------------------------------------ reporting ----

def roll_up(rows: Iterable[IntervalRow], interval: str) -> list[IntervalRow]:
    """Sum 15-minute ``rows`` into ``interval`` ("15min", "hour" or "day"), ordered by start, dimension, key."""
    if interval not in INTERVALS:
        raise ValueError(f"interval: expected one of {', '.join(INTERVALS)}, got {interval!r}")
    size = INTERVALS[interval]
    out: dict[tuple[float, str, str], IntervalRow] = {}
    for row in rows:
        start = math.floor(row.start / size) * size
        target = out.get((start, row.dimension, row.key))
        if target is None:
            target = out[(start, row.dimension, row.key)] = IntervalRow(row.dimension, row.key, start)
        target.add(row)
    return [out[k] for k in sorted(out)]


CSV_COLUMNS: tuple[str, ...] = ("start", "dimension", "key", "offered", "answered", "abandoned", "service_level",
                                "asa_s", "aht_s", "abandon_rate", "fcr_rate", "transfer_rate", "csat",
                                "mean_survey_score", "occupancy", "conversions", "conversion_rate", "surveys",
                                "dispositions")


def report_dicts(rows: Sequence[IntervalRow]) -> list[dict[str, Any]]:
    """One plain dict per row: its counters, its derived figures and its dispositions."""
    out = []
    for row in rows:
        item: dict[str, Any] = {"start": row.start, "dimension": row.dimension, "key": row.key}
        item.update({k: row.counts.get(k, 0.0) for k in COUNTERS})
        item.update(derive(row.counts))
        item["dispositions"] = dict(sorted(row.dispositions.items()))
        out.append(item)
    return out


def to_csv(rows: Sequence[IntervalRow]) -> str:
    """The rows as CSV (``CSV_COLUMNS``; times as ISO 8601 UTC, rates as fractions, empty where undefined)."""
    from datetime import UTC, datetime

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in report_dicts(rows):
        line = []
        for column in CSV_COLUMNS:
            value = item[column]
            if column == "start":
                value = datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
            elif column == "dispositions":
                value = ";".join(f"{k}={n}" for k, n in value.items())
            elif value is None:
                value = ""
            elif isinstance(value, float):
                value = f"{value:.6g}"
            line.append(value)
        writer.writerow(line)
    return buffer.getvalue()
