"""The post-contact satisfaction survey: asked after a served contact on a survey queue, answered once, expired."""

from __future__ import annotations

import msgpack
import pytest

from engine.acd import Acd
from engine.center import Center
from engine.dialer import Dialer
from engine.errors import AcdError
from engine.events import (
    AgentHungUp,
    AgentLogin,
    AgentReady,
    ContactArrived,
    ContactRecord,
    OfferAccepted,
    OfferContact,
    Tick,
    WrapUpDone,
)
from engine.model import AgentConfig, CenterConfig, QueueConfig
from engine.survey import SURVEY_TIMEOUT_S, StartSurvey, SurveyAnswered, SurveyExpired, SurveyRecorded

CONFIG = CenterConfig(skills=("s",), agents=(AgentConfig("a1", skills={"s": 5}),),
                      queues=(QueueConfig("rated", skills={"s": 1}, survey=True), QueueConfig("plain",
                                                                                              skills={"s": 1})))


def _center() -> Center:
    center = Center(Acd(CONFIG), Dialer(CONFIG))
    center.feed(AgentLogin("a1"), 0.0)
    center.feed(AgentReady("a1"), 0.0)
    return center


def _serve(center: Center, contact: str, queue: str, t: float) -> list[object]:
    """A contact arrives, is answered and talked to, then the agent finishes wrap-up; all actions."""
    out: list[object] = []
    out += center.feed(ContactArrived(contact, channel="voice", queue=queue, customer="+442079460000"), t)
    assert any(isinstance(a, OfferContact) for a in out)
    out += center.feed(OfferAccepted("a1", contact), t + 1)
    out += center.feed(AgentHungUp("a1", contact), t + 60)
    out += center.feed(WrapUpDone("a1", contact, "resolved"), t + 70)
    return out


def test_a_served_contact_on_a_survey_queue_is_asked_and_its_answer_recorded() -> None:
    center = _center()
    actions = _serve(center, "c1", "rated", 10.0)
    record = next(a for a in actions if isinstance(a, ContactRecord))
    start = [a for a in actions if isinstance(a, StartSurvey)]
    assert [(s.contact_id, s.channel, s.customer) for s in start] == [("c1", "voice", "+442079460000")]
    assert actions.index(start[0]) > actions.index(record)  # after the record, never before
    assert center.feed(SurveyAnswered("c1", 4, "quick"), 100.0) == [
        SurveyRecorded("c1", "rated", "a1", 4, "quick", 100.0)]
    with pytest.raises(AcdError, match="no survey"):  # one answer per contact
        center.validate(SurveyAnswered("c1", 5))


def test_no_survey_on_a_plain_queue_and_bad_answers_are_refused() -> None:
    center = _center()
    assert not [a for a in _serve(center, "c1", "plain", 10.0) if isinstance(a, StartSurvey)]
    with pytest.raises(AcdError, match="no survey"):
        center.validate(SurveyAnswered("c1", 3))
    _serve(center, "c2", "rated", 200.0)
    for score in (0, 6, "5", True):
        with pytest.raises(AcdError, match="score"):
            center.validate(SurveyAnswered("c2", score))  # type: ignore[arg-type]
    assert "c2" in center.surveys.pending()


def test_an_unanswered_survey_expires_and_survives_a_snapshot() -> None:
    center = _center()
    _serve(center, "c1", "rated", 10.0)
    deadline = 80.0 + SURVEY_TIMEOUT_S
    assert center.next_deadline() == deadline
    twin = Center.restore(msgpack.unpackb(msgpack.packb(center.snapshot()), strict_map_key=False))
    assert twin.digest() == center.digest()
    for machine in (center, twin):
        assert not [a for a in machine.feed(Tick(), deadline - 1) if isinstance(a, SurveyExpired)]
        assert [a for a in machine.feed(Tick(), deadline) if isinstance(a, SurveyExpired)] == [
            SurveyExpired("c1", "rated", "a1", deadline)]
        assert machine.surveys.pending() == {}


def test_simulated_customers_answer_surveys_and_the_answers_are_recorded() -> None:
    from engine.sim.channel import SimulatedChannel
    from engine.sim.distributions import Distribution
    from engine.sim.driver import Driver

    recorded: list[SurveyRecorded] = []
    channel = SimulatedChannel(agents=["a1"], talk=Distribution.fixed(30.0), wrap=Distribution.fixed(5.0),
                               arrival_rates={"rated": 0.01}, arrivals_until=3600.0, seed=3,
                               survey_response=0.5)
    center = Center(Acd(CONFIG), Dialer(CONFIG))
    driver = Driver(center, channel, observers=[lambda a: recorded.append(a) if isinstance(a, SurveyRecorded)
                                                else None])
    driver.run(until=3600.0 + SURVEY_TIMEOUT_S + 100)
    assert 5 <= len(recorded) <= 30  # about half of ~36 served contacts answer
    assert all(r.queue == "rated" and r.agent_id == "a1" and 1 <= r.score <= 5 for r in recorded)
    assert center.surveys.pending() == {}
