"""Rule ``daily-cap``: the number has already been dialled ``rules.daily_cap`` times (default 3) on the callee's
local calendar day, every campaign counted: the request's ``recent_dials`` falling on today's date in the callee's
first zone. With no recent dial nothing is counted (the zone is not needed); otherwise an unknown zone refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.base import RequestError, Rule, count_param, local, now_of, number_of, zones_of
from plugins.hookspecs import Verdict


class DailyCapRule(Rule):
    """Refuses when the dials on today's local date reach ``daily_cap``."""

    rule = "daily-cap"

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        cap = count_param(request, "daily_cap", self.settings.daily_cap)
        recent = request.get("recent_dials") or []
        if not isinstance(recent, list | tuple):
            raise RequestError(f"recent_dials is not a list of times: {recent!r}")
        if not recent:
            return None
        if any(isinstance(t, bool) or not isinstance(t, int | float) for t in recent):
            raise RequestError(f"recent_dials holds something that is not a time: {recent!r}")
        name = zones_of(request)[0]
        today = local(now_of(request), name).date()
        count = sum(1 for t in recent if local(t, name).date() == today)
        if count >= cap:
            return self.refuse(f"{count} dials to {number_of(request)} on {today.isoformat()} in {name} already; "
                               f"the daily cap is {cap}")
        return None
