"""``Center``: the ACD, the dialer and the surveys as one sans-IO state machine (a partition's routing state).

The dialer's agents are the ACD's (blended work), and a call the dialer connects to a person becomes an ACD
contact. ``feed(event, now)`` gives a dialer event to the dialer and any other event to the ACD (a ``Tick`` to
both); every action of the ACD is shown to the dialer (``Dialer.observe``), and the events the dialer addresses
to the ACD (a person to route, a person to withdraw after the 2-second rule) are fed to the ACD at once, in order,
within the same call. The satisfaction surveys (``engine.survey``) see every contact record and take the
survey answers (``SurveyAnswered``). The returned list holds every action of all three, in the order they happened: ``Center`` is
``Acd``-like (``feed``, ``validate``, ``next_deadline``, ``snapshot`` / ``restore``), so the simulator's driver and
the runtime (with its journal and snapshots) drive it unchanged, and since everything it does follows from the
events fed, a journal of those events replays it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.acd import Acd
from engine.dialer import Dialer
from engine.errors import AcdError, ConfigError
from engine.events import Action, ContactRecord, Event, RemoveQueue, Tick, UpsertAgent, UpsertQueue
from engine.model import CampaignConfig, CenterConfig
from engine.survey import Surveys


class Center:
    """``acd`` and ``dialer`` driven together. See the module docstring."""

    def __init__(self, acd: Acd, dialer: Dialer, surveys: Surveys | None = None) -> None:
        self.acd = acd
        self.dialer = dialer
        self.surveys = surveys if surveys is not None else Surveys(acd.config_now())
        self._dialer_events = frozenset(Dialer.EVENT_TYPES)
        self._survey_events = frozenset(Surveys.EVENT_TYPES)

    @classmethod
    def build(cls, config: CenterConfig, *, pacer_factory: Callable[[CampaignConfig], Any] | None = None) -> Center:
        """A new center (ACD and dialer) for ``config``: the journal's ``acd_factory``."""
        return cls(Acd(config), Dialer(config, pacer_factory=pacer_factory))

    def validate(self, event: Event) -> None:
        """Raise ``AcdError`` if ``feed(event)`` would refuse it (checked before the event is journaled)."""
        if type(event) is RemoveQueue:
            users = sorted(c.id for c in self.dialer.campaigns() if c.queue == event.queue_id)
            if users:
                raise AcdError(f"queue {event.queue_id!r} is in use by campaign(s) {', '.join(users)}")
        if type(event) in self._dialer_events:
            self.dialer.validate(event)
        elif type(event) in self._survey_events:
            self.surveys.validate(event)
        else:
            self.acd.validate(event)

    def snapshot(self) -> dict[str, Any]:
        """Both machines' state as msgpack-able data (``restore`` rebuilds an identical center)."""
        return {"format": "center-1", "acd": self.acd.snapshot(), "dialer": self.dialer.snapshot(),
                "surveys": self.surveys.snapshot()}

    @classmethod
    def restore(cls, data: dict[str, Any], *,
                pacer_factory: Callable[[CampaignConfig], Any] | None = None) -> Center:
        """Rebuild the center that ``snapshot`` described (``ConfigError`` for data it cannot read). An ACD's own
        snapshot (a data directory written before the dialer ran) gives that ACD and a dialer with no campaign."""
        if isinstance(data, dict) and data.get("format") == 1:  # an ACD's snapshot, from before the dialer ran
            acd = Acd.restore(data)
            return cls(acd, Dialer(acd.config_now(), pacer_factory=pacer_factory))
        if not isinstance(data, dict) or data.get("format") != "center-1":
            raise ConfigError("center snapshot: unknown format (expected center-1)")
        acd = Acd.restore(data["acd"])
        config = acd.config_now()
        return cls(acd, Dialer.restore(data["dialer"], config, pacer_factory=pacer_factory),
                   Surveys.restore(data.get("surveys"), config))

    def digest(self) -> dict[str, Any]:
        """The ACD's digest (its keys at the top, so code that reads an ACD's digest reads this one) plus the
        dialer's whole state under ``"dialer"``: equal digests mean the same routing and dialling."""
        return {**self.acd.digest(), "dialer": self.dialer.snapshot(), "surveys": self.surveys.snapshot()}

    # The ACD's read-only views, so that what reads ``runtime.acd`` (status line, plugin host, admin API) works
    # the same whether the runtime drives an ``Acd`` or a ``Center``.

    @property
    def agents(self) -> dict[str, Any]:
        return self.acd.agents

    @property
    def queues(self) -> dict[str, Any]:
        return self.acd.queues

    @property
    def contacts(self) -> dict[str, Any]:
        return self.acd.contacts

    @property
    def workflows(self) -> dict[str, Any]:
        return self.acd.workflows

    def config_now(self) -> CenterConfig:
        return self.acd.config_now()

    def agent_state(self, agent_id: str) -> tuple[str, str, float]:
        return self.acd.agent_state(agent_id)

    def waiting(self, queue_id: str) -> list[str]:
        return self.acd.waiting(queue_id)

    def estimated_wait(self, contact_id: str) -> tuple[int, float]:
        return self.acd.estimated_wait(contact_id)

    def feed(self, event: Event, now: float) -> list[Action]:
        kind = type(event)
        dialer = self.dialer
        if kind in self._dialer_events:
            out = dialer.feed(event, now)
        elif kind in self._survey_events:
            out = self.surveys.feed(event, now)
        elif kind is Tick:
            out = self._observed(self.acd.feed(event, now), now)
            out.extend(dialer.feed(event, now))
            out.extend(self.surveys.feed(event, now))
        else:
            out = self._observed(self.acd.feed(event, now), now)
            if kind is UpsertAgent or kind is UpsertQueue:
                dialer.observe(event, now)  # type: ignore[arg-type]
                self.surveys.observe(event, now)  # type: ignore[arg-type]
        pending = dialer.to_acd
        while pending:
            to_acd = pending.pop(0)
            out.extend(self._observed(self.acd.feed(to_acd, now), now))
        return out

    def _observed(self, actions: list[Action], now: float) -> list[Action]:
        observe = self.dialer.observe
        out = list(actions)
        for action in actions:
            out.extend(observe(action, now))
            if type(action) is ContactRecord:
                out.extend(self.surveys.observe(action, now))
        return out

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.acd.next_deadline(), self.dialer.next_deadline(),
                                 self.surveys.next_deadline()) if d is not None]
        return min(deadlines) if deadlines else None
