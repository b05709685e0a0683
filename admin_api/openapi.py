"""``/openapi.json`` (an OpenAPI 3.1 document built from ``admin_api.api.ENDPOINTS`` and the schema registry) and
``/docs`` (a page that renders it, served from the package: no download at run time). Both are public: the
document describes the API, it grants nothing."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app

from admin_api.api import ENDPOINTS, Endpoint, route
from admin_api.schemas import ERROR, SCHEMAS

docs = Blueprint("docs", __name__)

ERROR_RESPONSE = {"description": "refused: JSON with a code and a reason",
                  "content": {"application/json": {"schema": ERROR}}}
PATH_PARAM = {"type": "string", "minLength": 1, "maxLength": 200}
TAG_TEXT = {
    "auth": "Log in and out; who am I.",
    "users": "People who log in, and their roles.",
    "tokens": "API tokens (Authorization: Bearer TOKEN).",
    "agents": "Agents: configuration, live state, queues they serve.",
    "skills": "The skills agents have and queues require.",
    "queues": "Queues (TaskRouter's TaskQueues): requirements, strategy, hours, targets.",
    "workflows": "Routing workflows: steps that relax requirements as a contact waits.",
    "campaigns": "Outbound campaigns, lead imports and leads.",
    "dnc": "Do-not-call and block lists.",
    "contacts": "Contacts in flight and their call detail records (CDRs), customers.",
    "tickets": "Tickets routed to departments.",
    "reports": "Historical reports per interval, queue, agent and campaign.",
    "live": "Live statistics and metrics.",
    "audit": "Who changed what, when.",
    "system": "Health and this document.",
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": endpoint.name, "summary": endpoint.summary, "tags": list(endpoint.tags)}
    if endpoint.description:
        op["description"] = endpoint.description
    if endpoint.public:
        op["security"] = []
    else:
        op["description"] = (op.get("description", "") + f"\n\nRoles: {', '.join(sorted(endpoint.roles))}.").strip()
    params = []
    for name, converter in endpoint.path_params:
        schema = {"type": "integer", "minimum": 0} if converter == "int" else PATH_PARAM
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for name, schema in endpoint.query.items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    if params:
        op["parameters"] = params
    if endpoint.body is not None or endpoint.body_media != "application/json":
        schema = endpoint.body if endpoint.body is not None else {"type": "string"}
        op["requestBody"] = {"required": True, "content": {endpoint.body_media: {"schema": schema}}}
    ok: dict[str, Any] = {"description": "success"}
    if endpoint.response is not None:
        ok["content"] = {media: {"schema": endpoint.response if media == "application/json" else {"type": "string"}}
                         for media in endpoint.response_media}
    if endpoint.etag:
        ok["headers"] = {"ETag": {"schema": {"type": "string"}, "description": "version of the representation"}}
    responses: dict[str, Any] = {str(endpoint.status): ok, "4XX": ERROR_RESPONSE}
    if endpoint.etag:
        responses["304"] = {"description": "not modified (If-None-Match)"}
    op["responses"] = responses
    return op


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered route."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = _operation(endpoint)
    used = sorted({t for e in ENDPOINTS for t in e.tags})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard admin API", "version": "1",
                 "description": "Configure and run the contact center. Authenticate with "
                                "`Authorization: Bearer TOKEN` (a token from `switchboard token create` or "
                                "`POST /v1/auth/login`). Errors are JSON with a `code` and a `reason`. Lists "
                                "are paged (`limit`, `cursor` -> `next_cursor`). Single resources carry an "
                                "`ETag`; send it back in `If-Match` to refuse a stale edit (412)."},
        "servers": [{"url": "/"}],
        "tags": [{"name": t, "description": TAG_TEXT.get(t, "")} for t in used],
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {"schemas": dict(sorted(SCHEMAS.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


@route(docs, "GET", "/openapi.json", summary="This OpenAPI 3.1 document", roles=frozenset(), tags=("system",),
       response={"type": "object"}, public=True)
async def openapi_document(ctx: Any) -> dict[str, Any]:
    return document()


@docs.get("/docs")
async def docs_page() -> Any:
    return await current_app.send_static_file("docs.html")
