"""The ``[plugins.compliance]`` section: the rules' defaults, used when a request's ``rules`` lacks a key.

::

    [plugins.compliance]
    calling_hours = ["08:00", "21:00"]   # [first, last) of the callee's local day; "24:00" is the day's end
    max_attempts = 6                      # dial attempts per lead
    min_interval_s = 3600                 # seconds between two attempts to a lead (0: no minimum)
    daily_cap = 3                         # dials per number per local calendar day, every campaign

``validate(config)`` returns the ``Settings``; a bad value (or an unknown key) is a ``ConfigError`` naming the
file, line and key (``center.toml:7: plugins.compliance.daily_cap: must be > 0, got 0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from plugins.builtin.crm.section import Key, plugin_section, positive, validate_section

NAME = "compliance"
DAY_MINUTES = 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_hhmm(text: str) -> int | None:
    """Minutes since midnight of ``"HH:MM"`` (``"24:00"`` is 1440), or ``None`` when malformed."""
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= DAY_MINUTES else None


def hhmm(minutes: int) -> str:
    """``"HH:MM"`` of minutes since midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def hours_problem(first: int, last: int) -> str | None:
    """Why ``[first, last)`` is not a calling window of one day, or ``None``."""
    if not 0 <= first < last <= DAY_MINUTES:
        return f"expected first < last within 00:00-24:00, got {hhmm(first)}-{hhmm(last)}"
    return None


def _check_hours(value: list[Any]) -> str | None:
    if len(value) != 2:
        return f"expected [\"HH:MM\", \"HH:MM\"], got {value!r}"
    parsed = [parse_hhmm(v) for v in value]
    if parsed[0] is None or parsed[1] is None:
        return f"expected [\"HH:MM\", \"HH:MM\"], got {value!r}"
    return hours_problem(parsed[0], parsed[1])


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be >= 0, got {value!r}"


KEYS = {
    "calling_hours": Key((list,), 'a list ["HH:MM", "HH:MM"]', ["08:00", "21:00"], _check_hours),
    "max_attempts": Key((int,), "a positive integer", 6, positive),
    "min_interval_s": Key((int, float), "a number of seconds", 3600.0, _not_negative),
    "daily_cap": Key((int,), "a positive integer", 3, positive),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The plugin defaults: ``calling_hours`` as ``(first_minute, last_minute)`` of the local day."""

    calling_hours: tuple[int, int] = (8 * 60, 21 * 60)
    max_attempts: int = 6
    min_interval_s: float = 3600.0
    daily_cap: int = 3


def validate(config: Any) -> Settings:
    """The settings of ``config["plugins"]["compliance"]`` (defaults for what is missing); ``ConfigError``."""
    section, config_file = plugin_section(config, NAME)
    values = validate_section(section or {}, KEYS, ("plugins", NAME), config_file)
    first, last = (parse_hhmm(v) for v in values["calling_hours"])
    assert first is not None and last is not None  # checked by _check_hours
    return Settings((first, last), values["max_attempts"], float(values["min_interval_s"]), values["daily_cap"])
