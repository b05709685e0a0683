"""The IVR state machine fed directly: every transition, retries, hours across a time zone, language, VIP,
self-service, snapshot/restore."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgpack
import pytest

from engine.events import Action, Event, HangUp, Tick, decode, encode
from engine.ivr import (
    COLLECT_GRACE_S,
    Ivr,
    IvrConfig,
    IvrError,
    Language,
    Menu,
    PriorityRule,
    Target,
)
from engine.ivr_events import (
    CallerEntered,
    CallerIdentified,
    CallerLeft,
    CollectDigits,
    DigitsReceived,
    IvrPlay,
    IvrRouted,
    LookupCaller,
    RecordVoicemail,
    RunSelfService,
    SelfServiceDone,
)
from engine.model import OpenHours

MADRID = ZoneInfo("Europe/Madrid")


def at(text: str, tz: ZoneInfo = MADRID) -> float:
    """Unix time of a local ``YYYY-MM-DD HH:MM`` in ``tz``."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


OPEN = at("2026-11-23 10:00")  # a Monday morning in Madrid
WEEKDAYS_8_20 = {day: [(8 * 60, 20 * 60)] for day in range(5)}


def config(**overrides: object) -> IvrConfig:
    menus = {
        "language": Menu("language", {"": "choose-language"}, {
            "1": Target("language", "en", menu="main"),
            "2": Target("language", "es", menu="main"),
        }, timeout_s=5.0, retries=1, default=Target("language", "en", menu="main")),
        "main": Menu("main", {"en": "main-en", "es": "main-es"}, {
            "1": Target("menu", "billing"),
            "2": Target("menu", "support"),
            "4": Target("self-service", "order-status", then=Target("menu", "main")),
            "8": Target("voicemail", "general"),
            "9": Target("repeat"),
            "0": Target("operator"),
            "#": Target("hangup", prompt="goodbye"),
        }, timeout_s=6.0, retries=2, default=Target("queue", "support", prompt="transferring")),
        "billing": Menu("billing", {"": "billing"}, {
            "1": Target("queue", "billing", priority=1),
            "2": Target("queue", "billing", skills={"billing": 5}),
            "*": Target("back"),
        }, skills={"billing": 1}, default=Target("queue", "billing")),
        "support": Menu("support", {"": "support"}, {
            "1": Target("queue", "support", skills={"support": 4}),
            "*": Target("back"),
        }, skills={"support": 1}),
    }
    base: dict[str, object] = dict(
        entry="language", menus=menus,
        languages={"en": Language("en", "english"), "es": Language("es", "spanish", 5)},
        default_language="en",
        hours=OpenHours("Europe/Madrid", dict(WEEKDAYS_8_20), ("2026-12-25",)),
        closed=Target("voicemail", "after-hours", prompt="closed"),
        lookup=False, lookup_timeout_s=3.0, self_service_timeout_s=8.0,
        operator=Target("queue", "support", prompt="transferring"),
        fallback=Target("queue", "support", skills={"support": 2}),
        priority_rules=(PriorityRule("vip", True, 10),),
    )
    base.update(overrides)
    return IvrConfig(**base)  # type: ignore[arg-type]


def ask(prompt: str, lang: str = "en", digits: int = 1, timeout: float = 5.0, cid: str = "c1") -> list[Action]:
    return [IvrPlay(cid, "voice", prompt, lang), CollectDigits(cid, "voice", digits, timeout)]


def play(prompt: str, lang: str = "en", cid: str = "c1") -> IvrPlay:
    return IvrPlay(cid, "voice", prompt, lang)


def routed(actions: list[Action]) -> IvrRouted:
    assert isinstance(actions[-1], IvrRouted), actions
    return actions[-1]


def enter(ivr: Ivr, now: float = OPEN, **kw: object) -> list[Action]:
    return ivr.feed(CallerEntered("c1", "voice", "+34600000001", **kw), now)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- walking ----

