"""The agent's screen pop: who the customer is, what happened before, and what is still open.

``await screen_pop(manager, customer)`` asks every CRM and ticket plugin through ``PluginManager.acall`` (each
under its deadline, faults isolated) and returns::

    {
      "query":    "+15550100",                       # the customer string asked about
      "customer": {...} or None,                     # crm_lookup: the first CRM that knows the customer
      "history":  [{...}, ...],                      # crm_history of every CRM, flattened, newest first,
                                                     # de-duplicated (same contact_id, or same entry), at most limit
      "tickets":  [{...}, ...],                      # tickets_open of every ticket plugin, de-duplicated by reference
    }

Entries are ordered by their time (``arrived``, else ``at``, ``time`` or ``date``: Unix seconds or ISO 8601);
entries without one go last, in the order the plugins gave them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

TIME_KEYS = ("arrived", "at", "time", "date")


def _when(entry: dict[str, Any]) -> float | None:
    for key in TIME_KEYS:
        value = entry.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _identity(entry: dict[str, Any]) -> str:
    for key in ("contact_id", "reference"):
        if entry.get(key):
            return f"{key}:{entry[key]}"
    return json.dumps({k: v for k, v in entry.items() if k != "source"}, sort_keys=True, default=str)


def merge_entries(lists: Any, *, newest_first: bool = True) -> list[dict[str, Any]]:
    """Flatten a collected hook's list of lists, drop non-mappings and duplicates (the first one seen is kept),
    then sort by time, newest first, undated entries last."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for result in lists if isinstance(lists, list) else []:
        for entry in result if isinstance(result, list) else []:
            if not isinstance(entry, dict):
                continue
            key = _identity(entry)
            if key not in seen:
                seen.add(key)
                out.append(entry)
    if newest_first:
        out.sort(key=lambda e: (0, -w) if (w := _when(e)) is not None else (1, 0.0))
    return out


async def screen_pop(manager: Any, customer: str, *, deadline_s: float = 1.0, limit: int = 20) -> dict[str, Any]:
    """The screen pop of ``customer`` (see the module docstring). Never raises because of a plugin."""
    record = await manager.acall("crm_lookup", deadline_s=deadline_s, customer=customer)
    histories = await manager.acall("crm_history", deadline_s=deadline_s, customer=customer)
    tickets = await manager.acall("tickets_open", deadline_s=deadline_s, customer=customer)
    return {"query": customer, "customer": record if isinstance(record, dict) else None,
            "history": merge_entries(histories)[:limit], "tickets": merge_entries(tickets, newest_first=False)}
