"""Rule ``calling-hours``: the callee's local time, in every one of their possible zones, is within
``[first, last)`` of ``rules.calling_hours`` (default 08:00-21:00). Local time comes from ``zoneinfo``, so it is
right on either side of a daylight-saving change. An empty or unknown zone, or no zone at all, refuses: the
callee's time cannot be known (fail closed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.base import Rule, hours_param, local, now_of, zone, zones_of
from plugins.builtin.compliance.settings import hhmm
from plugins.hookspecs import Verdict


class CallingHoursRule(Rule):
    """Refuses when the local time is outside the calling hours in any of the callee's zones."""

    rule = "calling-hours"

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        first, last = hours_param(request, self.settings.calling_hours)
        now = now_of(request)
        zones = zones_of(request)
        for name in zones:
            zone(name)  # every zone must be known before any is judged
        for name in zones:
            t = local(now, name)
            minute = t.hour * 60 + t.minute
            if not first <= minute < last:
                return self.refuse(f"{t:%H:%M} in {name} is outside calling hours {hhmm(first)}-{hhmm(last)}")
        return None
