"""Live operations: ``GET /v1/stats``, ``GET /metrics``, the WebSocket ``/v1/stream`` and the ``/wallboard`` page.

The figures are ``engine.live.LiveFigures`` (kept by the engine handle, ``engine.live``), cut to what the caller
may see (``admin_api.stream.cut``): an admin everything, a supervisor every queue and campaign and the agents of
its teams, an agent the queues and itself. ``/metrics`` is the same figures for Prometheus (staff tokens). The
stream is fed by one ``LiveHub`` per app, started with the first subscriber in the app's nursery (see
``admin_api.stream`` for the push design and the frames).

Stream protocol, ``/v1/stream``::

    -> {"type": "auth", "token": ...}     (or an Authorization: Bearer header)
    <- {"type": "authenticated", "principal": {...}}
    <- {"type": "snapshot", ...}  at once, then whenever the figures changed (at most every 250 ms; every 2 s
       when nothing did)
    <- {"type": "agents", "changes": [...]}  agents' state changes since the last frame, coalesced

Frames the client sends after the first are read and ignored.
"""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, Response, current_app, websocket

from admin_api.api import Ctx, route, socket_route, ws_authenticate
from admin_api.app import engine_handle
from admin_api.auth import ANYONE, STAFF
from admin_api.metrics import CONTENT_TYPE, exposition
from admin_api.schemas import OPTIONAL_TIME, STRINGS, TIME, closed, register
from admin_api.stream import LiveHub, cut

bp = Blueprint("live", __name__)

HUB_KEY = "switchboard_live_hub"
NUMBER_OR_NULL = {"type": ["number", "null"]}
COUNT = {"type": "integer", "minimum": 0}
COUNTS = {"offered": COUNT, "answered": COUNT, "abandoned": COUNT, "unserved": COUNT,
          "service_level": NUMBER_OR_NULL, "asa_s": NUMBER_OR_NULL, "abandon_rate": NUMBER_OR_NULL}
LIVE_QUEUE = register("LiveQueue", closed({
    "name": {"type": "string"}, "channel": {"type": "string"}, "waiting": COUNT, "longest_wait_s": {"type": "number"},
    "oldest_arrival": NUMBER_OR_NULL, **COUNTS, "service_level_s": {"type": "number"},
    "service_level_target": {"type": "number"}, "below_target": {"type": "boolean"}, "staffed": COUNT,
    "available": COUNT,
}, ("name", "channel", "waiting", "longest_wait_s", "oldest_arrival", *COUNTS, "service_level_s",
    "service_level_target", "below_target", "staffed", "available")))
LIVE_AGENT = register("LiveAgent", closed({
    "name": {"type": "string"}, "teams": STRINGS, "state": {"type": "string"}, "reason": {"type": "string"},
    "since": OPTIONAL_TIME, "time_in_state_s": NUMBER_OR_NULL,
}, ("name", "teams", "state", "reason", "since", "time_in_state_s")))
CAMPAIGN_COUNTS = ("dials", "humans", "machines", "busy", "no_answer", "failed", "abandoned", "connects",
                   "completed")
LIVE_CAMPAIGN = register("LiveCampaign", closed({
    "name": {"type": "string"}, "queue": {"type": "string"}, "active": {"type": "boolean"},
    "mode": {"type": "string"}, "mode_now": {"type": "string"}, **dict.fromkeys(CAMPAIGN_COUNTS, COUNT),
    "connect_rate": NUMBER_OR_NULL, "abandon_rate": NUMBER_OR_NULL, "abandon_target": {"type": "number"},
    "calls_in_progress": COUNT,
}, ("name", "queue", "active", "mode", "mode_now", *CAMPAIGN_COUNTS, "connect_rate", "abandon_rate",
    "abandon_target", "calls_in_progress")))
