"""The admin API: a quart-trio app served by hypercorn inside the engine's nursery (``create_app``)."""

from __future__ import annotations

from admin_api.app import create_app, serve
from admin_api.context import EngineHandle

__all__ = ["EngineHandle", "create_app", "serve"]
