"""Errors of the admin API: every refusal is JSON ``{"status", "code", "reason"}`` with the matching HTTP status.

``ApiError(status, code, reason)`` is raised by handlers and by the request plumbing (``admin_api.api``);
``install(app)`` turns it, Quart's own HTTP errors (404, 405, 413...) and any unexpected exception (500, logged
with its traceback, never shown) into that body. ``code`` is a stable, machine-readable kebab-case word;
``reason`` a sentence for a person, naming the field or parameter at fault.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart
from werkzeug.exceptions import HTTPException

log = logging.getLogger("switchboard.api")

CODES: dict[int, str] = {
    400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 412: "precondition-failed", 413: "too-large",
    415: "unsupported-media-type", 422: "invalid", 428: "precondition-required", 429: "too-many-requests",
    500: "internal-error", 503: "unavailable",
}


class ApiError(Exception):
    """A refusal: HTTP ``status``, a ``code`` (kebab-case) and a ``reason`` naming what is wrong. ``headers``
    go out with the response (``WWW-Authenticate``, ``Retry-After``)."""

    def __init__(self, status: int, reason: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.reason = reason
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "reason": self.reason}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what}: not found")


def install(app: Quart) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.errorhandler(ApiError)
    async def _api_error(exc: ApiError) -> Any:
        return exc.body(), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        reason = {404: "no such resource or route", 405: "method not allowed on this route",
                  413: "request body too large"}.get(status, exc.description or exc.name)
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return {"status": status, "code": CODES.get(status, "error"), "reason": reason}, status, headers

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Any:
        log.exception("unexpected error in a request")
        return {"status": 500, "code": "internal-error", "reason": "internal error (logged)"}, 500