def test_three_levels_by_digits_with_crm_vip_and_language() -> None:
    ivr = Ivr(config(lookup=True))
    assert enter(ivr, data={"dialled": "900"}) == [LookupCaller("c1", "+34600000001")]
    assert ivr.next_deadline() == OPEN + 3.0
    out = ivr.feed(CallerIdentified("c1", "cust-42", {"vip": True, "name": "Ana"}), OPEN + 1)
    assert out == ask("choose-language")
    assert ivr.feed(DigitsReceived("c1", "2"), OPEN + 2) == ask("main-es", "es", timeout=6.0)
    assert ivr.feed(DigitsReceived("c1", "1"), OPEN + 3) == ask("billing", "es")
    r = routed(ivr.feed(DigitsReceived("c1", "2"), OPEN + 4))
    arrival = r.arrival()
    assert (arrival.queue, arrival.workflow, arrival.priority) == ("billing", None, 10)
    assert arrival.skills == {"billing": 5, "spanish": 5}
    assert arrival.customer == "cust-42"
    assert arrival.data["dialled"] == "900"
    assert arrival.data["ivr"] == {"path": ["language", "main", "billing"], "digits": ["2", "1", "2"],
                                   "language": "es", "variables": {}, "attributes": {"vip": True, "name": "Ana"},
                                   "entered": OPEN}
    assert ivr.sessions == {} and ivr.next_deadline() is None


def test_not_vip_keeps_the_option_priority_and_caller_is_the_customer() -> None:
    ivr = Ivr(config())
    assert enter(ivr) == ask("choose-language")
    ivr.feed(DigitsReceived("c1", "1"), OPEN)
    ivr.feed(DigitsReceived("c1", "1"), OPEN)
    r = routed(ivr.feed(DigitsReceived("c1", "1"), OPEN))
    assert (r.queue, r.priority, r.skills, r.customer) == ("billing", 1, {"billing": 1, "english": 1},
                                                           "+34600000001")


def test_lookup_timeout_enters_the_menu_without_attributes_and_late_answer_is_stale() -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    assert ivr.feed(Tick(), OPEN + 2.9) == []
    assert ivr.feed(Tick(), OPEN + 3.0) == ask("choose-language")
    assert ivr.feed(CallerIdentified("c1", "x", {"vip": True}), OPEN + 4) == []  # stale
    ivr.feed(DigitsReceived("c1", "1"), OPEN + 5)
    ivr.feed(DigitsReceived("c1", "2"), OPEN + 6)
    assert routed(ivr.feed(DigitsReceived("c1", "1"), OPEN + 7)).priority == 0


def test_known_language_skips_nothing_but_is_used_for_prompts() -> None:
    ivr = Ivr(config(entry="main"))
    assert ivr.feed(CallerEntered("c1", language="es"), OPEN) == ask("main-es", "es", timeout=6.0)
    ivr2 = Ivr(config(entry="main"))
    assert ivr2.feed(CallerEntered("c1", language="fr"), OPEN) == ask("main-en", "en", timeout=6.0)


# ------------------------------------------------------------------------------------- retries, invalid ----

def test_invalid_digits_count_toward_the_limit_then_default() -> None:
    ivr = Ivr(config())
    enter(ivr)
    ivr.feed(DigitsReceived("c1", "1"), OPEN)  # -> main (retries = 2)
    assert ivr.feed(DigitsReceived("c1", "7"), OPEN + 1) == [play("invalid"), *ask("main-en", timeout=6.0)]
    assert ivr.feed(DigitsReceived("c1", ""), OPEN + 7) == [play("no-input"), *ask("main-en", timeout=6.0)]
    out = ivr.feed(DigitsReceived("c1", "5"), OPEN + 8)
    assert out[:2] == [play("invalid"), play("transferring")]
    r = routed(out)
    assert (r.queue, r.skills) == ("support", {"english": 1})
    assert r.data["ivr"]["digits"] == ["1", "7", "5"]


