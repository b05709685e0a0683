"""What every built-in rule shares: its settings and store (from ``switchboard_configure``), and reading the
``compliance_check`` request (see that hook's docstring for the mapping).

A rule subclasses ``Rule``, names itself (``rule``) and implements ``check(request) -> Verdict | None``. A
request the rule cannot judge because a value it needs is malformed or missing (``RequestError``) is refused
with the rule's name and the reason: a compliance rule fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError
from engine.store import Store
from plugins import hookimpl
from plugins.builtin.compliance.settings import Settings, hours_problem, parse_hhmm, validate
from plugins.builtin.crm.builtin import store_of
from plugins.hookspecs import Verdict

log = logging.getLogger("switchboard.compliance")


class RequestError(ValueError):
    """The request lacks what the rule needs, or holds a malformed value; the message is the refusal's reason."""


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``RequestError`` when it is empty or unknown."""
    if not isinstance(name, str) or not name.strip():
        raise RequestError(f"empty time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise RequestError(f"unknown time zone {name!r}") from None


def local(now: float, name: str) -> datetime:
    """The wall-clock time at Unix ``now`` in zone ``name`` (daylight saving applied by ``zoneinfo``)."""
    return datetime.fromtimestamp(now, zone(name))


def now_of(request: Mapping[str, Any]) -> float:
    now = request.get("now")
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise RequestError(f"no time in the request ('now' is {now!r})")
    return float(now)


def number_of(request: Mapping[str, Any]) -> str:
    number = request.get("number")
    if not isinstance(number, str) or not number:
        raise RequestError(f"no number in the request ('number' is {number!r})")
    return number


def lead_of(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The lead mapping (``Lead.to_dict()``), or ``None`` for a dial that is not a lead's (a callback)."""
    lead = request.get("lead")
    if lead is None:
        return None
    if hasattr(lead, "to_dict"):
        lead = lead.to_dict()
    if not isinstance(lead, Mapping):
        raise RequestError(f"'lead' is not a lead: {lead!r}")
    return lead


def zones_of(request: Mapping[str, Any]) -> list[str]:
    """The callee's possible zones: ``request["timezones"]``, else the lead's; ``RequestError`` when none."""
    zones = request.get("timezones")
    if not zones:
        lead = lead_of(request)
        zones = lead.get("timezones") if lead else None
    if isinstance(zones, str):
        zones = [zones]
    if not zones:
        raise RequestError(f"no time zone for {request.get('number')}: the callee's local time is unknown")
    return list(zones)


def param(request: Mapping[str, Any], key: str, default: Any) -> Any:
    """``request["rules"][key]`` when given (not ``None``), else ``default`` (the plugin's setting)."""
    rules = request.get("rules") or {}
    if not isinstance(rules, Mapping):
        raise RequestError(f"'rules' is not a mapping: {rules!r}")
    value = rules.get(key)
    return default if value is None else value


def count_param(request: Mapping[str, Any], key: str, default: int) -> int:
    value = param(request, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"rules.{key}: expected a positive integer, got {value!r}")
    return value


def seconds_param(request: Mapping[str, Any], key: str, default: float) -> float:
    value = param(request, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RequestError(f"rules.{key}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def hours_param(request: Mapping[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    """``rules.calling_hours`` as ``(first, last)`` minutes: ``[480, 1260]`` or ``["08:00", "21:00"]``."""
    value = param(request, "calling_hours", default)
    bounds: list[int | None] = []
    if isinstance(value, list | tuple) and len(value) == 2:
        for v in value:
            if isinstance(v, str):
                bounds.append(parse_hhmm(v))
            elif isinstance(v, int) and not isinstance(v, bool):
                bounds.append(v)
            else:
                bounds.append(None)
    if len(bounds) != 2 or bounds[0] is None or bounds[1] is None:
        raise RequestError(f"rules.calling_hours: expected [first_minute, last_minute], got {value!r}")
    problem = hours_problem(bounds[0], bounds[1])
    if problem:
        raise RequestError(f"rules.calling_hours: {problem}")
    return bounds[0], bounds[1]


class Rule:
    """One built-in compliance rule (a plugin of its own: a rule that raises is isolated and refuses as
    ``plugin-fault``, the others still run). Subclasses set ``rule`` and implement ``check``."""

    rule = ""

    def __init__(self) -> None:
        self.settings = Settings()
        self.store: Store | None = None

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        try:
            self.settings = validate(config)
        except ConfigError as exc:
            log.error("%s", exc)  # the manager logs only that the plugin raised
            raise
        self.store = store_of(config)

    @hookimpl
    def switchboard_unconfigure(self) -> None:
        self.store = None

    @hookimpl
    def compliance_check(self, request: Any) -> Verdict | None:
        if not isinstance(request, Mapping):
            return Verdict(False, f"the request is not a mapping: {request!r}", self.rule)
        try:
            return self.check(request)
        except RequestError as exc:
            return Verdict(False, str(exc), self.rule)

    def check(self, request: Mapping[str, Any]) -> Verdict | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def refuse(self, reason: str) -> Verdict:
        return Verdict(False, reason, self.rule)
