"""Outbound campaigns, their live figures, lead imports and leads.

A campaign is the dialer's configuration (``engine.model.CampaignConfig``), changed live with ``UpsertCampaign``
(journaled, audited): a change keeps the campaign's leads, calls and figures. The dialer never forgets a campaign
(its leads, calls and figures refer to it), so there is no DELETE: ``PATCH {"active": false}`` stops its dialling.

Leads: ``POST /v1/campaigns/{id}/lead-imports`` takes a CSV body (``engine.leads`` columns), stores the good rows
(``Store.import_leads``: a number already in the campaign is reported, never added twice) and hands the imported
leads to the running dialer at once (``engine.lead_handover``). Lists imported with ``switchboard leads import``
while the server runs are stored only; ``POST /v1/campaigns/{id}/lead-sync`` (or creating the campaign, or the
next start of the server) hands them over.

Supervisors and admins read campaigns and import leads; only admins create or change a campaign.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import trio
from quart import Blueprint

from admin_api.api import Ctx, route
from admin_api.auth import ADMIN, STAFF
from admin_api.errors import ApiError, not_found
from admin_api.pages import CURSOR, LIMIT, offset_of, page, page_from
from admin_api.schemas import ID, NAME, closed, page_of, register
from engine import lead_handover
from engine.dialer_events import UpsertCampaign
from engine.errors import AcdError, ConfigError
from engine.leads import LEAD_STATUSES, parse_leads
from engine.model import DEFAULT_RETRY_S, DIAL_MODES, CampaignConfig

log = logging.getLogger("switchboard.api")

bp = Blueprint("campaigns", __name__)

MACHINE_RULES = ["hangup", "message", "retry"]
SECONDS = {"type": "number", "exclusiveMinimum": 0, "maximum": 7 * 86400}
MINUTE = {"type": "integer", "minimum": 0, "maximum": 1440}
CAMPAIGN_FIELDS: dict[str, Any] = {
    "queue": ID, "name": NAME, "mode": {"type": "string", "enum": list(DIAL_MODES)},
    "caller_id": {"type": "string", "maxLength": 32},
    "power_ratio": {"type": "number", "minimum": 1, "maximum": 20},
    "abandon_target": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "abandon_grace_s": SECONDS, "ring_timeout_s": SECONDS,
    "calling_hours": {"type": "array", "items": MINUTE, "minItems": 2, "maxItems": 2,
                      "description": "[first, last] minute of the callee's local day (default [480, 1260])"},
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
    "min_interval_s": {"type": "number", "minimum": 0, "maximum": 30 * 86400},
    "daily_cap": {"type": "integer", "minimum": 1, "maximum": 1000},
    "retry_s": {"type": "object", "propertyNames": {"enum": list(DEFAULT_RETRY_S)},
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 30 * 86400},
                "description": "delay before a retry, per outcome"},
    "machine": {"type": "string", "enum": MACHINE_RULES},
    "machine_message": NAME, "abandon_message": NAME, "active": {"type": "boolean"},
}
CAMPAIGN = register("Campaign", closed({"id": ID, **CAMPAIGN_FIELDS}, ("id", *CAMPAIGN_FIELDS)))
COUNTS = {"type": "object", "additionalProperties": {"type": "number"}}
FIGURES = register("CampaignFigures", closed({
    "campaign": ID, "active": {"type": "boolean"}, "mode": {"type": "string"},
    "mode_now": {"type": "string", "description": "predictive falls back to progressive near the cap"},
    "total": COUNTS, "rates": COUNTS, "dispositions": COUNTS,
    "intervals": {"type": "array", "items": {"type": "object"}, "description": "15-minute counts, oldest first"},
    "calls": COUNTS, "leads": COUNTS,
}, ("campaign", "active", "mode", "mode_now", "total", "rates", "dispositions", "intervals", "calls", "leads")))
ROW_ERROR = register("RowError", closed({"line": {"type": "integer"}, "column": {"type": "string"},
                                         "reason": {"type": "string"}, "value": {"type": "string"}},
                                        ("line", "column", "reason", "value")))
IMPORT_FIELDS = {"import_id": {"type": "integer"}, "campaign": ID, "source": {"type": "string"},
                 "digest": {"type": "string"}, "at": {"type": "number"}, "imported": {"type": "integer"},
                 "rejected": {"type": "integer"}}
IMPORT_RESULT = register("LeadImportResult", closed({
    **IMPORT_FIELDS, "rows": {"type": "integer"}, "errors": {"type": "array", "items": ROW_ERROR},
    "same_file_as": {"type": ["integer", "null"]},
    "handed_to_dialer": {"type": "integer", "description": "leads the running dialer was given now"},
}, ("import_id", "campaign", "rows", "imported", "rejected", "errors", "same_file_as", "handed_to_dialer")))
IMPORT = register("LeadImport", closed({
    **IMPORT_FIELDS, "error_count": {"type": "integer"},
    "errors": {"type": "array", "items": ROW_ERROR, "description": "only on GET of one import"},
}, ("import_id", "campaign", "source", "digest", "at", "imported", "rejected", "error_count")))
LEAD = register("Lead", closed({
    "id": {"type": "string"}, "campaign": ID, "phone": {"type": "string"},
    "timezones": {"type": "array", "items": {"type": "string"}}, "priority": {"type": "integer"},
    "value": {"type": "number"}, "fields": {"type": "object"}, "attempts": {"type": "integer"},
    "last_attempt": {"type": ["number", "null"]}, "next_attempt": {"type": ["number", "null"]},
    "agent": {"type": ["string", "null"]}, "status": {"type": "string", "enum": list(LEAD_STATUSES)},
}, ("id", "campaign", "phone", "status")))


def campaign_view(config: CampaignConfig) -> dict[str, Any]:
    return config.to_dict()


def _dialer(ctx: Ctx) -> Any:
    dialer = getattr(ctx.engine.runtime.acd, "dialer", None)
    if dialer is None:
        raise ApiError(503, "this engine runs no dialer")
    return dialer


def need_campaign(ctx: Ctx, campaign_id: str) -> CampaignConfig:
    try:
        return _dialer(ctx).campaign(campaign_id)  # type: ignore[no-any-return]
    except AcdError:
        raise not_found(f"campaign {campaign_id!r}") from None


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = dict(body)
    if "calling_hours" in fields:
        first, last = fields["calling_hours"]
        if first >= last:
            raise ApiError(422, "body.calling_hours: the first minute must come before the last")
        fields["calling_hours"] = (first, last)
    if "retry_s" in fields:
        fields["retry_s"] = {**DEFAULT_RETRY_S, **fields["retry_s"]}
    return fields


# ------------------------------------------------------------------------------------------------ config ----

@route(bp, "GET", "/v1/campaigns", summary="List campaigns", roles=STAFF, tags=("campaigns",),
       response=page_of(CAMPAIGN),
       query={"active": {"type": "boolean"}, "queue": {"type": "string", "maxLength": 64}, "limit": LIMIT,
              "cursor": CURSOR})
async def list_campaigns(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    items = [campaign_view(c) for c in sorted(_dialer(ctx).campaigns(), key=lambda c: c.id)
             if ("active" not in q or c.active == q["active"]) and q.get("queue") in (None, c.queue)]
    return page(items, q)


@route(bp, "POST", "/v1/campaigns", summary="Create a campaign", roles=ADMIN, tags=("campaigns",), status=201,
       response=CAMPAIGN, body=closed({"id": ID, **CAMPAIGN_FIELDS}, ("id", "queue")),
       description="Fields left out take their defaults (predictive, 3 % abandonment cap, 2 s grace, 08:00-21:00, "
                   "6 attempts). Dials from now on if active; the campaign's open leads already in the store "
                   "(imported with the CLI) are handed to the dialer.")
async def create_campaign(ctx: Ctx) -> dict[str, Any]:
    body = _fields(ctx.body)
    if any(c.id == body["id"] for c in _dialer(ctx).campaigns()):
        raise ApiError(409, f"campaign {body['id']!r} already exists")
    config = CampaignConfig(**body)
    await ctx.submit(UpsertCampaign(config), refused=422)
    handed = await lead_handover.sync_campaign(ctx.engine.runtime, ctx.store, config.id)
    await ctx.audit("create", f"campaign:{config.id}", {"after": campaign_view(config), "leads_handed": handed})
    return campaign_view(config)


@route(bp, "GET", "/v1/campaigns/<campaign_id>", summary="One campaign", roles=STAFF, tags=("campaigns",),
       response=CAMPAIGN, etag=True)
async def get_campaign(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    return campaign_view(need_campaign(ctx, campaign_id))


@route(bp, "PATCH", "/v1/campaigns/<campaign_id>", summary="Change a campaign (mode, ratio, rules, active)",
       roles=ADMIN, tags=("campaigns",), response=CAMPAIGN, body=closed(CAMPAIGN_FIELDS, minProperties=1),
       description="Applies live; leads, calls in progress and figures are kept. active=false stops dialling "
                   "(calls in progress end normally). Send If-Match to refuse a stale edit.")
async def update_campaign(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    before = need_campaign(ctx, campaign_id)
    after = replace(before, **_fields(ctx.body))
    await ctx.change(UpsertCampaign(after), "update", f"campaign:{campaign_id}", before=campaign_view(before),
                     after=campaign_view(after))
    return campaign_view(after)


@route(bp, "GET", "/v1/campaigns/<campaign_id>/figures", summary="A campaign's live figures", roles=STAFF,
       tags=("campaigns",), response=FIGURES,
       description="Since the campaign was created (total) and per 15 minutes: dials, people, machines, "
                   "abandoned, connects...; rates (connect, machine, abandonment: plain and UK); calls in "
                   "progress by phase; the store's lead counts by status.")
async def campaign_figures(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    config = need_campaign(ctx, campaign_id)
    dialer = _dialer(ctx)
    figures = dialer.figures(campaign_id)
    calls: dict[str, int] = {}
    for campaign, _, phase in dialer.calls_in_progress().values():
        if campaign == campaign_id:
            calls[phase] = calls.get(phase, 0) + 1
    leads = await ctx.run(ctx.store.lead_counts, campaign_id)
    return {"campaign": campaign_id, "active": config.active, "mode": config.mode,
            "mode_now": dialer.mode_now(campaign_id), "total": dict(figures.total), "rates": figures.rates(),
            "dispositions": dict(figures.dispositions),
            "intervals": [{"start": start, **counts} for start, counts in sorted(figures.intervals.items())],
            "calls": calls, "leads": leads}


# ------------------------------------------------------------------------------------------------- leads ----

@route(bp, "POST", "/v1/campaigns/<campaign_id>/lead-imports", summary="Import a CSV lead list", roles=STAFF,
       tags=("campaigns",), status=201, body_media="text/csv", response=IMPORT_RESULT,
       query={"region": {"type": "string", "pattern": "^[A-Za-z]{2}$",
                         "description": "ISO country of numbers written without + in rows with no region"},
              "source": {"type": "string", "maxLength": 200, "description": "a name for the file (the audit "
                                                                             "and the import list show it)"}},
       description="The columns of docs/leads.md. Every row is imported or rejected with its line and reason; a "
                   "number already in the campaign is never added twice. A file that cannot be read as a lead "
                   "list at all is a 422 and nothing is stored. The imported leads are handed to the running "
                   "dialer at once.")
async def import_leads(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    source = ctx.query.get("source") or "api"
    region = ctx.query.get("region")
    try:
        parsed = await trio.to_thread.run_sync(
            lambda: parse_leads(ctx.body, campaign_id, source=source, default_region=region))
    except ConfigError as exc:
        raise ApiError(422, str(exc)) from None
    result = await ctx.run(ctx.store.import_leads, campaign_id, parsed, source=source)
    refused_lines = {e.line for e in result.errors}
    imported = [lead for line, lead in zip(parsed.lines, parsed.leads, strict=True) if line not in refused_lines]
    try:
        handed = await lead_handover.hand_over(ctx.engine.runtime, campaign_id, imported)
    except AcdError as exc:  # stored all the same: the next lead-sync hands them over
        log.warning("campaign %s: imported leads not handed to the dialer: %s", campaign_id, exc)
        handed = 0
    await ctx.audit("import-leads", f"campaign:{campaign_id}", {
        "import_id": result.import_id, "source": source, "rows": result.rows, "imported": result.imported,
        "rejected": result.rejected, "handed_to_dialer": handed})
    return {**result.to_dict(), "handed_to_dialer": handed}


def _import_view(row: dict[str, Any], *, errors: bool) -> dict[str, Any]:
    out = {"import_id": row["id"], **{k: row[k] for k in ("campaign", "source", "digest", "at", "imported",
                                                          "rejected", "error_count")}}
    if errors:
        out["errors"] = row["errors"]
    return out


@route(bp, "GET", "/v1/campaigns/<campaign_id>/lead-imports", summary="A campaign's lead imports, oldest first",
       roles=STAFF, tags=("campaigns",), response=page_of(IMPORT), query={"limit": LIMIT, "cursor": CURSOR})
async def list_imports(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    rows = await ctx.run(ctx.store.lead_imports, campaign_id)
    return page([_import_view(r, errors=False) for r in rows], ctx.query)


@route(bp, "GET", "/v1/campaigns/<campaign_id>/lead-imports/<int:import_id>", summary="One lead import with its "
       "row errors", roles=STAFF, tags=("campaigns",), response=IMPORT)
async def get_import(ctx: Ctx, campaign_id: str, import_id: int) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    rows = await ctx.run(ctx.store.lead_imports, campaign_id)
    found = next((r for r in rows if r["id"] == import_id), None)
    if found is None:
        raise not_found(f"lead import {import_id} of campaign {campaign_id!r}")
    return _import_view(found, errors=True)


def _leads_page(store: Any, campaign_id: str, status: str | None, offset: int, limit: int
                ) -> list[dict[str, Any]]:
    leads = store.leads(campaign_id, status=status, limit=limit + 1, offset=offset)
    return [{**lead.to_dict(), "status": status or store.lead_status(campaign_id, lead.id)} for lead in leads]


@route(bp, "GET", "/v1/campaigns/<campaign_id>/leads", summary="A campaign's leads, in import order",
       roles=STAFF, tags=("campaigns",), response=page_of(LEAD),
       query={"status": {"type": "string", "enum": list(LEAD_STATUSES)}, "limit": LIMIT, "cursor": CURSOR})
async def list_leads(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    q = ctx.query
    offset = offset_of(q)
    return page_from(await ctx.run(_leads_page, ctx.store, campaign_id, q.get("status"), offset, q["limit"]),
                     offset, q["limit"])


@route(bp, "GET", "/v1/campaigns/<campaign_id>/lead-counts", summary="How many of a campaign's leads are in each "
       "status", roles=STAFF, tags=("campaigns",), response=closed({s: {"type": "integer"} for s in LEAD_STATUSES},
                                                                    LEAD_STATUSES))
async def lead_counts(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    return await ctx.run(ctx.store.lead_counts, campaign_id)  # type: ignore[no-any-return]


@route(bp, "POST", "/v1/campaigns/<campaign_id>/lead-sync", summary="Hand the dialer the stored open leads it "
       "does not have yet", roles=STAFF, tags=("campaigns",),
       response=closed({"handed_to_dialer": {"type": "integer"}}, ("handed_to_dialer",)),
       description="For lists imported with `switchboard leads import` while the server runs. A lead the dialer "
                   "already has is never handed again.")
async def sync_leads(ctx: Ctx, campaign_id: str) -> dict[str, Any]:
    need_campaign(ctx, campaign_id)
    handed = await lead_handover.sync_campaign(ctx.engine.runtime, ctx.store, campaign_id)
    await ctx.audit("sync-leads", f"campaign:{campaign_id}", {"handed_to_dialer": handed})
    return {"handed_to_dialer": handed}
