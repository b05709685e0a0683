"""Rule ``blocked``: the number is on the ``blocked`` list (people who complained), whatever the campaign."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.lists import ListRule
from plugins.hookspecs import Verdict


class BlockedRule(ListRule):
    """Refuses a number on list ``blocked``."""

    rule = "blocked"

    def lists_of(self, request: Mapping[str, Any]) -> set[str]:
        return {"blocked"}

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        if not self.listed(request):
            return None
        return self.refuse(f"{request['number']} is on the 'blocked' list (the callee complained)")
