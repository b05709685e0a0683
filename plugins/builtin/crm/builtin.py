"""The built-in CRM (plugin ``"crm"``): customers, identities and history in the engine's store.

Until ``switchboard_configure`` hands it a store (``config["store"]``) it knows nobody: every hook returns
``None`` / nothing, so registering it costs nothing. Configuration (``[plugins.crm]``, all optional)::

    history_limit = 20     # interactions returned by crm_history, newest first

Customer strings (``crm_lookup``'s ``customer``, a ``ContactRecord``'s ``customer``) are resolved to an identity
by ``engine.store.guess_identity``: ``kind:value`` explicitly, else the contact's channel (voice -> phone, email ->
email, chat -> chat), else the shape of the string.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.errors import ConfigError, StoreError
from engine.events import ContactRecord
from engine.store import Customer, Interaction, Store, guess_identity
from plugins import hookimpl
from plugins.builtin.crm.section import Key, plugin_section, positive, validate_section

log = logging.getLogger("switchboard.crm")

NAME = "crm"
KEYS = {"history_limit": Key((int,), "a positive integer", 20, positive)}


def store_of(config: Any) -> Store | None:
    """The blocking store in ``config["store"]`` (a ``Store``, or an ``AsyncStore`` whose ``sync`` is used:
    hooks run in worker threads, where blocking is allowed)."""
    store = config.get("store") if hasattr(config, "get") else None
    store = getattr(store, "sync", store)
    return store if isinstance(store, Store) else None


def validate(config: Any) -> dict[str, Any]:
    """The ``crm`` section with defaults; ``ConfigError`` naming file:line:key. Call it at startup to stop on a
    bad configuration (``switchboard_configure``'s errors are only logged)."""
    section, config_file = plugin_section(config, NAME)
    return validate_section(section or {}, KEYS, ("plugins", NAME), config_file)


def find(store: Store, customer: str, channel: str | None = None) -> Customer | None:
    """The customer a customer string names, or ``None`` (unknown, empty or malformed)."""
    try:
        kind, value = guess_identity(customer, channel)
        return store.find_customer(kind, value)
    except StoreError as exc:
        log.debug("crm: no lookup for %r: %s", customer, exc)
        return None


def customer_record(customer: Customer, source: str = NAME) -> dict[str, Any]:
    """The screen-pop record of a customer: ``customer_id``, ``name``, ``attributes``, ``identities``, ``source``."""
    data = customer.to_dict()
    return {"customer_id": data["id"], "name": data["name"], "attributes": data["attributes"],
            "identities": data["identities"], "source": source}


class CrmPlugin:
    """See the module docstring."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.settings: dict[str, Any] = validate({})

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        try:
            self.settings = validate(config)
        except ConfigError as exc:
            log.error("%s", exc)  # the manager logs only that the plugin raised
            raise
        self.store = store_of(config)

    @hookimpl
    def switchboard_unconfigure(self) -> None:
        self.store = None

    @hookimpl
    def crm_lookup(self, customer: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        found = find(self.store, customer)
        return None if found is None else customer_record(found)

    @hookimpl
    def crm_history(self, customer: str) -> list[dict[str, Any]] | None:
        if self.store is None:
            return None
        found = find(self.store, customer)
        if found is None:
            return None
        return [{**i.to_dict(), "source": NAME} for i in self.store.history(found.id, self.settings["history_limit"])]

    @hookimpl
    def crm_write_back(self, contact_record: Any) -> None:
        if self.store is None or not isinstance(contact_record, ContactRecord):
            return
        record = contact_record
        interaction = Interaction(record.contact_id, None, record.channel, record.queue, record.agent_id,
                                  record.arrived, record.answered, record.ended, record.outcome,
                                  record.disposition, record.notes, dict(record.data))
        identity = None
        if record.customer:
            try:
                identity = guess_identity(record.customer, record.channel)
            except StoreError as exc:
                log.warning("crm: contact %s: customer %r not recorded: %s", record.contact_id, record.customer,
                            exc)
        if identity is None:
            self.store.record_interaction(interaction)
        else:  # one transaction per contact: write-backs come at the rate contacts end
            self.store.record_customer_interaction(identity[0], identity[1], interaction)

