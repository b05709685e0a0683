"""Contacts in flight, their call detail records (CDRs), the screen pop of their customer, and customers.

A contact is live while the engine holds it (``GET /v1/contacts``); once its life is over (wrap-up done) it is a
CDR in the store (``GET /v1/cdrs``). ``GET /v1/contacts/{id}`` answers the live state, else the CDR.

Who sees a contact (``Principal.sees_contact_agents``, with the agents it was offered to or served by: the live
contact's history, or ``Cdr.agents``): an admin every one; a supervisor those that reached an agent of its teams,
or no agent at all; an agent only those offered to it. The customer behind a contact (the screen pop: customer,
history, open tickets, from the CRM and ticket plugins) follows the same rule. A contact one may not see is a 404,
as if it did not exist. Customers by id (``GET /v1/customers/{id}``) are for staff.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, Response

from admin_api.api import Ctx, route
from admin_api.auth import ANYONE, STAFF
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, page
from admin_api.schemas import TIME, closed, page_of, register
from engine.store.access_records import Cdr
from plugins.builtin.crm.screen_pop import screen_pop

bp = Blueprint("contacts", __name__)

STEP = {"type": "object", "properties": {"at": TIME, "state": {"type": "string"}, "queue": {"type": "string"},
                                         "agent_id": {"type": "string"}}}
OPTIONAL_TIME = {"type": ["number", "null"]}
TEXT = {"type": "string"}
LIVE_FIELDS: dict[str, Any] = {
    "contact_id": TEXT, "live": {"const": True}, "channel": TEXT, "customer": TEXT, "queue": TEXT,
    "state": TEXT, "agent_id": TEXT, "arrived": TIME, "answered": OPTIONAL_TIME, "priority": {"type": "integer"},
    "data": {"type": "object"}, "history": {"type": "array", "items": STEP},
    "agents": {"type": "array", "items": TEXT, "description": "offered to or served by"},
}
LIVE = register("LiveContact", closed(LIVE_FIELDS, tuple(LIVE_FIELDS)))
CDR_FIELDS: dict[str, Any] = {
    "contact_id": TEXT, "channel": TEXT, "customer": TEXT, "queue": TEXT, "agent_id": TEXT, "arrived": TIME,
    "answered": OPTIONAL_TIME, "ended": TIME, "outcome": TEXT, "disposition": TEXT, "notes": TEXT,
    "history": {"type": "array", "items": STEP}, "data": {"type": "object"},
    "recorded": {**TIME, "description": "when its life ended (wrap-up done)"},
    "agents": {"type": "array", "items": TEXT, "description": "offered to or served by"},
}
CDR = register("Cdr", closed(CDR_FIELDS, tuple(CDR_FIELDS)))
ENDED = register("EndedContact", closed({**CDR_FIELDS, "live": {"const": False}}, (*CDR_FIELDS, "live")))
SCREEN_POP = register("ScreenPop", closed({
    "contact_id": TEXT, "query": TEXT, "customer": {"type": ["object", "null"]},
    "history": {"type": "array", "items": {"type": "object"}}, "tickets": {"type": "array",
                                                                          "items": {"type": "object"}},
}, ("contact_id", "query", "customer", "history", "tickets")))
CUSTOMER = register("CustomerRecord", closed({
    "id": {"type": "integer"}, "name": TEXT, "attributes": {"type": "object"},
    "identities": {"type": "array", "items": {"type": "object"}}, "created": TIME,
    "history": {"type": "array", "items": {"type": "object"}, "description": "interactions, newest first"},
    "open_tickets": {"type": "array", "items": {"type": "object"}},
}, ("id", "name", "attributes", "identities", "created", "history", "open_tickets")))

CSV_COLUMNS = ("contact_id", "channel", "customer", "queue", "agent_id", "agents", "arrived", "answered", "ended",
               "recorded", "outcome", "disposition", "notes")
EXPORT_LIMIT = 50_000
"""Rows in one CSV export; past it the answer carries ``X-Next-Cursor`` to go on from."""
SCAN_LIMIT = 10_000
"""Records read for one JSON page: a caller who sees few of them gets a short page and a cursor to go on."""


# ------------------------------------------------------------------------------------------------ access ----

def team_of(ctx: Ctx) -> Callable[[str], Iterable[str]]:
    agents = ctx.engine.runtime.acd.agents

    def teams(agent_id: str) -> Iterable[str]:
        found = agents.get(agent_id)
        return found.config.teams if found is not None else ()

    return teams


def live_agents(contact: Any) -> list[str]:
    """Every agent a live contact was offered to or served by."""
    found = {step[3] for step in contact.history if step[3]}
    if contact.agent:
        found.add(contact.agent)
    found.update(contact.wrappers)
    return sorted(found)


def live_view(contact: Any) -> dict[str, Any]:
    return {"contact_id": contact.id, "live": True, "channel": contact.channel, "customer": contact.customer,
            "queue": contact.queue, "state": contact.state, "agent_id": contact.agent, "arrived": contact.arrived,
            "answered": contact.answered, "priority": contact.priority, "data": dict(contact.data),
            "history": [{"at": s[0], "state": s[1], "queue": s[2], "agent_id": s[3]} for s in contact.history],
            "agents": live_agents(contact)}


async def visible_contact(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    """The live contact's view, else its CDR's (``live`` false), if the caller may see it; 404 otherwise."""
    live = ctx.engine.runtime.acd.contacts.get(contact_id)
    if live is not None:
        view = live_view(live)
    else:
        cdr = await ctx.run(ctx.store.cdr, contact_id)
        if cdr is None:
            raise not_found(f"contact {contact_id!r}")
        view = {**cdr.to_dict(), "live": False}
    if not ctx.who.sees_contact_agents(view["agents"], team_of(ctx)):
        raise not_found(f"contact {contact_id!r}")
    return view


# ------------------------------------------------------------------------------------------------- live ----

@route(bp, "GET", "/v1/contacts", summary="Contacts in flight (waiting, offered, connected, wrapping up)",
       roles=ANYONE, tags=("contacts",), response=page_of(LIVE),
       query={"queue": {"type": "string", "maxLength": 64}, "state": {"type": "string", "maxLength": 32},
              "channel": {"type": "string", "maxLength": 64}, "agent": {"type": "string", "maxLength": 64},
              "limit": LIMIT, "cursor": CURSOR},
       description="Oldest first. A supervisor sees those of its teams' agents and those no agent had yet; an "
                   "agent those offered to it.")
async def list_contacts(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    teams = team_of(ctx)
    items = []
    for contact in sorted(ctx.engine.runtime.acd.contacts.values(), key=lambda c: c.seq):
        if any(q.get(k) not in (None, getattr(contact, a)) for k, a in (("queue", "queue"), ("state", "state"),
                                                                         ("channel", "channel"))):
            continue
        agents = live_agents(contact)
        if q.get("agent") and q["agent"] not in agents:
            continue
        if ctx.who.sees_contact_agents(agents, teams):
            items.append(live_view(contact))
    return page(items, q)


@route(bp, "GET", "/v1/contacts/<contact_id>", summary="A contact: its live state, else its CDR", roles=ANYONE,
       tags=("contacts",), response={"oneOf": [LIVE, ENDED]}, etag=True,
       description="`live` says which: true, the engine's state now; false, the record of its ended life.")
async def get_contact(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    return await visible_contact(ctx, contact_id)


@route(bp, "GET", "/v1/contacts/<contact_id>/customer", summary="The screen pop of a contact's customer",
       roles=ANYONE, tags=("contacts",), response=SCREEN_POP,
       description="The customer (first CRM that knows it), its history and its open tickets, from the CRM and "
                   "ticket plugins. An agent gets it only for a contact offered to it.")
async def contact_customer(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    view = await visible_contact(ctx, contact_id)
    if not view["customer"]:
        raise not_found(f"contact {contact_id!r} has no customer identity")
    pop = await screen_pop(ctx.engine.plugins, view["customer"])
    return {"contact_id": contact_id, **pop}


# ------------------------------------------------------------------------------------------------- CDRs ----

def _csv(records: list[Cdr]) -> str:
    def iso(t: float | None) -> str:
        return "" if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([r.contact_id, r.channel, r.customer, r.queue, r.agent_id, ";".join(r.agents), iso(r.arrived),
                         iso(r.answered), iso(r.ended), iso(r.recorded), r.outcome, r.disposition, r.notes])
    return out.getvalue()


def _key(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    key = decode_cursor(cursor)
    if (not isinstance(key, list) or len(key) != 2 or not isinstance(key[0], int | float)
            or isinstance(key[0], bool) or not isinstance(key[1], str)):
        raise ApiError(400, "cursor: not a cursor this API gave out")
    return float(key[0]), key[1]


@route(bp, "GET", "/v1/cdrs", summary="Call detail records, oldest first", roles=ANYONE, tags=("contacts",),
       response=page_of(CDR), response_media=("application/json", "text/csv"),
       query={"since": TIME, "until": TIME, "queue": {"type": "string", "maxLength": 64},
              "agent": {"type": "string", "maxLength": 64}, "customer": {"type": "string", "maxLength": 200},
              "outcome": {"type": "string", "maxLength": 64}, "channel": {"type": "string", "maxLength": 64},
              "format": {"type": "string", "enum": ["json", "csv"], "default": "json"},
              "limit": LIMIT, "cursor": CURSOR},
       description="Filters: since/until (when the contact's life ended, Unix seconds, [since, until)), queue, "
                   "agent (offered to or served by), customer, outcome, channel. Paged by key (`cursor`). "
                   f"format=csv exports every matching record from the cursor on, up to {EXPORT_LIMIT:,} "
                   "(then `X-Next-Cursor` says where to go on). Scoped like contacts.")
async def list_cdrs(ctx: Ctx) -> Any:
    q = ctx.query
    who = ctx.who
    agent = q.get("agent")
    if who.role == "agent":
        if agent not in (None, who.agent_id):
            return _cdr_answer(q, [], None)
        agent = who.agent_id
    filters = {k: q.get(k) for k in ("since", "until", "queue", "customer", "outcome", "channel")}
    wanted = EXPORT_LIMIT if q["format"] == "csv" else q["limit"]
    teams = team_of(ctx)
    after = _key(q.get("cursor"))
    found: list[Cdr] = []
    scanned = 0
    exhausted = more = False
    # An admin sees every record: one more than the page says whether another page follows. The others may be
    # refused records, so they read in large batches; decoding a thousand rows for a page of fifty held the GIL
    # (and the engine's thread) for tens of milliseconds.
    size = min(MAX_LIMIT, wanted + 1) if who.role == "admin" else MAX_LIMIT
    while len(found) < wanted and not exhausted:
        batch = await ctx.run(ctx.store.cdrs, agent=agent, after=after, limit=size, **filters)
        for i, record in enumerate(batch):
            after = (record.recorded, record.contact_id)
            scanned += 1
            if who.sees_contact_agents(record.agents, teams):
                found.append(record)
                if len(found) == wanted:
                    more = i + 1 < len(batch) and who.role == "admin"
                    break
        else:
            exhausted = len(batch) < size
        if q["format"] != "csv" and scanned >= SCAN_LIMIT:
            break
    if not exhausted and not more and not await ctx.run(ctx.store.cdrs, agent=agent, after=after, limit=1,
                                                        **filters):
        exhausted = True
    return _cdr_answer(q, found, None if exhausted else after)


def _cdr_answer(q: dict[str, Any], records: list[Cdr], after: tuple[float, str] | None) -> Any:
    cursor = encode_cursor(list(after)) if after is not None else None
    if q["format"] == "csv":
        headers = {"Content-Disposition": 'attachment; filename="cdrs.csv"'}
        if cursor:
            headers["X-Next-Cursor"] = cursor
        return Response(_csv(records), 200, headers, mimetype="text/csv")
    return {"items": [r.to_dict() for r in records], "next_cursor": cursor}


@route(bp, "GET", "/v1/cdrs/<contact_id>", summary="One call detail record", roles=ANYONE, tags=("contacts",),
       response=CDR, etag=True)
async def get_cdr(ctx: Ctx, contact_id: str) -> dict[str, Any]:
    cdr = await ctx.run(ctx.store.cdr, contact_id)
    if cdr is None or not ctx.who.sees_contact_agents(cdr.agents, team_of(ctx)):
        raise not_found(f"cdr {contact_id!r}")
    return cdr.to_dict()


# -------------------------------------------------------------------------------------------- customers ----

def _customer_record(store: Any, customer_id: int) -> dict[str, Any]:
    customer = store.customer(customer_id)
    return {**customer.to_dict(), "history": [i.to_dict() for i in store.history(customer_id, 50)],
            "open_tickets": [t.to_dict() for t in store.open_tickets(customer_id)]}


@route(bp, "GET", "/v1/customers/<int:customer_id>", summary="A customer, its last 50 interactions and its open "
       "tickets", roles=STAFF, tags=("contacts",), response=CUSTOMER, etag=True,
       description="Agents reach a customer through a contact offered to them (GET /v1/contacts/{id}/customer).")
async def get_customer(ctx: Ctx, customer_id: int) -> dict[str, Any]:
    return await ctx.run(_customer_record, ctx.store, customer_id)
