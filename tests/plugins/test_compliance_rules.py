"""The built-in compliance rules, through a real ``PluginManager`` with the built-ins and a real store (on both
backends)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.errors import ConfigError
from engine.model import CampaignConfig, Lead
from engine.store import AsyncStore, SqlStore
from engine.tomlfile import TomlFile
from plugins.builtin import BUILTIN_PLUGINS
from plugins.builtin.compliance import RULES, Settings, validate
from plugins.manager import PluginManager

NUMBER = "+14155550100"


def at(text: str, zone: str = "UTC") -> float:
    """Unix seconds of a local wall-clock time ``"2026-03-08 08:30"`` in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def request(*, number: str = NUMBER, campaign: str | None = "sales", zones: tuple[str, ...] = ("America/New_York",),
            now: float | None = None, lead: dict[str, Any] | None | bool = True,
            rules: dict[str, Any] | None = None, recent: list[float] | None = None) -> dict[str, Any]:
    """What the dialer sends: a fresh lead of ``campaign`` at noon in New York on 2026-01-15 unless told."""
    if lead is True:
        lead = Lead("L1", campaign or "sales", number, zones).to_dict()
    return {"number": number, "campaign": campaign, "lead": lead or None, "timezones": list(zones),
            "now": at("2026-01-15 12:00", "America/New_York") if now is None else now,
            "rules": CampaignConfig("sales", "q").rules() if rules is None else rules,
            "recent_dials": recent or []}


@pytest.fixture
def rules(store: SqlStore) -> PluginManager:
    """The built-ins (no entry points) configured with the store."""
    manager = PluginManager(autoload=False)
    manager.configure({"store": store, "plugins": {}}, strict=True)
    return manager


def test_every_rule_is_a_builtin_and_a_clean_request_is_allowed(rules: PluginManager) -> None:
    assert {f"compliance-{name}" for name in RULES} <= set(BUILTIN_PLUGINS)
    listed = {p["name"]: p for p in rules.list_plugins()}
    for name in RULES:
        assert listed[f"compliance-{name}"]["hooks"] == ["compliance_check", "switchboard_configure",
                                                        "switchboard_unconfigure"]
    verdict = rules.check_compliance(request())
    assert verdict.allowed, verdict
    assert rules.faults == {}


# ------------------------------------------------------------------------------------------------ lists ----

def test_dnc_global_and_campaign_lists(rules: PluginManager, store: SqlStore) -> None:
    store.dnc_add("+1 (212) 555-0199", list_name="global", reason="national list")
    verdict = rules.check_compliance(request(number="+12125550199"))
    assert (verdict.allowed, verdict.rule) == (False, "dnc")
    assert verdict.reason == "+12125550199 is on the do-not-call list 'global'"

    store.dnc_add(NUMBER, list_name="campaign:sales")
    verdict = rules.check_compliance(request())
    assert (verdict.allowed, verdict.rule) == (False, "dnc")
    assert verdict.reason == f"{NUMBER} is on the do-not-call list 'campaign:sales'"
    # another campaign's list does not apply, nor does a campaign list to a dial without a campaign
    assert rules.check_compliance(request(campaign="retention")).allowed
    assert rules.check_compliance(request(campaign=None, lead=None)).allowed
    store.dnc_add(NUMBER)
    assert "lists 'campaign:sales', 'global'" in rules.check_compliance(request()).reason


def test_blocked_list_applies_to_every_campaign(rules: PluginManager, store: SqlStore) -> None:
    store.dnc_add(NUMBER, list_name="blocked", reason="complained 2026-01-02")
    for campaign in ("sales", "retention", None):
        verdict = rules.check_compliance(request(campaign=campaign))
        assert (verdict.allowed, verdict.rule) == (False, "blocked")
        assert verdict.reason == f"{NUMBER} is on the 'blocked' list (the callee complained)"


def test_number_added_mid_campaign_is_refused_on_the_next_check(rules: PluginManager, store: SqlStore) -> None:
    assert rules.check_compliance(request()).allowed
    assert store.dnc_add(NUMBER, source="opt-out by SMS")
    verdict = rules.check_compliance(request())
    assert (verdict.allowed, verdict.rule) == (False, "dnc")
    store.dnc_remove(NUMBER)
    assert rules.check_compliance(request()).allowed


async def test_an_async_store_is_read_through_its_blocking_store(store: SqlStore) -> None:
    manager = PluginManager(autoload=False)
    manager.configure({"store": AsyncStore(store)}, strict=True)
    store.dnc_add(NUMBER)
    assert manager.check_compliance(request()).rule == "dnc"


