"""Declaring a REST route once: its path, roles, parameters, body and answer, enforced and documented alike.

``@route(bp, "PATCH", "/v1/queues/<queue_id>", summary=..., roles=ADMIN, body=schema, response=schema)``
registers the handler on the blueprint and an ``Endpoint`` in ``ENDPOINTS`` (what ``admin_api.openapi`` turns into
``/openapi.json``). Before the handler runs, the wrapper:

1. authenticates the bearer token (401) unless the route is ``public``, and checks the caller's role (403);
2. parses the query string against ``query`` (name -> JSON Schema): values are coerced to the declared type,
   unknown or repeated parameters are refused (400);
3. reads the body when the route takes one: JSON (``Content-Type: application/json``, at most ``JSON_LIMIT``
   bytes, strict JSON, then validated against ``body``: unknown fields and wrong types are a 422 naming the
   field) or text (``body_media`` such as ``text/csv``, UTF-8, at most ``TEXT_LIMIT``); a body sent to a route
   that takes none is a 400;
4. calls ``handler(ctx, **path_params)`` with a ``Ctx`` (principal, query, body, engine handle, store helpers).

A handler returns a dict or list (JSON, with the route's ``status``) or a Quart response. Routes declared with
``etag=True`` answer with an ``ETag`` (a hash of the representation) and honour ``If-None-Match`` (304); writes
call ``ctx.check_if_match(current)`` to refuse a stale edit (412). Every refusal is an ``ApiError`` rendered as
JSON (``admin_api.errors``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import trio
from quart import Blueprint, Response, current_app, request

from admin_api.auth import Authenticator, Principal
from admin_api.errors import ApiError
from admin_api.schemas import validator
from engine.errors import AcdError, StoreError

JSON_LIMIT = 1024 * 1024
TEXT_LIMIT = 32 * 1024 * 1024
"""Body limits: JSON requests, and text uploads (lead and DNC imports). The server's own cap is ``TEXT_LIMIT``."""

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoint:
    """One documented route (see the module docstring)."""

    method: str
    path: str
    name: str
    summary: str
    roles: frozenset[str]
    tags: tuple[str, ...]
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    body_media: str = "application/json"
    response: dict[str, Any] | None = None
    response_media: tuple[str, ...] = ("application/json",)
    status: int = 200
    etag: bool = False
    public: bool = False
    description: str = ""

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        """``(name, converter)`` of each path parameter, in order (converter ``string`` or ``int``)."""
        return [(m.group(2), m.group(1) or "string") for m in re.finditer(r"<(?:([a-z]+):)?([a-z_]+)>", self.path)]


ENDPOINTS: list[Endpoint] = []