def test_guard_timeout_when_the_channel_never_answers() -> None:
    ivr = Ivr(config())
    enter(ivr)
    assert ivr.next_deadline() == OPEN + 5.0 + COLLECT_GRACE_S
    assert ivr.feed(Tick(), OPEN + 5.0 + COLLECT_GRACE_S - 0.001) == []
    out = ivr.feed(Tick(), OPEN + 5.0 + COLLECT_GRACE_S)
    assert out == [play("no-input"), *ask("choose-language")]
    # retries = 1 on the language menu: the second failure runs its default (English, main menu).
    out = ivr.feed(DigitsReceived("c1", ""), OPEN + 20)
    assert out == [play("no-input"), *ask("main-en", timeout=6.0)]


def test_repeat_does_not_count_and_back_returns_to_the_parent_dropping_its_skills() -> None:
    ivr = Ivr(config())
    enter(ivr)
    ivr.feed(DigitsReceived("c1", "1"), OPEN)
    ivr.feed(DigitsReceived("c1", "x"), OPEN)  # one failure
    ivr.feed(DigitsReceived("c1", "y"), OPEN)  # two failures
    for _ in range(3):
        assert ivr.feed(DigitsReceived("c1", "9"), OPEN) == ask("main-en", timeout=6.0)
    assert ivr.feed(DigitsReceived("c1", "1"), OPEN) == ask("billing")  # entering resets the count
    assert ivr.feed(DigitsReceived("c1", "*"), OPEN) == ask("main-en", timeout=6.0)
    assert ivr.feed(DigitsReceived("c1", "2"), OPEN) == ask("support")
    r = routed(ivr.feed(DigitsReceived("c1", "1"), OPEN))
    assert r.skills == {"support": 4, "english": 1}
    assert r.data["ivr"]["path"] == ["language", "main", "billing", "main", "support"]


def test_operator_hangup_and_voicemail_end_the_session() -> None:
    ivr = Ivr(config(entry="main"))
    enter(ivr)
    out = ivr.feed(DigitsReceived("c1", "0"), OPEN)
    assert out[0] == play("transferring") and routed(out).queue == "support"
    enter(ivr)
    assert ivr.feed(DigitsReceived("c1", "#"), OPEN) == [play("goodbye"), HangUp("c1", "ivr-hangup")]
    enter(ivr)
    assert ivr.feed(DigitsReceived("c1", "8"), OPEN) == [RecordVoicemail("c1", "voice", "general", "en")]
    assert ivr.sessions == {}


def test_operator_without_configuration_is_an_invalid_choice() -> None:
    ivr = Ivr(config(entry="main", operator=None))
    enter(ivr)
    assert ivr.feed(DigitsReceived("c1", "0"), OPEN) == [play("invalid"), *ask("main-en", timeout=6.0)]


def test_caller_left_drops_the_session_and_stale_events_are_ignored() -> None:
    ivr = Ivr(config())
    enter(ivr)
    with pytest.raises(IvrError, match="already in the IVR"):
        enter(ivr)
    assert ivr.feed(SelfServiceDone("c1", {}), OPEN) == []  # not waiting for a step
    assert ivr.feed(CallerLeft("c1"), OPEN) == []
    assert ivr.sessions == {} and ivr.next_deadline() is None
    assert ivr.feed(DigitsReceived("c1", "1"), OPEN) == []
    assert ivr.feed(CallerLeft("nobody"), OPEN) == []


# ------------------------------------------------------------------------------------------------- hours ----

