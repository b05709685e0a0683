"""The REST resources of the admin API, one blueprint per module, each route declared with
``admin_api.api.route`` (so it is authenticated, validated and documented the same way)."""

from __future__ import annotations

from quart import Blueprint


def blueprints() -> list[Blueprint]:
    """Every resource blueprint, in the order their routes are documented."""
    from admin_api import live
    from admin_api.resources import access, agents, campaigns, config, contacts, dnc, reports, tickets

    return [access.bp, agents.bp, config.bp, campaigns.bp, dnc.bp, contacts.bp, tickets.bp, reports.bp, live.bp]
