"""engine.live: the live figures of a real ``Center`` fed by hand, in virtual time, with exact values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.center import Center
from engine.config import parse_config
from engine.errors import ConfigError
from engine.events import (
    AgentHungUp,
    AgentLogin,
    AgentNotReady,
    AgentReady,
    ContactArrived,
    CustomerHungUp,
    Event,
    OfferAccepted,
    UpsertQueue,
    WrapUpDone,
)
from engine.live import DayPeriod, LiveFigures

T0 = datetime(2024, 3, 9, 12, 0, tzinfo=UTC).timestamp()
CONFIG = {
    "skills": ["sales", "support"],
    "agents": [
        {"id": "a1", "name": "Ann", "skills": {"sales": 5}, "teams": ["east"]},
        {"id": "a2", "name": "Bob", "skills": {"support": 5}, "teams": ["east"]},
        {"id": "a3", "skills": {"sales": 1, "support": 1}, "teams": ["west"]},
    ],
    "queues": [
        {"id": "sales", "name": "Sales", "skills": {"sales": 1}, "ring_timeout_s": 600, "wrap_up_s": 600,
         "service_level_s": 20, "service_level_target": 0.8},
        {"id": "support", "skills": {"support": 1}, "ring_timeout_s": 600, "wrap_up_s": 600,
         "service_level_s": 30, "service_level_target": 0.5},
    ],
}


class Fed:
    """A center and its live figures, fed by hand: every action the center returns goes to the figures."""

    def __init__(self, timezone: str = "UTC", config: dict[str, Any] | None = None) -> None:
        self.center = Center.build(parse_config(config or CONFIG, "test"))
        self.live = LiveFigures(self.center, timezone=timezone)

    def __call__(self, at: float, *events: Event) -> None:
        for event in events:
            for action in self.center.feed(event, T0 + at):
                self.live.handle(action, T0 + at)

    def snap(self, at: float) -> dict[str, Any]:
        return self.live.snapshot(T0 + at)


def staff(fed: Fed, at: float, *agents: str) -> None:
    for agent in agents:
        fed(at, AgentLogin(agent), AgentReady(agent))


def test_queue_figures_exactly() -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a2")
    fed(10, ContactArrived("c1", queue="sales"))  # rings a1 at once
    fed(15, OfferAccepted("a1", "c1"))  # waited 5 s: within 20 s
    fed(20, ContactArrived("c2", queue="sales"))  # a1 busy: waits
    snap = fed.snap(50)
    sales = snap["queues"]["sales"]
    assert sales["name"] == "Sales" and sales["channel"] == "voice"
    assert (sales["waiting"], sales["longest_wait_s"], sales["oldest_arrival"]) == (1, 30.0, T0 + 20)
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (2, 1, 0)
    assert sales["service_level"] == 1.0 and sales["asa_s"] == 5.0 and sales["abandon_rate"] == 0.0
    assert sales["below_target"] is False
    assert (sales["staffed"], sales["available"]) == (1, 0)  # a1 (on contact); a3 is logged out
    fed(60, CustomerHungUp("c2"))  # abandoned after 40 s
    fed(30 + 60, ContactArrived("c3", queue="support"))  # rings a2
    fed(125, OfferAccepted("a2", "c3"))  # waited 35 s: beyond support's 30 s
    snap = fed.snap(130)
    sales, support = snap["queues"]["sales"], snap["queues"]["support"]
    assert (sales["waiting"], sales["longest_wait_s"], sales["oldest_arrival"]) == (0, 0.0, None)
    assert sales["service_level"] == 0.5 and sales["abandon_rate"] == 0.5 and sales["below_target"] is True
    assert support["service_level"] == 0.0 and support["asa_s"] == 35.0 and support["below_target"] is True
    totals = snap["totals"]
    assert (totals["offered"], totals["answered"], totals["abandoned"], totals["waiting"]) == (3, 2, 1, 0)
    assert totals["service_level"] == pytest.approx(1 / 3) and totals["asa_s"] == 20.0
    assert totals["agents"] == {"logged-out": 1, "on-contact": 2}


def test_service_level_counts_a_contact_once_its_wait_is_over() -> None:
    fed = Fed()
    fed(0, ContactArrived("c1", queue="sales"))  # nobody staffed: it waits
    snap = fed.snap(100)["queues"]["sales"]
    assert snap["offered"] == 1 and snap["service_level"] is None and snap["below_target"] is False
    assert snap["longest_wait_s"] == 100.0
    staff(fed, 100, "a1")
    fed(101, OfferAccepted("a1", "c1"))
    snap = fed.snap(101)["queues"]["sales"]
    assert snap["service_level"] == 0.0 and snap["asa_s"] == 101.0


def test_the_threshold_is_the_queues_own_at_the_answer() -> None:
    fed = Fed()
    staff(fed, 0, "a1")
    fed(0, ContactArrived("c1", queue="sales"))
    queue = fed.center.queues["sales"]
    from dataclasses import replace

    fed(1, UpsertQueue(replace(queue, service_level_s=60.0, service_level_target=0.9)))
    fed(45, OfferAccepted("a1", "c1"))  # 45 s: within the new 60 s
    sales = fed.snap(45)["queues"]["sales"]
    assert sales["service_level"] == 1.0 and sales["service_level_s"] == 60.0
    assert sales["service_level_target"] == 0.9


def test_agents_state_reason_since_and_time_in_state() -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a2")
    fed(30, AgentNotReady("a2", "lunch"))
    agents = fed.snap(100)["agents"]
    assert agents["a1"] == {"name": "Ann", "teams": ["east"], "state": "available", "reason": "",
                            "since": T0, "time_in_state_s": 100.0}
    assert agents["a2"]["state"] == "not-ready" and agents["a2"]["reason"] == "lunch"
    assert agents["a2"]["time_in_state_s"] == 70.0
    assert agents["a3"]["state"] == "logged-out" and agents["a3"]["name"] == "a3"
    assert agents["a3"]["since"] is None and agents["a3"]["time_in_state_s"] is None  # never logged in
    assert fed.live.take_agent_changes()[-1] == ("a2", "not-ready", "lunch", T0 + 30)
    assert fed.live.take_agent_changes() == []


def test_agent_changes_are_coalesced_per_agent() -> None:
    fed = Fed()
    fed.live.take_agent_changes()
    staff(fed, 0, "a1")
    fed(10, ContactArrived("c1", queue="sales"), OfferAccepted("a1", "c1"))
    fed(20, AgentHungUp("a1", "c1"))
    changes = fed.live.take_agent_changes()
    assert changes == [("a1", "wrap-up", "", T0 + 20)]


def test_staffed_and_available_follow_skills() -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a3")
    queues = fed.snap(1)["queues"]
    assert (queues["sales"]["staffed"], queues["sales"]["available"]) == (2, 2)
    assert (queues["support"]["staffed"], queues["support"]["available"]) == (1, 1)
    fed(2, AgentNotReady("a3", "break"))
    queues = fed.snap(3)["queues"]
    assert (queues["sales"]["staffed"], queues["sales"]["available"]) == (2, 1)
    assert (queues["support"]["staffed"], queues["support"]["available"]) == (1, 0)


def test_the_day_starts_again_at_midnight_in_the_time_zone() -> None:
    fed = Fed(timezone="Europe/Paris")  # UTC+1 in March: midnight is 23:00 UTC
    staff(fed, 0, "a1")
    fed(10, ContactArrived("c1", queue="sales"), OfferAccepted("a1", "c1"))
    fed(20, AgentHungUp("a1", "c1"))
    fed(30, WrapUpDone("a1", "c1", "resolved"))
    fed(40, ContactArrived("c2", queue="sales"))  # rings a1 into the night
    day = fed.snap(100)
    assert day["period"] == {"kind": "day", "timezone": "Europe/Paris",
                             "start": datetime(2024, 3, 8, 23, 0, tzinfo=UTC).timestamp()}
    assert day["totals"]["offered"] == 2
    midnight = datetime(2024, 3, 9, 23, 0, tzinfo=UTC).timestamp() - T0
    next_day = fed.snap(midnight + 1)
    assert next_day["period"]["start"] == T0 + midnight
    assert (next_day["totals"]["offered"], next_day["totals"]["answered"]) == (0, 0)
    assert next_day["queues"]["sales"]["waiting"] == 1  # c2 still rings: it waits, counted in no day
    fed(midnight + 5, OfferAccepted("a1", "c2"))
    assert fed.snap(midnight + 5)["totals"]["answered"] == 0
    fed(midnight + 10, ContactArrived("c3", queue="support"))
    assert fed.snap(midnight + 10)["totals"]["offered"] == 1


def test_day_period_across_daylight_saving() -> None:
    period = DayPeriod("America/New_York")  # 2024-03-10: clocks go forward, a 23-hour day
    noon = datetime(2024, 3, 10, 16, 0, tzinfo=UTC).timestamp()
    start = period.start_of(noon)
    assert start == datetime(2024, 3, 10, 5, 0, tzinfo=UTC).timestamp()
    assert period.end_of(start) - start == 23 * 3600
    with pytest.raises(ConfigError, match="unknown time zone"):
        DayPeriod("Mars/Olympus")


def test_a_recovered_center_is_seeded_not_counted() -> None:
    fed = Fed()
    staff(fed, 0, "a1")
    fed(10, ContactArrived("c1", queue="sales"), OfferAccepted("a1", "c1"))
    fed(20, ContactArrived("c2", queue="sales"))
    live = LiveFigures(Center.restore(fed.center.snapshot()))
    snap = live.snapshot(T0 + 50)
    assert snap["agents"]["a1"]["state"] == "on-contact" and snap["agents"]["a1"]["since"] == T0 + 10
    assert snap["queues"]["sales"]["waiting"] == 1 and snap["queues"]["sales"]["longest_wait_s"] == 30.0
    assert snap["totals"]["offered"] == 0  # before this observer started


def test_handle_is_cheap_and_snapshot_is_pure() -> None:
    fed = Fed()
    staff(fed, 0, "a1", "a2")
    fed(5, ContactArrived("c1", queue="support"))
    version = fed.live.version
    assert fed.snap(9) == fed.snap(9)
    assert fed.live.version == version  # reading changes nothing
    fed(10, OfferAccepted("a2", "c1"))
    assert fed.live.version > version


def test_campaign_figures_since_the_period_start() -> None:
    fed = Fed()
    assert fed.snap(0)["campaigns"] == {}
    from engine.dialer_events import UpsertCampaign
    from engine.model import CampaignConfig

    fed(0, UpsertCampaign(CampaignConfig("camp", "sales", name="Spring", mode="progressive", active=False)))
    figures = fed.center.dialer.figures("camp")
    figures.add(T0 - 86400.0, "dials", 7)  # yesterday: not today's
    figures.add(T0 + 5, "dials", 4)
    figures.add(T0 + 5, "humans", 2)
    figures.add(T0 + 6, "abandoned", 1)
    camp = fed.snap(10)["campaigns"]["camp"]
    assert camp["name"] == "Spring" and camp["mode"] == "progressive" and camp["active"] is False
    assert (camp["dials"], camp["humans"], camp["abandoned"]) == (4, 2, 1)
    assert camp["connect_rate"] == 0.5 and camp["abandon_rate"] == 0.5
    assert camp["calls_in_progress"] == 0 and camp["mode_now"] == "progressive"