@pytest.mark.parametrize(("when", "tz", "is_open"), [
    ("2026-11-23 07:30", ZoneInfo("UTC"), True),    # 08:30 in Madrid: open, though 07:30 UTC is before 08:00
    ("2026-11-23 19:30", ZoneInfo("UTC"), False),   # 20:30 in Madrid: closed, though 19:30 UTC is before 20:00
    ("2026-11-23 06:59", ZoneInfo("UTC"), False),   # 07:59 in Madrid
    ("2026-11-22 12:00", MADRID, False),            # a Sunday
    ("2026-12-25 12:00", MADRID, False),            # a holiday on a Friday
])
def test_business_hours_in_the_configured_time_zone(when: str, tz: ZoneInfo, is_open: bool) -> None:
    ivr = Ivr(config())
    out = enter(ivr, now=at(when, tz))
    if is_open:
        assert out == ask("choose-language")
    else:
        assert out == [play("closed"), RecordVoicemail("c1", "voice", "after-hours", "en")]
        assert ivr.sessions == {}


def test_holiday_is_the_local_date_not_the_utc_one() -> None:
    every_hour = {day: [(0, 24 * 60)] for day in range(7)}
    ivr = Ivr(config(hours=OpenHours("Europe/Madrid", every_hour, ("2026-12-25",)),
                     closed=Target("hangup", prompt="closed")))
    # 23:30 UTC on the 24th is 00:30 on the 25th in Madrid: the holiday.
    assert enter(ivr, now=at("2026-12-24 23:30", ZoneInfo("UTC"))) == [play("closed"), HangUp("c1", "ivr-closed")]
    assert enter(ivr, now=at("2026-12-24 22:30", ZoneInfo("UTC"))) == ask("choose-language")


def test_closed_can_lead_to_a_menu() -> None:
    ivr = Ivr(config(closed=Target("menu", "main", prompt="closed")))
    out = enter(ivr, now=at("2026-11-22 12:00"))
    assert out == [play("closed"), *ask("main-en", timeout=6.0)]


# ------------------------------------------------------------------------------------------ self-service ----

def _to_order_status(ivr: Ivr) -> RunSelfService:
    ivr.feed(CallerIdentified("c1", "cust-42", {"vip": False}), OPEN)
    ivr.feed(DigitsReceived("c1", "1"), OPEN)
    out = ivr.feed(DigitsReceived("c1", "4"), OPEN + 1)
    assert len(out) == 1 and isinstance(out[0], RunSelfService)
    assert ivr.next_deadline() == OPEN + 1 + 8.0
    return out[0]


def test_self_service_success_plays_sets_variables_and_continues() -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    run = _to_order_status(ivr)
    assert run == RunSelfService("c1", "order-status", {
        "caller": "+34600000001", "customer": "cust-42", "language": "en", "digits": ["1", "4"],
        "variables": {}, "attributes": {"vip": False}, "now": OPEN + 1})
    out = ivr.feed(SelfServiceDone("c1", {"play": ["order-shipped", "thanks"], "variables": {"order": "A1"}}),
                   OPEN + 2)
    assert out == [play("order-shipped"), play("thanks"), *ask("main-en", timeout=6.0)]
    r = routed(ivr.feed(DigitsReceived("c1", "0"), OPEN + 3))
    assert r.data["ivr"]["variables"] == {"order": "A1"}
    assert r.data["ivr"]["path"] == ["language", "main", "main"]


@pytest.mark.parametrize(("result", "expected_tail"), [
    ({"next": "hangup", "play": "bye-now"}, [play("bye-now"), play("goodbye"), HangUp("c1", "ivr-hangup")]),
    ({"next": "menu:billing"}, ask("billing")),
])
def test_self_service_next(result: dict[str, object], expected_tail: list[Action]) -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    _to_order_status(ivr)
    assert ivr.feed(SelfServiceDone("c1", result), OPEN + 2) == expected_tail


def test_self_service_next_agent_goes_to_the_fallback_queue_without_apology() -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    _to_order_status(ivr)
    r = routed(ivr.feed(SelfServiceDone("c1", {"next": "agent"}), OPEN + 2))
    assert (r.queue, r.skills) == ("support", {"support": 2, "english": 1})
    assert r.data["ivr"]["variables"] == {"self_service_failed": False}


