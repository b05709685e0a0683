"""Rule ``max-attempts``: the lead has already been attempted ``rules.max_attempts`` times (default 6). A dial
without a lead (a callback) is not judged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.base import RequestError, Rule, count_param, lead_of
from plugins.hookspecs import Verdict


class MaxAttemptsRule(Rule):
    """Refuses when ``lead["attempts"] >= max_attempts``."""

    rule = "max-attempts"

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        lead = lead_of(request)
        if lead is None:
            return None
        maximum = count_param(request, "max_attempts", self.settings.max_attempts)
        attempts = lead.get("attempts", 0) or 0
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise RequestError(f"lead {lead.get('id')}: attempts is not a count: {attempts!r}")
        if attempts >= maximum:
            return self.refuse(f"lead {lead.get('id')} has had {attempts} attempts; the maximum is {maximum}")
        return None