LIVE_STATS = register("LiveStats", closed({
    "seq": COUNT, "at": TIME,
    "period": closed({"kind": {"type": "string", "enum": ["day"]}, "timezone": {"type": "string"},
                      "start": TIME}, ("kind", "timezone", "start")),
    "totals": closed({"waiting": COUNT, "longest_wait_s": {"type": "number"}, **COUNTS,
                      "agents": {"type": "object", "additionalProperties": COUNT,
                                 "description": "state -> agents in it"}},
                     ("waiting", "longest_wait_s", *COUNTS, "agents")),
    "queues": {"type": "object", "additionalProperties": LIVE_QUEUE},
    "agents": {"type": "object", "additionalProperties": LIVE_AGENT},
    "campaigns": {"type": "object", "additionalProperties": LIVE_CAMPAIGN},
}, ("seq", "at", "period", "totals", "queues", "agents", "campaigns")))


def _snapshot(engine: Any) -> dict[str, Any]:
    return {"seq": engine.runtime.seq, **engine.live.snapshot(engine.now())}


@route(bp, "GET", "/v1/stats", summary="Live figures: queues, agents, campaigns (today)", roles=ANYONE,
       tags=("live",), response=LIVE_STATS,
       description="Today's figures since midnight (see docs/operations.md for the definitions). An agent sees "
                   "the queues and itself, a supervisor every queue and campaign and the agents of its teams.")
async def get_stats(ctx: Ctx) -> dict[str, Any]:
    return cut(_snapshot(ctx.engine), ctx.who)


@route(bp, "GET", "/metrics", summary="Prometheus metrics (text exposition 0.0.4)", roles=STAFF, tags=("live",),
       response={"type": "string"}, response_media=("text/plain",),
       description="The live figures and the engine's counters; a supervisor's token gets the agents of its "
                   "teams only. Names in docs/operations.md.")
async def metrics(ctx: Ctx) -> Response:
    engine = ctx.engine
    runtime = engine.runtime
    hub: LiveHub | None = current_app.extensions.get(HUB_KEY)
    counters = {"engine_time_seconds": engine.now(), "events_seq": runtime.seq,
                "events_accepted_total": runtime.accepted, "events_refused_total": runtime.refused,
                "sink_errors_total": runtime.sink_errors, "sink_dropped_actions_total": runtime.dropped_actions,
                "live_subscribers": len(hub.subscribers) if hub else 0,
                "live_frames_built_total": hub.frames_built if hub else 0,
                "live_frames_replaced_total": hub.replaced if hub else 0,
                "live_build_seconds": hub.last_build_s if hub else 0.0, "live_errors_total": hub.errors if hub else 0}
    faults = dict(getattr(engine.plugins, "faults", {}))
    text = exposition(cut(_snapshot(engine), ctx.who), counters, faults)
    return Response(text, 200, {"Content-Type": CONTENT_TYPE})


def hub() -> LiveHub:
    """The app's publisher, made and started in the app's nursery on first use."""
    found: LiveHub | None = current_app.extensions.get(HUB_KEY)
    if found is None:
        engine = engine_handle()
        settings = current_app.config.get("SWITCHBOARD", {})
        found = LiveHub(engine.live, engine.now, lambda: engine.runtime.seq,
                        interval_s=float(settings.get("live_interval_s", 0.25)),
                        heartbeat_s=float(settings.get("live_heartbeat_s", 2.0)))
        current_app.extensions[HUB_KEY] = found
        current_app.nursery.start_soon(found.run)  # type: ignore[attr-defined]
    return found


async def _ignore_incoming() -> None:
    while True:
        await websocket.receive()


@bp.websocket(socket_route("/v1/stream", ANYONE))
async def stream() -> None:
    await websocket.accept()
    principal = await ws_authenticate(ANYONE)
    if principal is None:
        return
    with hub().subscribe(principal) as mailbox:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_ignore_incoming)  # a client's frames must not pile up unread
            while True:
                for frame in await mailbox.take():
                    await websocket.send(frame)


@bp.get("/wallboard")
async def wallboard_page() -> Any:
    """The supervisor wallboard (static; the data needs a login)."""
    return await current_app.send_static_file("wallboard.html")
