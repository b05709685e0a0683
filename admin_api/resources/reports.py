"""Historical reports: ``GET /v1/reports/{dimension}`` (queue, agent or campaign) per 15 minutes, hour or day.

The rows are the store's 15-minute counters (``engine.reports``: written by the server as contacts end), rolled
up to the interval asked for, each with its figures: offered, answered, abandoned, service level, ASA, AHT,
first-contact resolution, transfer rate, CSAT, occupancy (agents), conversions. ``format=csv`` answers the same
rows as CSV (``engine.reports.CSV_COLUMNS``), what ``switchboard report`` writes.

Who sees what: an admin everything; a supervisor every queue and campaign, and the agent rows of its teams'
agents only; an agent its own agent rows only (its personal figures), and a 403 for queues and campaigns.
"""

from __future__ import annotations

import time
from typing import Any

from quart import Blueprint, Response

from admin_api.api import Ctx, route
from admin_api.auth import ANYONE
from admin_api.errors import ApiError
from admin_api.resources.contacts import team_of
from admin_api.schemas import closed, register
from engine.reports import COUNTERS, DIMENSIONS, INTERVALS, derive, report_dicts, roll_up, to_csv

bp = Blueprint("reports", __name__)

DEFAULT_SPAN_S = 86400.0
NUMBER = {"type": "number"}
ROW = register("ReportRow", closed({
    "start": {**NUMBER, "description": "Unix seconds (UTC interval boundary)"},
    "dimension": {"type": "string", "enum": list(DIMENSIONS)}, "key": {"type": "string"},
    **dict.fromkeys(COUNTERS, NUMBER), **dict.fromkeys(derive({}), {"type": ["number", "null"]}),
    "dispositions": {"type": "object", "additionalProperties": {"type": "integer"}},
}, ("start", "dimension", "key", *COUNTERS, *derive({}), "dispositions")))
REPORT = register("Report", closed({
    "dimension": {"type": "string", "enum": list(DIMENSIONS)},
    "interval": {"type": "string", "enum": list(INTERVALS)}, "from": NUMBER, "to": NUMBER,
    "items": {"type": "array", "items": ROW},
}, ("dimension", "interval", "from", "to", "items")))


@route(bp, "GET", "/v1/reports/<dimension>", summary="A historical report per queue, agent or campaign",
       roles=ANYONE, tags=("reports",), response=REPORT, response_media=("application/json", "text/csv"),
       query={"interval": {"type": "string", "enum": list(INTERVALS), "default": "hour"},
              "from": {**NUMBER, "description": "Unix seconds (default: `to` minus one day)"},
              "to": {**NUMBER, "description": "Unix seconds, excluded (default: now)"},
              "key": {"type": "string", "maxLength": 200, "description": "one queue, agent or campaign"},
              "format": {"type": "string", "enum": ["json", "csv"], "default": "json"}},
       description="dimension: queue, agent or campaign. Rows by start, then key. A supervisor gets the agent rows "
                   "of its teams only; an agent its own agent rows only (queues and campaigns: 403).")
async def get_report(ctx: Ctx, dimension: str) -> Any:
    if dimension not in DIMENSIONS:
        raise ApiError(404, f"report dimension {dimension!r}: expected one of {', '.join(DIMENSIONS)}")
    who = ctx.who
    if who.role == "agent" and dimension != "agent":
        raise ApiError(403, "an agent reads its own agent report only (dimension agent)")
    q = ctx.query
    end = q["to"] if "to" in q else time.time()
    start = q["from"] if "from" in q else end - DEFAULT_SPAN_S
    if not end > start:
        raise ApiError(400, "query parameter to: must be after from")
    key = q.get("key")
    rows: list[Any] = []
    if who.role == "agent":
        if key in (None, who.agent_id):  # another agent's key: no rows, as for a key with no data
            rows = await ctx.run(ctx.store.report_rows, dimension, start=start, end=end, key=who.agent_id)
    else:
        rows = await ctx.run(ctx.store.report_rows, dimension, start=start, end=end, key=key)
        if dimension == "agent" and who.role != "admin":
            teams = team_of(ctx)
            rows = [r for r in rows if who.sees_agent(r.key, teams(r.key))]
    rolled = roll_up(rows, q["interval"])
    if q["format"] == "csv":
        name = f"report-{dimension}-{q['interval']}.csv"
        return Response(to_csv(rolled), 200, {"Content-Disposition": f'attachment; filename="{name}"'},
                        mimetype="text/csv")
    return {"dimension": dimension, "interval": q["interval"], "from": start, "to": end,
            "items": report_dicts(rolled)}
