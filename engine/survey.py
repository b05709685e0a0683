"""``Surveys``: the post-contact satisfaction survey (CSAT), a small sans-IO state machine beside the ACD.

Theory of operation
-------------------
When a contact served by an agent ends (the ACD's ``ContactRecord`` with an agent and an answer time) on a queue
whose configuration has ``survey = true``, the machine asks the contact's channel to run the survey:
``StartSurvey`` (a channel action: a voice channel plays "rate us from 1 to 5" and reads a DTMF digit, a chat
channel posts the question and reads the reply). The channel reports the answer as ``SurveyAnswered`` (an event:
journaled like every other), and the machine emits ``SurveyRecorded`` with the queue, the agent and the score:
what the reports and the CDR writer keep. A survey not answered within ``SURVEY_TIMEOUT_S`` expires
(``SurveyExpired``, counted as not answered in the reports). One answer per contact; a second, a late one or a
score outside 1..5 is refused (``AcdError``, nothing changes).

State table (per contact)::

    (none)   --ContactRecord, served, queue.survey--> pending   StartSurvey
    pending  --SurveyAnswered(score 1..5)----------> (none)    SurveyRecorded
    pending  --timer SURVEY_TIMEOUT_S-------------> (none)    SurveyExpired

``Center`` shows it every ACD action (``observe``) and feeds it ``SurveyAnswered`` and ``Tick``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from engine.errors import AcdError, ConfigError
from engine.events import Action, ContactRecord, Event, Tick, UpsertQueue
from engine.model import CenterConfig, QueueConfig

SURVEY_TIMEOUT_S = 600.0
"""How long a survey waits for its answer."""
SCORES = range(1, 6)
SURVEY_QUESTION = "How satisfied were you with this contact, from 1 (not at all) to 5 (very)?"


@dataclass(frozen=True, slots=True)
class SurveyAnswered(Event):
    """The channel: the customer of ``contact_id`` answered the survey with ``score`` (1..5)."""

    contact_id: str
    score: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class StartSurvey(Action):
    """For the channel: run the satisfaction survey with the customer of a contact that just ended."""

    contact_id: str
    channel: str
    customer: str
    question: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class SurveyRecorded(Action):
    """Observer (and a store write): a contact's survey answer, with the queue and agent it rates."""

    contact_id: str
    queue: str
    agent_id: str
    score: int
    comment: str
    at: float


@dataclass(frozen=True, slots=True)
class SurveyExpired(Action):
    """Observer: a contact's survey got no answer in time."""

    contact_id: str
    queue: str
    agent_id: str
    at: float


class Surveys:
    """The surveys of one partition. See the module docstring."""

    EVENT_TYPES: tuple[type, ...] = (SurveyAnswered,)

    def __init__(self, config: CenterConfig) -> None:
        self._queues: dict[str, QueueConfig] = {q.id: q for q in config.queues}
        self._pending: dict[str, tuple[str, str, float]] = {}  # contact -> (queue, agent, deadline)
        self._timers: list[tuple[float, str]] = []

    def validate(self, event: Event) -> None:
        if not isinstance(event, SurveyAnswered):
            raise AcdError(f"the surveys do not take {type(event).__name__}")
        if event.contact_id not in self._pending:
            raise AcdError(f"contact {event.contact_id!r} has no survey waiting for an answer")
        if not isinstance(event.score, int) or isinstance(event.score, bool) or event.score not in SCORES:
            raise AcdError(f"survey score: expected an integer from 1 to 5, got {event.score!r}")
        if not isinstance(event.comment, str) or len(event.comment) > 2000:
            raise AcdError("survey comment: expected text of at most 2000 characters")

    def feed(self, event: Event, now: float) -> list[Action]:
        if isinstance(event, Tick):
            return self._expire(now)
        self.validate(event)
        assert isinstance(event, SurveyAnswered)
        queue, agent, _ = self._pending.pop(event.contact_id)
        return [SurveyRecorded(event.contact_id, queue, agent, event.score, event.comment, now)]

    def observe(self, action: Action, now: float) -> list[Action]:
        """Learn from one ACD action (a record, a queue's new configuration); returns the survey's actions."""
        if isinstance(action, ContactRecord):
            queue = self._queues.get(action.queue)
            if queue is None or not queue.survey or not action.agent_id or action.answered is None:
                return []
            deadline = now + SURVEY_TIMEOUT_S
            self._pending[action.contact_id] = (action.queue, action.agent_id, deadline)
            heapq.heappush(self._timers, (deadline, action.contact_id))
            return [StartSurvey(action.contact_id, action.channel, action.customer, SURVEY_QUESTION,
                                SURVEY_TIMEOUT_S)]
        if isinstance(action, UpsertQueue):
            self._queues[action.queue.id] = action.queue
        return []

    def next_deadline(self) -> float | None:
        timers = self._timers
        while timers and self._pending.get(timers[0][1], ("", "", None))[2] != timers[0][0]:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def pending(self) -> dict[str, tuple[str, str, float]]:
        """contact id -> (queue, agent, deadline) of the surveys waiting for an answer."""
        return dict(self._pending)

    def _expire(self, now: float) -> list[Action]:
        out: list[Action] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, contact_id = heapq.heappop(self._timers)
            queue, agent, _ = self._pending.pop(contact_id)
            out.append(SurveyExpired(contact_id, queue, agent, now))
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"format": 1, "pending": [[c, q, a, d] for c, (q, a, d) in sorted(self._pending.items())]}

    @classmethod
    def restore(cls, data: dict[str, Any] | None, config: CenterConfig) -> Surveys:
        """Rebuild from ``snapshot`` (``None``: a snapshot written before surveys existed, none pending)."""
        surveys = cls(config)
        if data is None:
            return surveys
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ConfigError("survey snapshot: unknown format (expected format 1)")
        for contact_id, queue, agent, deadline in data["pending"]:
            surveys._pending[contact_id] = (queue, agent, deadline)
            heapq.heappush(surveys._timers, (deadline, contact_id))
        return surveys
