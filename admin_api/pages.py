"""Cursors of paged lists: an opaque, URL-safe string carrying where the next page starts.

Lists held in memory (agents, queues, users...) page by position after a stable sort (``page``); tables that
grow (CDRs, audit) page by key (the handlers encode their own key with ``encode_cursor``). A cursor that does
not decode is a 400 naming ``cursor``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from admin_api.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
         "description": "items per page"}
CURSOR = {"type": "string", "maxLength": 500, "description": "next_cursor of the previous page"}
PAGING = {"limit": LIMIT, "cursor": CURSOR}
"""The query parameters of every paged list."""


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise ApiError(400, "cursor: not a cursor this API gave out") from None


def offset_of(query: dict[str, Any]) -> int:
    """The position ``query``'s ``cursor`` names (0 without one); a 400 for a cursor this API did not give out."""
    if not query.get("cursor"):
        return 0
    start = decode_cursor(query["cursor"])
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ApiError(400, "cursor: not a cursor this API gave out")
    return start


def page_from(rows: Sequence[Any], offset: int, limit: int) -> dict[str, Any]:
    """The page of ``rows`` a store gave for ``limit + 1`` rows from ``offset`` (the extra row says there is more)."""
    more = len(rows) > limit
    return {"items": list(rows[:limit]), "next_cursor": encode_cursor(offset + limit) if more else None}


def page(items: Sequence[Any], query: dict[str, Any]) -> dict[str, Any]:
    """The page of ``items`` (already filtered and sorted) that ``query``'s ``limit`` and ``cursor`` ask for."""
    limit = query.get("limit") or DEFAULT_LIMIT
    start = offset_of(query)
    chunk = list(items[start:start + limit])
    following = start + limit
    return {"items": chunk, "next_cursor": encode_cursor(following) if following < len(items) else None}
