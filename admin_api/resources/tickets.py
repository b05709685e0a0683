"""Tickets: work orders routed to departments (``engine.store`` tickets), created and moved along their statuses.

Staff see and change every ticket (tickets belong to departments, not to teams). An agent sees the tickets
assigned to it, those of a contact offered to it (live or recorded) and those of the customers of such contacts;
it may create a ticket for a contact it sees, change the status of a ticket it sees and add notes; reassigning or
moving a ticket to another department is for staff. Statuses move along ``TICKET_TRANSITIONS`` (a refused move
is a 422 naming the allowed ones). Every change is in the ticket's own history (who, when, what) and in the audit
trail.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from admin_api.api import Ctx, route
from admin_api.auth import ANYONE
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, decode_cursor, encode_cursor
from admin_api.resources.contacts import live_agents, visible_contact
from admin_api.schemas import TIME, closed, page_of, register
from engine.errors import StoreError
from engine.store import TICKET_STATUSES, TICKET_TRANSITIONS, guess_identity

bp = Blueprint("tickets", __name__)

STATUS = {"type": "string", "enum": list(TICKET_STATUSES)}
DEPARTMENT = {"type": "string", "minLength": 1, "maxLength": 100}
ASSIGNEE = {"type": "string", "maxLength": 100, "description": "an agent id (empty: nobody)"}
NOTE = {"type": "string", "maxLength": 10_000}
REFERENCE = {"type": "string", "description": "T- and six digits or more"}
EVENT = register("TicketEvent", closed({
    "at": TIME, "who": {"type": "string"}, "changes": {"type": "object", "description": "field -> [old, new]"},
    "note": {"type": "string"}}, ("at", "who", "changes", "note")))
TICKET = register("Ticket", closed({
    "reference": REFERENCE, "customer_id": {"type": ["integer", "null"]}, "department": {"type": "string"},
    "subject": {"type": "string"}, "status": STATUS, "assignee": {"type": "string"},
    "contact_id": {"type": "string"}, "created": TIME, "updated": TIME,
    "events": {"type": "array", "items": EVENT, "description": "its history, oldest first"},
}, ("reference", "customer_id", "department", "subject", "status", "assignee", "contact_id", "created", "updated",
    "events")))


def _who(ctx: Ctx) -> str:
    return ctx.who.user or f"token:{ctx.who.name}"


def customer_of(store: Any, customer: str, channel: str) -> int | None:
    """The store's customer id behind a contact's customer string, or ``None`` (blocking)."""
    if not customer:
        return None
    try:
        found = store.find_customer(*guess_identity(customer, channel))
    except StoreError:
        return None
    return None if found is None else found.id


def _agent_scope(ctx: Ctx) -> dict[str, Any]:
    """For an agent caller, the ``Store.tickets`` arguments that limit it to what it may see; ``{}`` for staff."""
    who = ctx.who
    if who.role != "agent":
        return {}
    live = [c for c in ctx.engine.runtime.acd.contacts.values() if who.agent_id in live_agents(c)]
    return {"seen_by_agent": who.agent_id or "", "also_contacts": [c.id for c in live],
            "_live": [(c.customer, c.channel) for c in live]}


async def _scoped(ctx: Ctx, **filters: Any) -> list[Any]:
    scope = _agent_scope(ctx)
    live = scope.pop("_live", [])

    def query() -> list[Any]:
        customers = [cid for cid in (customer_of(ctx.store, c, ch) for c, ch in live) if cid is not None]
        if scope:
            scope["also_customers"] = customers
        return ctx.store.tickets(**filters, **scope)  # type: ignore[no-any-return]

    return await ctx.run(query)


async def visible_ticket(ctx: Ctx, reference: str) -> Any:
    try:
        found = await _scoped(ctx, reference=reference, limit=1)
    except ApiError as exc:
        if exc.status == 422:  # a malformed reference names no ticket
            raise not_found(f"ticket {reference!r}") from None
        raise
    if not found:
        raise not_found(f"ticket {reference!r}")
    return found[0]


@route(bp, "GET", "/v1/tickets", summary="List tickets, newest first", roles=ANYONE, tags=("tickets",),
       response=page_of(TICKET),
       query={"status": STATUS, "department": {"type": "string", "maxLength": 100},
              "assignee": {"type": "string", "maxLength": 100}, "customer_id": {"type": "integer", "minimum": 0},
              "limit": LIMIT, "cursor": CURSOR},
       description="An agent sees those assigned to it, of contacts offered to it, and of those contacts' "
                   "customers.")
async def list_tickets(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    before = decode_cursor(q["cursor"]) if q.get("cursor") else None
    if before is not None and (not isinstance(before, int) or isinstance(before, bool)):
        raise ApiError(400, "cursor: not a cursor this API gave out")
    found = await _scoped(ctx, status=q.get("status"), department=q.get("department"), assignee=q.get("assignee"),
                          customer_id=q.get("customer_id"), before=before, limit=q["limit"] + 1)
    more = len(found) > q["limit"]
    items = found[:q["limit"]]
    number = int(items[-1].reference.split("-")[1]) if items else 0
    return {"items": [t.to_dict() for t in items], "next_cursor": encode_cursor(number) if more else None}


@route(bp, "POST", "/v1/tickets", summary="Open a ticket", roles=ANYONE, tags=("tickets",), status=201,
       response=TICKET,
       body=closed({"department": DEPARTMENT, "subject": {"type": "string", "minLength": 1, "maxLength": 500},
                    "customer_id": {"type": "integer", "minimum": 0},
                    "contact_id": {"type": "string", "minLength": 1, "maxLength": 200}, "assignee": ASSIGNEE,
                    "note": NOTE}, ("department", "subject")),
       description="With contact_id (required for an agent: a contact offered to it) the ticket is linked to the "
                   "contact and, unless customer_id is given, to the contact's customer.")
async def create_ticket(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    customer_id = body.get("customer_id")
    contact_id = body.get("contact_id", "")
    if ctx.who.role == "agent" and not contact_id:
        raise ApiError(422, "body.contact_id: an agent opens tickets for a contact offered to it")
    if contact_id:
        try:
            contact = await visible_contact(ctx, contact_id)
        except ApiError:
            raise ApiError(422, f"body.contact_id: no contact {contact_id!r} you can see") from None
        found = await ctx.run(customer_of, ctx.store, contact["customer"], contact["channel"])
        if customer_id is None:
            customer_id = found
        elif ctx.who.role == "agent" and customer_id != found:
            raise ApiError(422, "body.customer_id: not the customer of that contact")
    if customer_id is not None and await ctx.run(lambda: _missing_customer(ctx.store, customer_id)):
        raise ApiError(422, f"body.customer_id: no customer {customer_id}")
    ticket = await ctx.run(lambda: ctx.store.create_ticket(
        customer_id, body["department"], body["subject"], contact_id=contact_id, assignee=body.get("assignee", ""),
        note=body.get("note", ""), who=_who(ctx)))
    await ctx.audit("create", f"ticket:{ticket.reference}", {"after": _summary(ticket)})
    return ticket.to_dict()  # type: ignore[no-any-return]


def _missing_customer(store: Any, customer_id: int) -> bool:
    try:
        store.customer(customer_id)
    except StoreError:
        return True
    return False


def _summary(ticket: Any) -> dict[str, Any]:
    return {k: v for k, v in ticket.to_dict().items() if k != "events"}


@route(bp, "GET", "/v1/tickets/<reference>", summary="One ticket with its history", roles=ANYONE,
       tags=("tickets",), response=TICKET, etag=True)
async def get_ticket(ctx: Ctx, reference: str) -> dict[str, Any]:
    return (await visible_ticket(ctx, reference)).to_dict()  # type: ignore[no-any-return]


@route(bp, "PATCH", "/v1/tickets/<reference>", summary="Move a ticket (status, assignee, department) or add a note",
       roles=ANYONE, tags=("tickets",), response=TICKET,
       body=closed({"status": STATUS, "assignee": ASSIGNEE, "department": DEPARTMENT, "note": NOTE},
                   minProperties=1),
       description="Statuses: " + "; ".join(f"{s} -> {', '.join(t) or 'none (final)'}"
                                            for s, t in TICKET_TRANSITIONS.items())
                   + ". An agent changes status and adds notes; reassigning is for staff. Send If-Match to refuse "
                     "a stale edit.")
async def update_ticket(ctx: Ctx, reference: str) -> dict[str, Any]:
    before = await visible_ticket(ctx, reference)
    ctx.check_if_match(before.to_dict())
    body = ctx.body
    if ctx.who.role == "agent" and ({"assignee", "department"} & set(body)):
        raise ApiError(403, "an agent may change a ticket's status and add notes; reassigning is for staff")
    after = await ctx.run(lambda: ctx.store.update_ticket(
        before.reference, status=body.get("status"), assignee=body.get("assignee"),
        department=body.get("department"), note=body.get("note", ""), who=_who(ctx)))
    await ctx.audit("update", f"ticket:{after.reference}", {"before": _summary(before), "after": _summary(after),
                                                            "note": body.get("note", "")})
    return after.to_dict()  # type: ignore[no-any-return]