def test_without_a_store_the_lists_refuse_nothing_and_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    manager = PluginManager(autoload=False)
    manager.configure({"plugins": {}}, strict=True)
    with caplog.at_level(logging.WARNING, logger="switchboard.compliance"):
        assert manager.check_compliance(request()).allowed
        assert manager.check_compliance(request()).allowed
    warnings = [r.getMessage() for r in caplog.records if "has no store" in r.getMessage()]
    assert sorted(warnings) == ["compliance rule 'blocked' has no store: its lists are not checked",
                                "compliance rule 'dnc' has no store: its lists are not checked"]


# ---------------------------------------------------------------------------------------- calling hours ----

@pytest.mark.parametrize("local_time, allowed", [("07:59", False), ("08:00", True), ("20:59", True),
                                                 ("21:00", False), ("21:05", False), ("03:00", False)])
def test_calling_hours_boundaries(rules: PluginManager, local_time: str, allowed: bool) -> None:
    verdict = rules.check_compliance(request(now=at(f"2026-01-15 {local_time}", "America/New_York")))
    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.rule == "calling-hours"
        assert verdict.reason == f"{local_time} in America/New_York is outside calling hours 08:00-21:00"


def test_calling_hours_from_the_campaign_rules(rules: PluginManager) -> None:
    nine_to_five = request(now=at("2026-01-15 08:30", "America/New_York"),
                           rules={"calling_hours": [540, 1020]})
    verdict = rules.check_compliance(nine_to_five)
    assert verdict.reason == "08:30 in America/New_York is outside calling hours 09:00-17:00"
    assert rules.check_compliance({**nine_to_five, "now": at("2026-01-15 16:59", "America/New_York")}).allowed


@pytest.mark.parametrize("utc, allowed, shown", [
    # New York springs forward on 2026-03-08 at 02:00 EST: 12:30 UTC is 07:30 EST the day before, 08:30 EDT after
    ("2026-03-07 12:30", False, "07:30"), ("2026-03-08 12:30", True, "08:30"),
    # ... and falls back on 2026-11-01 at 02:00 EDT: 12:30 UTC is 08:30 EDT the day before, 07:30 EST after
    ("2026-10-31 12:30", True, "08:30"), ("2026-11-01 12:30", False, "07:30"),
    # evening side: 01:30 UTC is 20:30 EST after the fall-back, 21:30 EDT after the spring-forward
    ("2026-11-02 01:30", True, "20:30"), ("2026-03-09 01:30", False, "21:30"),
])
def test_calling_hours_across_new_york_dst_changes(rules: PluginManager, utc: str, allowed: bool,
                                                   shown: str) -> None:
    verdict = rules.check_compliance(request(now=at(utc)))
    assert verdict.allowed is allowed, verdict
    if not allowed:
        assert verdict.reason == f"{shown} in America/New_York is outside calling hours 08:00-21:00"


def test_calling_hours_across_london_dst_change(rules: PluginManager) -> None:
    # British Summer Time starts on 2026-03-29: 20:30 UTC is 20:30 GMT the day before, 21:30 BST on the day
    london = ("Europe/London",)
    assert rules.check_compliance(request(zones=london, now=at("2026-03-28 20:30"))).allowed
    verdict = rules.check_compliance(request(zones=london, now=at("2026-03-29 20:30")))
    assert (verdict.rule, verdict.reason) == ("calling-hours",
                                              "21:30 in Europe/London is outside calling hours 08:00-21:00")
    # and ends on 2026-10-25: 07:30 UTC is 08:30 BST the day before, 07:30 GMT on the day
    assert rules.check_compliance(request(zones=london, now=at("2026-10-24 07:30"))).allowed
    assert not rules.check_compliance(request(zones=london, now=at("2026-10-25 07:30"))).allowed


def test_calling_hours_must_hold_in_every_zone(rules: PluginManager) -> None:
    both = ("America/New_York", "America/Los_Angeles")
    # 10:00 in New York is 07:00 in Los Angeles: refused, naming the zone that is too early
    verdict = rules.check_compliance(request(zones=both, now=at("2026-01-15 10:00", "America/New_York")))
    assert verdict.reason == "07:00 in America/Los_Angeles is outside calling hours 08:00-21:00"
    # 20:30 in Los Angeles is 23:30 in New York
    verdict = rules.check_compliance(request(zones=both, now=at("2026-01-15 20:30", "America/Los_Angeles")))
    assert verdict.reason == "23:30 in America/New_York is outside calling hours 08:00-21:00"
    assert rules.check_compliance(request(zones=both, now=at("2026-01-15 12:00", "America/New_York"))).allowed


