"""The built-in tickets (plugin ``"tickets"``): work orders in the engine's store, routed to departments by rules.

Until ``switchboard_configure`` hands it a store (``config["store"]``) every hook returns ``None``. Configuration
(``[plugins.tickets]``, all optional)::

    default_department = "support"        # where a ticket goes when no rule matches
    ivr_step = "ticket-status"            # the IVR self-service step this plugin serves

    [[plugins.tickets.rules]]             # first match wins (see plugins.builtin.tickets.routing)
    department = "billing"
    keyword = ["invoice", "refund"]
    channel = "voice"

The IVR step takes the reference from ``inputs["reference"]`` or ``inputs["digits"]`` (what the caller keyed in)
and returns ``{"step", "found", "prompt", "variables"}``: prompt ``"ticket-status"`` with variables
``reference``, ``status``, ``department``, ``updated`` and ``last_update`` (the last note, or what last changed),
or prompt ``"ticket-not-found"`` with the ``reference`` as heard. It never raises for a caller's input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError, StoreError
from engine.store import Store, Ticket, guess_identity
from plugins import hookimpl
from plugins.builtin.crm.builtin import find, store_of
from plugins.builtin.crm.section import Key, plugin_section, validate_section
from plugins.builtin.tickets.routing import Rule, parse_rules, route

log = logging.getLogger("switchboard.tickets")

NAME = "tickets"
KEYS = {
    "default_department": Key((str,), "a department queue name", "support",
                              lambda v: None if v.strip() else "must not be empty"),
    "ivr_step": Key((str,), "an IVR step name", "ticket-status"),
    "rules": Key((list,), "a list of rule tables ([[plugins.tickets.rules]])", []),
}


def validate(config: Any) -> tuple[dict[str, Any], list[Rule]]:
    """The ``tickets`` section with defaults, and its rules; ``ConfigError`` naming file:line:key. Call it at
    startup to stop on a bad configuration (``switchboard_configure``'s errors are only logged)."""
    section, config_file = plugin_section(config, NAME)
    settings = validate_section(section or {}, KEYS, ("plugins", NAME), config_file)
    return settings, parse_rules(settings["rules"], ("plugins", NAME, "rules"), config_file)


def contact_fields(contact: Any) -> dict[str, str]:
    """``contact_id``, ``channel``, ``queue``, ``customer``, ``agent`` of a ``ContactArrived``, ``ContactRecord``
    or mapping (missing ones are ``""``)."""
    def get(*names: str) -> str:
        for name in names:
            value = contact.get(name) if isinstance(contact, Mapping) else getattr(contact, name, None)
            if value:
                return str(value)
        return ""
    return {"contact_id": get("contact_id"), "channel": get("channel"), "queue": get("queue", "workflow"),
            "customer": get("customer"), "agent": get("agent_id", "agent")}


def last_update(ticket: Ticket) -> str:
    """What the caller hears as the ticket's latest news: the last note, else the last change."""
    for event in reversed(ticket.events):
        if event.note:
            return event.note
    if not ticket.events:
        return ""
    changes = ticket.events[-1].changes
    return "; ".join(f"{key} {old or 'none'} to {new}" if old is not None else f"{key} {new}"
                     for key, (old, new) in changes.items())


class TicketsPlugin:
    """See the module docstring."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.settings, self.rules = validate({})

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        try:
            self.settings, self.rules = validate(config)
        except ConfigError as exc:
            log.error("%s", exc)  # the manager logs only that the plugin raised
            raise
        self.store = store_of(config)

    @hookimpl
    def switchboard_unconfigure(self) -> None:
        self.store = None

    def department_for(self, fields: Mapping[str, str], subject: str, attributes: Mapping[str, Any]) -> str:
        return route(self.rules, self.settings["default_department"], channel=fields["channel"],
                     queue=fields["queue"], subject=subject, attributes=attributes)

    @hookimpl
    def ticket_create(self, contact: Any, subject: str, department: str | None, note: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        fields = contact_fields(contact)
        customer = None
        if fields["customer"]:
            try:
                kind, value = guess_identity(fields["customer"], fields["channel"] or None)
                customer = self.store.find_or_create_customer(kind, value)
            except StoreError as exc:
                log.warning("tickets: contact %s: customer %r not linked: %s", fields["contact_id"],
                            fields["customer"], exc)
        target = department or self.department_for(fields, subject or "", customer.attributes if customer else {})
        try:
            ticket = self.store.create_ticket(customer.id if customer else None, target, subject,
                                              contact_id=fields["contact_id"], note=note or "", who=fields["agent"])
        except StoreError as exc:
            return {"error": str(exc)}
        log.info("tickets: %s created for contact %s in %s", ticket.reference, fields["contact_id"], target)
        return ticket.to_dict()

    @hookimpl
    def ticket_lookup(self, reference: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        try:
            found = self.store.find_ticket(reference)
        except StoreError:
            return None
        return None if found is None else found.to_dict()

    @hookimpl
    def ticket_update(self, reference: str, status: str | None, assignee: str | None, note: str,
                      who: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        try:
            current = self.store.find_ticket(reference)
        except StoreError:
            return None
        if current is None:
            return None
        try:
            return self.store.update_ticket(reference, status=status, assignee=assignee, note=note or "",
                                            who=who or "").to_dict()
        except StoreError as exc:
            return {**current.to_dict(), "error": str(exc)}

    @hookimpl
    def tickets_open(self, customer: str) -> list[dict[str, Any]] | None:
        if self.store is None:
            return None
        found = find(self.store, customer)
        if found is None:
            return None
        return [t.to_dict() for t in self.store.open_tickets(found.id)]

    @hookimpl
    def ivr_self_service(self, step: str, contact: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if self.store is None or step != self.settings["ivr_step"]:
            return None
        heard = str((inputs or {}).get("reference") or (inputs or {}).get("digits") or "").strip()
        try:
            ticket = self.store.find_ticket(heard)
        except StoreError:
            ticket = None
        if ticket is None:
            return {"step": step, "found": False, "prompt": "ticket-not-found", "variables": {"reference": heard}}
        return {"step": step, "found": True, "prompt": "ticket-status",
                "variables": {"reference": ticket.reference, "status": ticket.status,
                              "department": ticket.department, "updated": ticket.updated,
                              "last_update": last_update(ticket)}}