@pytest.mark.parametrize("result", [None, {"ok": False}, {"next": "menu:nowhere"}])
def test_self_service_failure_falls_back_to_an_agent(result: dict[str, object] | None) -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    _to_order_status(ivr)
    out = ivr.feed(SelfServiceDone("c1", result), OPEN + 2)
    assert play("self-service-failed") in out
    r = routed(out)
    assert (r.queue, r.skills, r.data["ivr"]["variables"]["self_service_failed"]) == (
        "support", {"support": 2, "english": 1}, True)


def test_self_service_timeout_falls_back_at_exactly_its_deadline() -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    _to_order_status(ivr)
    assert ivr.feed(Tick(), OPEN + 8.999) == []
    out = ivr.feed(Tick(), OPEN + 9.0)
    assert out[0] == play("self-service-failed") and routed(out).queue == "support"
    assert ivr.feed(SelfServiceDone("c1", {"play": "late"}), OPEN + 10) == []  # stale


# ---------------------------------------------------------------------------------- snapshot and codec ----

def _future(ivr: Ivr) -> list[list[Action]]:
    script: list[tuple[Event, float]] = [
        (DigitsReceived("c2", "2"), OPEN + 10), (DigitsReceived("c1", "4"), OPEN + 11), (Tick(), OPEN + 13),
        (DigitsReceived("c2", "7"), OPEN + 14), (Tick(), OPEN + 30),
        (SelfServiceDone("c1", {"variables": {"x": 1}}), OPEN + 31), (DigitsReceived("c1", "1"), OPEN + 32),
        (DigitsReceived("c1", "2"), OPEN + 33), (Tick(), OPEN + 100),
    ]
    return [ivr.feed(event, now) for event, now in script]


def test_snapshot_restore_mid_session_gives_the_same_future() -> None:
    ivr = Ivr(config(lookup=True))
    enter(ivr)
    ivr.feed(CallerIdentified("c1", "cust-42", {"vip": True}), OPEN + 1)
    ivr.feed(DigitsReceived("c1", "1"), OPEN + 2)
    ivr.feed(CallerEntered("c2", "voice", "+34600000002", "es", {"k": [1, 2]}), OPEN + 3)
    ivr.feed(Tick(), OPEN + 6.5)  # c2's lookup timed out
    packed = msgpack.packb(ivr.snapshot())
    other = Ivr(config(lookup=True))
    other.restore(msgpack.unpackb(packed))
    assert other.snapshot() == ivr.snapshot()
    assert other.next_deadline() == ivr.next_deadline()
    expected = _future(ivr)
    assert _future(other) == expected
    assert any(isinstance(a, IvrRouted) for batch in expected for a in batch)


def test_restore_refuses_a_snapshot_of_other_menus() -> None:
    ivr = Ivr(config())
    enter(ivr)
    snap = ivr.snapshot()
    with pytest.raises(IvrError, match="lacks"):
        Ivr(config(entry="x", menus={"x": Menu("x", {"": "p"}, {"1": Target("hangup")})})).restore(snap)


@pytest.mark.parametrize("message", [
    CallerEntered("c1", "voice", "+1", "en", {"a": 1}), DigitsReceived("c1", "12"),
    CallerIdentified("c1", "cust", {"vip": True}), SelfServiceDone("c1", {"play": ["x"]}), SelfServiceDone("c1"),
    CallerLeft("c1"), IvrPlay("c1", "voice", "p", "en"), CollectDigits("c1", "voice", 1, 5.0),
    LookupCaller("c1", "+1"), RunSelfService("c1", "s", {"digits": ["1"]}),
    RecordVoicemail("c1", "voice", "box", "en"),
    IvrRouted("c1", "voice", "q", None, 3, {"s": 1}, "cust", {"ivr": {"path": ["m"]}}),
])
def test_events_and_actions_round_trip_through_the_journal_codec(message: Event | Action) -> None:
    assert decode(msgpack.unpackb(msgpack.packb(encode(message)))) == message