@pytest.mark.parametrize("zones, reason", [
    ((), f"no time zone for {NUMBER}: the callee's local time is unknown"),
    (("",), "empty time zone ''"),
    (("Mars/Olympus_Mons",), "unknown time zone 'Mars/Olympus_Mons'"),
    (("America/New_York", "Not/AZone"), "unknown time zone 'Not/AZone'"),
])
def test_unknown_or_empty_zone_fails_closed(rules: PluginManager, zones: tuple[str, ...], reason: str) -> None:
    verdict = rules.check_compliance(request(zones=zones, lead=None))
    assert (verdict.allowed, verdict.rule, verdict.reason) == (False, "calling-hours", reason)


def test_zones_fall_back_to_the_lead_and_no_time_refuses(rules: PluginManager) -> None:
    req = request(zones=("Europe/London",))
    req["timezones"] = []
    assert rules.check_compliance(req).allowed  # noon in New York is 17:00 in London
    req.pop("now")
    verdict = rules.check_compliance(req)
    assert (verdict.rule, verdict.reason) == ("calling-hours", "no time in the request ('now' is None)")


# ---------------------------------------------------------------------------------- attempts and pacing ----

def test_max_attempts(rules: PluginManager) -> None:
    lead = Lead("L7", "sales", NUMBER, ("America/New_York",), attempts=6, last_attempt=0.0).to_dict()
    verdict = rules.check_compliance(request(lead=lead))
    assert (verdict.allowed, verdict.rule, verdict.reason) == (False, "max-attempts",
                                                               "lead L7 has had 6 attempts; the maximum is 6")
    assert rules.check_compliance(request(lead={**lead, "attempts": 5})).allowed
    assert rules.check_compliance(request(lead=lead, rules={"max_attempts": 7})).allowed


def test_min_interval(rules: PluginManager) -> None:
    now = at("2026-01-15 12:00", "America/New_York")
    lead = Lead("L3", "sales", NUMBER, ("America/New_York",), attempts=1, last_attempt=now - 1200).to_dict()
    verdict = rules.check_compliance(request(lead=lead, now=now))
    assert (verdict.allowed, verdict.rule) == (False, "min-interval")
    assert verdict.reason == "the last attempt to lead L3 was 1200 s ago; the minimum interval is 3600 s"
    assert rules.check_compliance(request(lead={**lead, "last_attempt": now - 3600}, now=now)).allowed
    assert rules.check_compliance(request(lead=lead, now=now, rules={"min_interval_s": 600})).allowed


def test_daily_cap_counts_the_callees_local_day(rules: PluginManager) -> None:
    zone = "America/Los_Angeles"
    now = at("2026-01-15 10:00", zone)
    today = [at("2026-01-15 08:05", zone), at("2026-01-15 08:50", zone)]
    # 23:30 the evening before in Los Angeles is already the 15th in UTC: it does not count
    yesterday = [at("2026-01-14 23:30", zone)]
    req = request(zones=(zone,), now=now, recent=today + yesterday)
    assert rules.check_compliance(req).allowed  # 2 today < 3
    req["recent_dials"] = [*today, at("2026-01-15 09:30", zone), *yesterday]
    verdict = rules.check_compliance(req)
    assert (verdict.allowed, verdict.rule) == (False, "daily-cap")
    assert verdict.reason == f"3 dials to {NUMBER} on 2026-01-15 in {zone} already; the daily cap is 3"
    assert rules.check_compliance({**req, "rules": {"daily_cap": 4}}).allowed


def test_daily_cap_uses_the_first_zone(rules: PluginManager) -> None:
    # three dials on the 15th in New York (14:00-16:00 in London): none on the 16th, London's today
    ny = [at("2026-01-15 09:00", "America/New_York"), at("2026-01-15 10:00", "America/New_York"),
          at("2026-01-15 11:00", "America/New_York")]
    req = request(zones=("Europe/London", "America/New_York"), now=at("2026-01-16 12:00", "Europe/London"),
                  recent=ny, rules={"calling_hours": [0, 1440]})
    assert rules.check_compliance(req).allowed  # none of them on the 16th in London
    req["timezones"] = ["America/New_York", "Europe/London"]
    req["now"] = at("2026-01-15 12:00", "America/New_York")
    assert rules.check_compliance(req).rule == "daily-cap"


def test_a_dial_without_a_lead_is_judged_by_number_and_time_only(rules: PluginManager, store: SqlStore) -> None:
    assert rules.check_compliance(request(lead=None, campaign=None)).allowed
    assert rules.check_compliance(request(lead=None, now=at("2026-01-15 22:00", "America/New_York"))).rule \
        == "calling-hours"


