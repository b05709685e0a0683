"""Do-not-call lists: ``global``, ``blocked`` (people who complained) and ``campaign:ID`` (one campaign's own).

The compliance rules read the store on every check, so a number added here is refused from the dialer's next
check on, and one removed may be dialled again from then: no restart, no engine event. Every change (add, remove,
import) is audited (who, when, which list, which numbers or how many).

Roles: anyone may check a number and add one (an agent records a callee's "do not call me"); staff list and
import; only an admin takes a number off a list. Numbers are E.164 (``+14155550100``); one written without ``+``
needs ``region``. In a path, write ``+`` as is or as ``%2B``.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from admin_api.api import Ctx, no_content, route
from admin_api.auth import ADMIN, ANYONE, STAFF
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, offset_of, page_from
from admin_api.resources.campaigns import ROW_ERROR
from admin_api.schemas import closed, page_of, register
from engine.errors import StoreError
from engine.store.dnc_sql import dnc_list_name, e164

bp = Blueprint("dnc", __name__)

REGION = {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "ISO country of a number written without +"}
ENTRY = register("DncEntry", closed({
    "list": {"type": "string"}, "number": {"type": "string"}, "reason": {"type": "string"},
    "source": {"type": "string"}, "added": {"type": "number"},
}, ("list", "number", "reason", "source", "added")))
CHECK = register("DncCheck", closed({"number": {"type": "string"}, "lists": {"type": "array",
                                                                               "items": {"type": "string"}}},
                                    ("number", "lists")))


def _list(name: str) -> str:
    try:
        return dnc_list_name(name)
    except StoreError:
        raise not_found(f"dnc list {name!r} (lists: global, blocked, campaign:ID)") from None


def _number(raw: str, region: str | None, where: str) -> str:
    try:
        return e164(raw, region.upper() if region else None)
    except StoreError as exc:
        raise ApiError(422, f"{where}: {exc}") from None


@route(bp, "GET", "/v1/dnc-lists/<list_name>/numbers", summary="The numbers on a do-not-call list, oldest first",
       roles=STAFF, tags=("dnc",), response=page_of(ENTRY), query={"limit": LIMIT, "cursor": CURSOR})
async def list_numbers(ctx: Ctx, list_name: str) -> dict[str, Any]:
    name = _list(list_name)
    q = ctx.query
    offset = offset_of(q)
    return page_from(await ctx.run(ctx.store.dnc_entries, name, q["limit"] + 1, offset), offset, q["limit"])


@route(bp, "POST", "/v1/dnc-lists/<list_name>/numbers", summary="Put a number on a do-not-call list", roles=ANYONE,
       tags=("dnc",),
       body=closed({"number": {"type": "string", "minLength": 1, "maxLength": 64},
                    "reason": {"type": "string", "maxLength": 500}, "region": REGION}, ("number",)),
       response=closed({"list": {"type": "string"}, "number": {"type": "string"}, "added": {
           "type": "boolean", "description": "false: it was already on the list (its first reason is kept)"}},
           ("list", "number", "added")),
       description="Refused by the dialer from its next compliance check on.")
async def add_number(ctx: Ctx, list_name: str) -> dict[str, Any]:
    name = _list(list_name)
    number = _number(ctx.body["number"], ctx.body.get("region"), "body.number")
    added = await ctx.run(lambda: ctx.store.dnc_add(number, list_name=name, reason=ctx.body.get("reason", ""),
                                                    source=f"api:{ctx.who.name}"))
    await ctx.audit("dnc-add", f"dnc:{name}", {"number": number, "reason": ctx.body.get("reason", ""),
                                              "added": added})
    return {"list": name, "number": number, "added": added}


@route(bp, "DELETE", "/v1/dnc-lists/<list_name>/numbers/<number>", summary="Take a number off a do-not-call list",
       roles=ADMIN, tags=("dnc",), status=204, description="404 when the number is not on the list.")
async def remove_number(ctx: Ctx, list_name: str, number: str) -> Any:
    name = _list(list_name)
    removed = await ctx.run(ctx.store.dnc_remove, number, name)
    if not removed:
        raise not_found(f"number {number!r} on list {name}")
    await ctx.audit("dnc-remove", f"dnc:{name}", {"number": number})
    return no_content()


@route(bp, "GET", "/v1/dnc-checks/<number>", summary="The do-not-call lists a number is on", roles=ANYONE,
       tags=("dnc",), response=CHECK, query={"region": REGION},
       description="An empty list: the number may be dialled as far as the lists go (the other rules still "
                   "apply at dial time).")
async def check_number(ctx: Ctx, number: str) -> dict[str, Any]:
    normal = _number(number, ctx.query.get("region"), "number")
    lists = await ctx.run(ctx.store.dnc_lists_for, normal)
    return {"number": normal, "lists": sorted(lists)}


@route(bp, "POST", "/v1/dnc-lists/<list_name>/imports", summary="Add the numbers of a file to a do-not-call list",
       roles=STAFF, tags=("dnc",), body_media="text/csv", status=201,
       query={"region": REGION, "source": {"type": "string", "maxLength": 200}},
       response=register("DncImportResult", closed({
           "list": {"type": "string"}, "added": {"type": "integer", "description": "numbers new to the list"},
           "invalid": {"type": "integer"}, "errors": {"type": "array", "items": ROW_ERROR}},
           ("list", "added", "invalid", "errors"))),
       description="One number per line (blank and # lines skipped), or CSV with a header holding a phone column "
                   "(and optionally reason). An invalid number is reported with its line and never costs another; "
                   "the valid ones are added in one transaction.")
async def import_numbers(ctx: Ctx, list_name: str) -> dict[str, Any]:
    name = _list(list_name)
    region = ctx.query.get("region")
    source = ctx.query.get("source") or f"api:{ctx.who.name}"
    added, errors = await ctx.run(lambda: ctx.store.dnc_import(ctx.body, list_name=name, source=source,
                                                               region=region.upper() if region else None))
    await ctx.audit("dnc-import", f"dnc:{name}", {"source": source, "added": added, "invalid": len(errors)})
    return {"list": name, "added": added, "invalid": len(errors), "errors": [e.to_dict() for e in errors]}
