"""The admin API's app factory and its server.

``create_app(engine, config)`` builds the quart-trio app: one blueprint per resource (``health``, ``docs``, the
REST resources of ``admin_api.resources``, ``chat``, ``desk``: the agent desktop and the web caller, and what
channel adapters serve through the ``channel_blueprints`` hook: the WebRTC gateway's sockets), the static pages
under ``/static/``, JSON errors (``admin_api.errors``), the engine handle attached in ``while_serving``
(``app.extensions["switchboard"]``; handlers reach it through ``engine_handle()``) and the ``Authenticator`` on
the engine's store (``app.extensions["switchboard_auth"]``). The REST routes are declared with
``admin_api.api.route`` and documented at ``/openapi.json`` and ``/docs``.

``serve(app, host, port, task_status=...)`` runs it with ``hypercorn.trio.serve`` in the caller's nursery (the
engine's), so API and engine start and stop together; ``await nursery.start(serve, app, "127.0.0.1", 0)`` returns
the bound URLs (``["http://127.0.0.1:54321"]``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

import trio
from quart import Blueprint, current_app
from quart_trio import QuartTrio

from admin_api.context import EngineHandle

STATIC = Path(__file__).parent / "static"

health = Blueprint("health", __name__)


def engine_handle() -> EngineHandle:
    """The running app's ``EngineHandle`` (inside a request or WebSocket handler)."""
    return current_app.extensions["switchboard"]  # type: ignore[no-any-return]


@health.get("/healthz")
async def healthz() -> tuple[dict[str, Any], int]:
    runtime = engine_handle().runtime
    return {"status": "ok", "seq": runtime.seq, "accepted": runtime.accepted, "refused": runtime.refused,
            "sink_backlog": runtime.sink_backlog()}, 200


def create_app(engine: EngineHandle, config: Mapping[str, Any] | None = None) -> QuartTrio:
    """The admin API for ``engine``. ``config``: the API's settings (kept in ``app.config["SWITCHBOARD"]``)."""
    from admin_api import errors
    from admin_api.api import TEXT_LIMIT
    from admin_api.auth import Authenticator
    from admin_api.chat import chat  # the blueprint imports engine_handle from here
    from admin_api.desk import desk
    from admin_api.openapi import docs
    from admin_api.resources import blueprints

    app = QuartTrio(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["SWITCHBOARD"] = dict(config or {})
    app.config["MAX_CONTENT_LENGTH"] = TEXT_LIMIT
    errors.install(app)
    app.register_blueprint(health)
    app.register_blueprint(docs)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    app.register_blueprint(chat)
    app.register_blueprint(desk)
    for served in engine.plugins.call("channel_blueprints", deadline_s=10.0):  # adapters' own sockets
        for blueprint in served if isinstance(served, list) else ():
            app.register_blueprint(blueprint)
    app.extensions["switchboard_auth"] = Authenticator(engine.store, clock=engine.wall_clock)

    @app.while_serving
    async def attach_engine() -> AsyncGenerator[None, None]:
        app.extensions["switchboard"] = engine
        yield
        app.extensions.pop("switchboard", None)

    return app


async def serve(app: QuartTrio, host: str = "127.0.0.1", port: int = 0, *,
                task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` with hypercorn until cancelled; ``task_status.started`` gets the bound URLs."""
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("switchboard.http")
    await hypercorn_serve(app, config, task_status=task_status)  # type: ignore[arg-type]