def test_missing_rules_take_the_plugin_defaults(store: SqlStore) -> None:
    manager = PluginManager(autoload=False)
    manager.configure({"store": store, "plugins": {"compliance": {
        "calling_hours": ["10:00", "18:30"], "max_attempts": 2, "min_interval_s": 60, "daily_cap": 1}}}, strict=True)
    lead = Lead("L1", "sales", NUMBER, ("America/New_York",), attempts=2).to_dict()
    verdict = manager.check_compliance(request(lead=lead, rules={}))
    assert verdict.reason == "lead L1 has had 2 attempts; the maximum is 2"
    assert manager.check_compliance(request(rules={})).allowed  # noon is inside 10:00-18:30
    verdict = manager.check_compliance(request(rules={}, now=at("2026-01-15 18:30", "America/New_York")))
    assert verdict.reason == "18:30 in America/New_York is outside calling hours 10:00-18:30"
    verdict = manager.check_compliance(request(lead=lead, rules={"max_attempts": None}))
    assert verdict.rule == "max-attempts"  # a None key is a missing key
    noon = at("2026-01-15 12:00", "America/New_York")
    assert manager.check_compliance(request(rules={}, recent=[noon - 60])).rule == "daily-cap"


@pytest.mark.parametrize("rules_, rule, reason", [
    ({"calling_hours": [1260, 480]}, "calling-hours", "rules.calling_hours: expected first < last"),
    ({"calling_hours": "8-21"}, "calling-hours", "rules.calling_hours: expected [first_minute, last_minute]"),
    ({"max_attempts": 0}, "max-attempts", "rules.max_attempts: expected a positive integer, got 0"),
    ({"daily_cap": "3"}, "daily-cap", "rules.daily_cap: expected a positive integer, got '3'"),
])
def test_malformed_campaign_rules_refuse_naming_the_key(rules: PluginManager, rules_: dict[str, Any], rule: str,
                                                        reason: str) -> None:
    verdict = rules.check_compliance(request(rules=rules_, recent=[at("2026-01-15 09:00", "America/New_York")]))
    assert (verdict.allowed, verdict.rule) == (False, rule) and verdict.reason.startswith(reason)


def test_a_raising_rule_is_isolated_and_refuses(rules: PluginManager, store: SqlStore) -> None:
    store.close()  # the list rules now raise StoreError
    verdict = rules.check_compliance(request())
    assert (verdict.allowed, verdict.rule) == (False, "plugin-fault")
    assert rules.faults == {"compliance-dnc": 1, "compliance-blocked": 1}


def test_when_several_rules_refuse_the_weightiest_is_named(rules: PluginManager, store: SqlStore) -> None:
    lead = Lead("L1", "sales", NUMBER, ("America/New_York",), attempts=9).to_dict()
    late = request(lead=lead, now=at("2026-01-15 22:00", "America/New_York"))
    assert rules.check_compliance(late).rule == "calling-hours"
    store.dnc_add(NUMBER)
    assert rules.check_compliance(late).rule == "dnc"
    store.dnc_add(NUMBER, list_name="blocked")
    assert rules.check_compliance(late).rule == "blocked"


# ---------------------------------------------------------------------------------------- configuration ----

def test_settings_defaults_and_validation() -> None:
    assert validate({}) == Settings((480, 1260), 6, 3600.0, 3)
    assert validate({"plugins": {"compliance": {"calling_hours": ["09:30", "24:00"]}}}).calling_hours == (570, 1440)
    for section, message in [
        ({"calling_hours": ["8:00", "21:00"]}, 'plugins.compliance.calling_hours: expected ["HH:MM", "HH:MM"]'),
        ({"calling_hours": ["21:00", "08:00"]}, "plugins.compliance.calling_hours: expected first < last"),
        ({"calling_hours": "08:00-21:00"}, "plugins.compliance.calling_hours: expected a list"),
        ({"max_attempts": 0}, "plugins.compliance.max_attempts: must be > 0, got 0"),
        ({"min_interval_s": -1}, "plugins.compliance.min_interval_s: must be >= 0, got -1"),
        ({"daily_cap": True}, "plugins.compliance.daily_cap: expected a positive integer, got True"),
        ({"dialy_cap": 3}, "plugins.compliance.dialy_cap: unknown key"),
    ]:
        with pytest.raises(ConfigError) as info:
            validate({"plugins": {"compliance": section}})
        assert str(info.value).startswith(message), (section, str(info.value))
    config_file = TomlFile.parse('[plugins.compliance]\nmax_attempts = 3\ndaily_cap = 0\n', "center.toml")
    with pytest.raises(ConfigError, match=r"center.toml:3: plugins.compliance.daily_cap: must be > 0"):
        validate({"plugins": config_file.data["plugins"], "config_file": config_file})


def test_a_bad_section_stops_a_strict_start() -> None:
    manager = PluginManager(autoload=False)
    with pytest.raises(ConfigError, match=r"plugin 'compliance-.*plugins.compliance.daily_cap: must be > 0"):
        manager.configure({"plugins": {"compliance": {"daily_cap": 0}}}, strict=True)
