"""Logging in and out, users, API tokens and the audit trail.

``POST /v1/auth/login`` (public, rate-limited) trades a user name and password for a session token;
``POST /v1/auth/logout`` revokes the token used; ``GET /v1/me`` says who the caller is. Users and tokens are
managed by admins (a caller may also list and revoke its own tokens and change its own password). Every change is
written to the audit trail (``GET /v1/audit``, admins).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from admin_api.api import Ctx, no_content, route
from admin_api.auth import ADMIN, ANYONE, SESSION_S
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, decode_cursor, encode_cursor, page
from admin_api.schemas import ID, NAME, OPTIONAL_TIME, STRINGS, TIME, closed, page_of, register
from admin_api.security import MAX_PASSWORD, MIN_PASSWORD, hash_password
from engine.store.access_records import ROLES

bp = Blueprint("access", __name__)

ROLE = {"type": "string", "enum": list(ROLES)}
PASSWORD = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}

USER = register("User", closed({
    "name": ID, "role": ROLE, "agent_id": {"type": ["string", "null"]}, "teams": STRINGS,
    "disabled": {"type": "boolean"}, "created": TIME, "updated": TIME, "version": {"type": "integer"},
}, ("name", "role", "agent_id", "teams", "disabled", "created", "updated", "version")))
TOKEN = register("Token", closed({
    "id": {"type": "string"}, "name": NAME, "role": ROLE, "kind": {"type": "string", "enum": ["api", "session"]},
    "user": {"type": ["string", "null"]}, "agent_id": {"type": ["string", "null"]}, "teams": STRINGS,
    "created": TIME, "expires": OPTIONAL_TIME, "revoked": OPTIONAL_TIME,
}, ("id", "name", "role", "kind", "user", "agent_id", "teams", "created", "expires", "revoked")))
NEW_TOKEN = register("NewToken", closed({"token": {"type": "string", "description": "the secret: shown once"},
                                         "info": TOKEN}, ("token", "info")))
PRINCIPAL = register("Principal", closed({
    "name": {"type": "string"}, "role": ROLE, "agent_id": {"type": ["string", "null"]}, "teams": STRINGS,
    "token_id": {"type": "string"}, "user": {"type": ["string", "null"]}, "kind": {"type": "string"},
}, ("name", "role", "agent_id", "teams", "token_id", "user", "kind")))
AUDIT = register("AuditEntry", closed({
    "id": {"type": "integer"}, "at": TIME, "who": {"type": "string"}, "action": {"type": "string"},
    "target": {"type": "string"}, "details": {"type": "object"},
}, ("id", "at", "who", "action", "target", "details")))


# -------------------------------------------------------------------------------------------------- auth ----

@route(bp, "POST", "/v1/auth/login", summary="Log in: a session token for a user name and password",
       roles=frozenset(), tags=("auth",), public=True, status=201,
       body=closed({"username": {"type": "string", "minLength": 1, "maxLength": 200},
                    "password": {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD}},
                   ("username", "password")),
       response=register("Session", closed({"token": {"type": "string"}, "expires": TIME, "user": USER},
                                           ("token", "expires", "user"))),
       description=f"Failed logins are limited per user name and per client (429 with Retry-After). The "
                   f"session lasts {int(SESSION_S // 3600)} h.")
async def login(ctx: Ctx) -> dict[str, Any]:
    secret, token, user = await ctx.auth.login(ctx.body["username"], ctx.body["password"], ctx.client)
    return {"token": secret, "expires": token.expires, "user": user.public()}


@route(bp, "POST", "/v1/auth/logout", summary="Log out: revoke the token this request carries", roles=ANYONE,
       tags=("auth",), status=204)
async def logout(ctx: Ctx) -> Any:
    await ctx.run(ctx.store.revoke_token, ctx.who.token_id)
    ctx.auth.forget(ctx.who.token_id)
    return no_content()


@route(bp, "GET", "/v1/me", summary="Who the caller is", roles=ANYONE, tags=("auth",), response=PRINCIPAL)
async def me(ctx: Ctx) -> dict[str, Any]:
    return ctx.who.describe()


@route(bp, "PUT", "/v1/me/password", summary="Change one's own password", roles=ANYONE, tags=("auth",),
       status=204, body=closed({"current": {"type": "string", "maxLength": MAX_PASSWORD}, "new": PASSWORD},
                               ("current", "new")),
       description="Ends the user's other sessions.")
async def change_own_password(ctx: Ctx) -> Any:
    if ctx.who.user is None:
        raise ApiError(409, "this token belongs to no user: it has no password")
    await ctx.auth.verify(ctx.who.user, ctx.body["current"], ctx.client)
    stored = await ctx.run(hash_password, ctx.body["new"])
    await ctx.run(ctx.store.update_user, ctx.who.user, password_hash=stored)
    ctx.auth.forget()
    await ctx.audit("password", f"user:{ctx.who.user}")
    return no_content()


# ------------------------------------------------------------------------------------------------- users ----

USER_FIELDS = {"role": ROLE, "password": PASSWORD, "agent_id": {"type": ["string", "null"], "maxLength": 64},
               "teams": STRINGS, "disabled": {"type": "boolean"}}


@route(bp, "GET", "/v1/users", summary="List users", roles=ADMIN, tags=("users",), response=page_of(USER),
       query={"role": ROLE, "limit": LIMIT, "cursor": CURSOR})
async def list_users(ctx: Ctx) -> dict[str, Any]:
    users = await ctx.run(ctx.store.users, role=ctx.query.get("role"))
    return page([u.public() for u in users], ctx.query)


@route(bp, "POST", "/v1/users", summary="Create a user", roles=ADMIN, tags=("users",), status=201,
       response=USER, body=closed({"name": ID, **USER_FIELDS}, ("name", "role", "password")))
async def create_user(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    _check_agent(ctx, body.get("agent_id"))
    stored = await ctx.run(hash_password, body["password"])
    user = await ctx.run(ctx.store.create_user, body["name"], body["role"], password_hash=stored,
                         agent_id=body.get("agent_id"), teams=body.get("teams", ()))
    await ctx.audit("create", f"user:{user.name}", {"after": user.public()})
    return user.public()


@route(bp, "GET", "/v1/users/<name>", summary="One user", roles=ADMIN, tags=("users",), response=USER, etag=True)
async def get_user(ctx: Ctx, name: str) -> dict[str, Any]:
    return (await ctx.run(ctx.store.user, name)).public()


@route(bp, "PATCH", "/v1/users/<name>", summary="Change a user's role, password, agent, teams or status",
       roles=ADMIN, tags=("users",), response=USER, body=closed(USER_FIELDS, minProperties=1),
       description="Send If-Match with the ETag of the user you read to refuse a stale edit. A new password ends "
                   "the user's sessions; disabling ends all its tokens.")
async def update_user(ctx: Ctx, name: str) -> dict[str, Any]:
    before = await ctx.run(ctx.store.user, name)
    ctx.check_if_match(before.public())
    body = ctx.body
    if "agent_id" in body:
        _check_agent(ctx, body["agent_id"])
    stored = await ctx.run(hash_password, body["password"]) if "password" in body else None
    after = await ctx.run(ctx.store.update_user, name, role=body.get("role"), password_hash=stored,
                          agent_id=body.get("agent_id"), teams=body.get("teams"), disabled=body.get("disabled"),
                          clear_agent="agent_id" in body and body["agent_id"] is None)
    ctx.auth.forget()
    await ctx.audit("update", f"user:{name}", {"before": before.public(), "after": after.public(),
                                               "password_changed": stored is not None})
    return after.public()


@route(bp, "DELETE", "/v1/users/<name>", summary="Delete a user and its tokens", roles=ADMIN, tags=("users",),
       status=204)
async def delete_user(ctx: Ctx, name: str) -> Any:
    if name == ctx.who.user:
        raise ApiError(409, "you cannot delete yourself")
    before = await ctx.run(ctx.store.user, name)
    await ctx.run(ctx.store.delete_user, name)
    ctx.auth.forget()
    await ctx.audit("delete", f"user:{name}", {"before": before.public()})
    return no_content()


def _check_agent(ctx: Ctx, agent_id: str | None) -> None:
    if agent_id is not None and agent_id not in ctx.engine.runtime.acd.agents:
        raise ApiError(422, f"body.agent_id: no agent {agent_id!r} is configured")


# ------------------------------------------------------------------------------------------------ tokens ----

@route(bp, "GET", "/v1/tokens", summary="List API tokens (an admin: every one; others: their own)", roles=ANYONE,
       tags=("tokens",), response=page_of(TOKEN),
       query={"revoked": {"type": "boolean", "description": "include revoked tokens"}, "limit": LIMIT,
              "cursor": CURSOR})
async def list_tokens(ctx: Ctx) -> dict[str, Any]:
    tokens = await ctx.run(ctx.store.tokens, include_revoked=bool(ctx.query.get("revoked")))
    if ctx.who.role != "admin":
        tokens = [t for t in tokens if _owns(ctx, t)]
    return page([t.public() for t in tokens], ctx.query)


@route(bp, "POST", "/v1/tokens", summary="Make an API token (its secret is shown once)", roles=ADMIN,
       tags=("tokens",), status=201, response=NEW_TOKEN,
       body=closed({"name": {"type": "string", "minLength": 1, "maxLength": 200}, "role": ROLE,
                    "agent_id": {"type": "string", "maxLength": 64}, "teams": STRINGS,
                    "ttl_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 10 * 365 * 86400}},
                   ("name", "role")))
async def create_token(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    if body["role"] == "agent" and not body.get("agent_id"):
        raise ApiError(422, "body.agent_id: an agent token needs the agent it acts as")
    _check_agent(ctx, body.get("agent_id"))
    secret, token = await ctx.run(lambda: ctx.auth.issue(body["name"], body["role"], agent_id=body.get("agent_id"),
                                                         teams=body.get("teams", ()), ttl_s=body.get("ttl_s")))
    await ctx.audit("create", f"token:{token.id}", {"after": token.public()})
    return {"token": secret, "info": token.public()}


@route(bp, "DELETE", "/v1/tokens/<token_id>", summary="Revoke a token", roles=ANYONE, tags=("tokens",),
       status=204, description="An admin may revoke any token; others only their own.")
async def revoke_token(ctx: Ctx, token_id: str) -> Any:
    token = await ctx.run(ctx.store.token, token_id)
    if ctx.who.role != "admin" and not _owns(ctx, token):
        raise not_found(f"token {token_id!r}")
    await ctx.run(ctx.store.revoke_token, token_id)
    ctx.auth.forget(token_id)
    await ctx.audit("revoke", f"token:{token_id}")
    return no_content()


def _owns(ctx: Ctx, token: Any) -> bool:
    who = ctx.who
    return token.id == who.token_id or (who.user is not None and token.user == who.user)


# ------------------------------------------------------------------------------------------------- audit ----

@route(bp, "GET", "/v1/audit", summary="The audit trail, newest first", roles=ADMIN, tags=("audit",),
       response=page_of(AUDIT),
       query={"who": {"type": "string", "maxLength": 200}, "target": {"type": "string", "maxLength": 200},
              "since": TIME, "until": TIME, "limit": LIMIT, "cursor": CURSOR})
async def list_audit(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    before = decode_cursor(q["cursor"]) if q.get("cursor") else None
    if before is not None and (not isinstance(before, int) or isinstance(before, bool)):
        raise ApiError(400, "cursor: not a cursor this API gave out")
    entries = await ctx.run(ctx.store.audit, who=q.get("who"), target=q.get("target"), since=q.get("since"),
                            until=q.get("until"), before_id=before, limit=q["limit"])
    following = encode_cursor(entries[-1].id) if len(entries) == q["limit"] else None
    return {"items": [e.to_dict() for e in entries], "next_cursor": following}
