"""The store-backed list rules' common part: which lists a number is on, asked of the store on every check (so a
number listed mid-campaign is refused from the next check on). Without a store they refuse nothing and warn once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.builtin.compliance.base import Rule, log, number_of


class ListRule(Rule):
    """A rule refusing numbers on some of the store's lists (``lists_of(request)`` says which)."""

    def __init__(self) -> None:
        super().__init__()
        self._warned = False

    def lists_of(self, request: Mapping[str, Any]) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def listed(self, request: Mapping[str, Any]) -> list[str]:
        """The lists of ``lists_of(request)`` the request's number is on, sorted; ``[]`` without a store."""
        if self.store is None:
            if not self._warned:
                self._warned = True
                log.warning("compliance rule %r has no store: its lists are not checked", self.rule)
            return []
        return sorted(self.store.dnc_lists_for(number_of(request)) & self.lists_of(request))