def etag_of(representation: Any) -> str:
    """A strong ETag of a JSON representation."""
    text = json.dumps(representation, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


class Ctx:
    """What a handler gets: the caller, the parsed query and body, and the engine and store."""

    def __init__(self, principal: Principal | None, query: dict[str, Any], body: Any) -> None:
        self.principal = principal
        self.query = query
        self.body = body
        self.engine = current_app.extensions["switchboard"]
        self.auth: Authenticator = current_app.extensions["switchboard_auth"]

    @property
    def who(self) -> Principal:
        """The caller (routes that are not public always have one)."""
        assert self.principal is not None
        return self.principal

    @property
    def store(self) -> Any:
        """The blocking store (call it through ``ctx.run``)."""
        return self.engine.store

    @property
    def client(self) -> str:
        return request.remote_addr or ""

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread (store calls); a ``StoreError`` becomes a 4xx naming the
        problem: 404 for "no such" things, 409 for what exists already, 422 otherwise."""
        try:
            return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        except StoreError as exc:
            raise store_refusal(exc) from None

    async def submit(self, event: Any, *, refused: int = 409) -> list[Any]:
        """Submit an engine event (journaled before it is acted on). The engine's refusal is an ``ApiError`` with
        its reason: ``refused`` 409 (the state does not allow it now) or 422 (a configuration that does not
        validate)."""
        try:
            return await self.engine.runtime.submit(event)
        except AcdError as exc:
            raise ApiError(refused, str(exc), "refused" if refused == 409 else "invalid") from None

    async def audit(self, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        """Record a configuration change (who, when, what) in the store's audit trail."""
        who = self.who
        label = who.user or f"token:{who.name}"
        await self.run(self.store.add_audit, label, action, target, details or {})

    async def change(self, event: Any, action: str, target: str, *, before: Any = None, after: Any = None,
                     refused: int = 422, **details: Any) -> None:
        """One configuration change through the engine: a stale edit is refused (``If-Match`` against ``before``,
        the representation the caller should have read), ``event`` is submitted (journaled before it applies;
        a refusal is an ``ApiError`` with the engine's reason), then audited as ``action`` on ``target`` with
        ``before``, ``after`` and ``details``."""
        if before is not None:
            self.check_if_match(before)
        await self.submit(event, refused=refused)
        record = {k: v for k, v in (("before", before), ("after", after)) if v is not None}
        await self.audit(action, target, record | details)

    def check_if_match(self, current: Any) -> None:
        """Refuse (412) a write whose ``If-Match`` names another version than ``current``'s representation."""
        wanted = request.headers.get("If-Match")
        if wanted is None:
            return
        tags = {t.strip() for t in wanted.split(",")}
        if "*" not in tags and etag_of(current) not in tags:
            raise ApiError(412, "If-Match: the resource changed since you read it (GET it again)")


def no_content() -> Response:
    """The empty answer of a write that returns nothing (204)."""
    return Response("", 204)


def store_refusal(exc: StoreError) -> ApiError:
    text = str(exc)
    if "no such" in text or "not found" in text:
        return ApiError(404, text)
    if "already" in text:
        return ApiError(409, text)
    return ApiError(422, text)


# ------------------------------------------------------------------------------------------------ parsing ----

def _coerce(name: str, raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type", "string")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        if kind == "boolean":
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError
            return lowered in ("true", "1")
    except ValueError:
        raise ApiError(400, f"query parameter {name}: {raw!r} is not a valid {kind}") from None
    return raw


def parse_query(declared: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in request.args:
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise ApiError(400, f"query parameter {name}: unknown (allowed: {allowed})")
        values = request.args.getlist(name)
        if len(values) > 1:
            raise ApiError(400, f"query parameter {name}: given {len(values)} times")
        value = _coerce(name, values[0], declared[name])
        error = next(iter(validator(declared[name]).iter_errors(value)), None)
        if error is not None:
            raise ApiError(400, f"query parameter {name}: {error.message}")
        out[name] = value
    for name, schema in declared.items():
        if name not in out and "default" in schema:
            out[name] = schema["default"]
    return out


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


async def read_body(endpoint: Endpoint) -> Any:
    length = request.content_length
    data = cast(bytes, await request.get_data(cache=True, as_text=False))
    if endpoint.body is None and endpoint.body_media == "application/json":
        if data:
            raise ApiError(400, f"{endpoint.method} {endpoint.openapi_path} takes no request body")
        return None
    media = (request.mimetype or "").lower()
    if media != endpoint.body_media:
        raise ApiError(415, f"Content-Type: expected {endpoint.body_media}, got {media or 'none'}")
    limit = JSON_LIMIT if endpoint.body_media == "application/json" else TEXT_LIMIT
    if (length is not None and length > limit) or len(data) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"body: not UTF-8 (byte {exc.start})") from None
    if endpoint.body_media != "application/json":
        return text
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ApiError(400, f"body: malformed JSON: {exc}") from None
    error = _first_error(endpoint.body, body)
    if error is not None:
        raise ApiError(422, error)
    return body


def _first_error(schema: dict[str, Any] | None, value: Any) -> str | None:
    if schema is None:
        return None
    errors = sorted(validator(schema).iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    if not errors:
        return None
    error = errors[0]
    where = "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown field(s) {', '.join(map(repr, extra))}"
    return f"{where}: {error.message}"


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


# --------------------------------------------------------------------------------------------- declaring ----

def route(bp: Blueprint, method: str, path: str, *, summary: str, roles: frozenset[str], tags: tuple[str, ...],
          query: dict[str, dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
          body_media: str = "application/json", response: dict[str, Any] | None = None,
          response_media: tuple[str, ...] = ("application/json",), status: int = 200, etag: bool = False,
          public: bool = False, description: str = ""
          ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Register a handler (see the module docstring)."""

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        endpoint = Endpoint(method, path, handler.__name__, summary, roles, tags, dict(query or {}), body,
                            body_media, response, response_media, status, etag, public, description)

        async def view(**params: Any) -> Any:
            principal = None
            if not endpoint.public:
                auth: Authenticator = current_app.extensions["switchboard_auth"]
                principal = await auth.authenticate(bearer_secret())
                if principal.role not in endpoint.roles:
                    allowed = " or ".join(sorted(endpoint.roles))
                    raise ApiError(403, f"this route needs the role {allowed} (you are {principal.role})")
            parsed_query = parse_query(endpoint.query)
            parsed_body = await read_body(endpoint)
            result = await handler(Ctx(principal, parsed_query, parsed_body), **params)
            if isinstance(result, Response):
                return result
            headers: dict[str, str] = {}
            if endpoint.etag:
                tag = etag_of(result)
                headers["ETag"] = tag
                if tag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
                    return Response("", 304, headers)
            return Response(json.dumps(result, separators=(",", ":")), endpoint.status, headers,
                            mimetype="application/json")

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        bp.add_url_rule(path, endpoint=handler.__name__, view_func=view, methods=[method])
        ENDPOINTS.append(endpoint)
        return handler

    return decorate


# ----------------------------------------------------------------------------------------------- sockets ----

SOCKETS: dict[str, frozenset[str]] = {}
"""WebSocket routes that carry staff data -> the roles they admit (each authenticates with ``ws_authenticate``)."""
AUTH_TIMEOUT_S = 10.0


def socket_route(path: str, roles: frozenset[str]) -> str:
    """Declare a staff WebSocket route (for the tests that prove every route is guarded); returns ``path``."""
    SOCKETS[path] = roles
    return path


async def ws_authenticate(roles: frozenset[str]) -> Principal | None:
    """Authenticate the current WebSocket: an ``Authorization: Bearer`` header, or else a first frame
    ``{"type": "auth", "token": ...}`` within ``AUTH_TIMEOUT_S`` (browsers cannot set headers on a WebSocket).
    Answers ``{"type": "authenticated", "principal": ...}``; on failure sends ``{"type": "error", "code",
    "reason"}``, closes the socket (4401 unauthenticated, 4403 forbidden) and returns ``None``."""
    from quart import websocket

    secret = None
    header = websocket.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        secret = value.strip()
    try:
        if secret is None:
            with trio.fail_after(AUTH_TIMEOUT_S):
                frame = json.loads(await websocket.receive())
            if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
                raise ApiError(401, 'the first frame must be {"type": "auth", "token": TOKEN}')
            secret = frame["token"]
        auth: Authenticator = current_app.extensions["switchboard_auth"]
        principal = await auth.authenticate(secret)
        if principal.role not in roles:
            raise ApiError(403, f"this socket needs the role {' or '.join(sorted(roles))} (you are {principal.role})")
    except (ApiError, ValueError, trio.TooSlowError) as exc:
        error = exc if isinstance(exc, ApiError) else ApiError(401, "no auth frame in time or not JSON")
        await websocket.send(json.dumps({"type": "error", **error.body()}))
        await websocket.close(4403 if error.status == 403 else 4401, error.reason[:120])
        return None
    await websocket.send(json.dumps({"type": "authenticated", "principal": principal.describe()}))
    return principal
