"""Handing a campaign's stored leads to the running dialer.

The store is the lead list: imports write it (``switchboard leads import`` and the admin API's
``POST /v1/campaigns/{id}/lead-imports``) and ``LeadWriter`` keeps it up to date. The dialer dials only the leads
it was handed with ``LeadsAdded`` (journaled, so a restart replays them). A hand-over gives the dialer every *open*
lead (``new`` or ``scheduled``) of the campaign that it does not know yet, in events of at most ``BATCH`` leads.

A lead the dialer knows is never handed again: the dialer keeps every lead it was given, finished ones too, so a
lead that the store still shows open because its last update was not written yet (a crash) is not dialled twice.

When a hand-over happens: at once after an import through the API; when a campaign is created through the API;
on ``POST /v1/campaigns/{id}/lead-sync``; and for every campaign when ``switchboard serve`` starts. So a list
imported by the CLI while the server runs is stored at once but dialled from the next of those.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio

from engine.dialer_events import LeadsAdded
from engine.errors import AcdError
from engine.leads import OPEN_LEAD_STATUSES
from engine.model import Lead

BATCH = 1000
"""Leads per ``LeadsAdded`` event (one journal frame each)."""
PAGE = 10_000


def open_leads(store: Any, campaign: str) -> list[Lead]:
    """Every open lead of ``campaign`` in ``store`` (blocking: run it in a worker thread)."""
    out: list[Lead] = []
    for status in OPEN_LEAD_STATUSES:
        offset = 0
        while True:
            found = store.leads(campaign, status=status, limit=PAGE, offset=offset)
            out.extend(found)
            if len(found) < PAGE:
                break
            offset += PAGE
    return out


def unknown_to(dialer: Any, campaign: str, leads: Iterable[Lead]) -> list[Lead]:
    """The ``leads`` the dialer was never handed (``AcdError`` if it has no such campaign)."""
    dialer.campaign(campaign)
    out = []
    for lead in leads:
        try:
            dialer.lead(campaign, lead.id)
        except KeyError:
            out.append(lead)
    return out


async def hand_over(runtime: Any, campaign: str, leads: Iterable[Lead]) -> int:
    """Submit ``LeadsAdded`` events for those of ``leads`` the running dialer (``runtime.acd.dialer``) does not
    know; returns how many were handed. ``AcdError`` if the engine refuses (no such campaign)."""
    pending = list(leads)
    handed = 0
    for start in range(0, len(pending), BATCH):
        # Checked per batch, just before submitting: another hand-over may have run while we awaited.
        fresh = unknown_to(runtime.acd.dialer, campaign, pending[start:start + BATCH])
        if fresh:
            await runtime.submit(LeadsAdded(campaign, tuple(lead.to_dict() for lead in fresh)))
            handed += len(fresh)
    return handed


async def sync_campaign(runtime: Any, store: Any, campaign: str) -> int:
    """Hand the running dialer every open lead of ``campaign`` in ``store`` it does not know; returns how many."""
    leads = await trio.to_thread.run_sync(open_leads, store, campaign)
    return await hand_over(runtime, campaign, leads)


async def sync_all(runtime: Any, store: Any) -> dict[str, int]:
    """``sync_campaign`` for every campaign of the running dialer: campaign -> leads handed (what
    ``switchboard serve`` does at start)."""
    dialer = getattr(runtime.acd, "dialer", None)
    if dialer is None:
        return {}
    out = {}
    for config in dialer.campaigns():
        try:
            out[config.id] = await sync_campaign(runtime, store, config.id)
        except AcdError:  # pragma: no cover - a campaign the dialer has always takes its own leads
            out[config.id] = 0
    return out
