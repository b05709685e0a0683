"""Rule ``dnc``: the number is on the global do-not-call list or on the campaign's own (``campaign:<id>``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.lists import ListRule
from plugins.hookspecs import Verdict


class DncRule(ListRule):
    """Refuses a number on list ``global`` or ``campaign:<request["campaign"]>``."""

    rule = "dnc"

    def lists_of(self, request: Mapping[str, Any]) -> set[str]:
        campaign = request.get("campaign")
        return {"global", f"campaign:{campaign}"} if campaign else {"global"}

    def check(self, request: Mapping[str, Any]) -> Verdict | None:
        lists = self.listed(request)
        if not lists:
            return None
        which = ", ".join(repr(name) for name in lists)
        noun = "list" if len(lists) == 1 else "lists"
        return self.refuse(f"{request['number']} is on the do-not-call {noun} {which}")
