"""Rule ``min-interval``: less than ``rules.min_interval_s`` (default 3600 s) since the lead's last attempt. A
lead never attempted, or a dial without a lead, is not judged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.base import RequestError, Rule, lead_of, now_of, seconds_param
from plugins.hookspecs import Verdict


class MinIntervalRule(Rule):
    """Refuses when ``now - lead["last_attempt"] < min_interval_s``."""

    rule = "min-interval"

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        lead = lead_of(request)
        if lead is None or lead.get("last_attempt") is None:
            return None
        last = lead["last_attempt"]
        if isinstance(last, bool) or not isinstance(last, int | float):
            raise RequestError(f"lead {lead.get('id')}: last_attempt is not a time: {last!r}")
        minimum = seconds_param(request, "min_interval_s", self.settings.min_interval_s)
        elapsed = now_of(request) - last
        if elapsed < minimum:
            return self.refuse(f"the last attempt to lead {lead.get('id')} was {elapsed:.0f} s ago; "
                               f"the minimum interval is {minimum:.0f} s")
        return None
