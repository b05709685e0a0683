"""The built-in tickets through a real PluginManager: creation from a contact, routing rules, updates with history,
IVR self-service status by reference, and configuration errors naming file:line:key."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.events import ContactArrived, ContactRecord
from engine.store import SqlStore
from engine.tomlfile import TomlFile
from plugins.builtin.tickets.plugin import validate
from plugins.builtin.tickets.routing import Rule, route
from plugins.manager import PluginManager
from tests.conftest import ManualClock

CENTER = """\
[plugins.tickets]
default_department = "support"

[[plugins.tickets.rules]]
department = "vip-desk"
attributes = { tier = "gold" }

[[plugins.tickets.rules]]
department = "billing"
keyword = ["invoice", "refund"]

[[plugins.tickets.rules]]
department = "sales-backoffice"
queue = "sales"
channel = ["voice", "chat"]
"""


@pytest.fixture
def tickets(store: SqlStore) -> PluginManager:
    toml = TomlFile.parse(CENTER, "center.toml")
    manager = PluginManager({**toml.data, "store": store, "config_file": toml}, autoload=False)
    manager.configure()
    assert manager.faults == {}
    return manager


def _create(manager: PluginManager, contact: Any, subject: str, department: str | None = None,
            note: str = "") -> dict[str, Any]:
    return manager.call("ticket_create", contact=contact, subject=subject, department=department, note=note)


def _update(manager: PluginManager, reference: str, *, status: str | None = None, assignee: str | None = None,
            note: str = "", who: str = "a1") -> dict[str, Any] | None:
    return manager.call("ticket_update", reference=reference, status=status, assignee=assignee, note=note, who=who)


def test_created_from_a_contact_in_one_call(tickets: PluginManager, store: SqlStore) -> None:
    arrived = ContactArrived("c1", channel="voice", queue="support", customer="+1 555 0100")
    ticket = _create(tickets, arrived, "Router keeps rebooting", note="since Monday")
    assert ticket["reference"] == "T-000001" and ticket["status"] == "open" and ticket["department"] == "support"
    assert ticket["contact_id"] == "c1" and ticket["created"] == 1000.0
    customer = store.find_customer("phone", "+15550100")
    assert customer is not None and ticket["customer_id"] == customer.id
    assert ticket["events"] == [{"at": 1000.0, "who": "", "note": "since Monday",
                                 "changes": {"status": [None, "open"], "department": [None, "support"]}}]
    record = ContactRecord("c2", "chat", "web-9", "sales", "a7", 0.0, 1.0, 2.0, "answered", "", "", (), {})
    from_record = _create(tickets, record, "Quote for 20 seats")
    assert from_record["department"] == "sales-backoffice" and from_record["events"][0]["who"] == "a7"
    from_mapping = _create(tickets, {"contact_id": "c3", "channel": "email", "customer": "bo@example.com"},
                           "Where is my REFUND?", department="escalations")
    assert from_mapping["department"] == "escalations"  # given explicitly: no routing
    assert _create(tickets, {"contact_id": "c4"}, "  ") == {"error": "ticket subject: empty"}
    assert tickets.faults == {}


def test_rules_route_first_match_wins(tickets: PluginManager, store: SqlStore) -> None:
    gold = store.find_or_create_customer("phone", "+15550111", attributes={"tier": "gold"})
    voice_gold = {"contact_id": "g1", "channel": "voice", "queue": "sales", "customer": "+15550111"}
    assert _create(tickets, voice_gold, "Invoice wrong")["department"] == "vip-desk"  # rule 1 before rule 2
    assert _create(tickets, {**voice_gold, "customer": "+15550122"}, "Invoice wrong")["department"] == "billing"
    assert _create(tickets, {**voice_gold, "customer": "+15550122"}, "Upgrade")["department"] == "sales-backoffice"
    by_email = {**voice_gold, "customer": "x@example.com", "channel": "email"}
    assert _create(tickets, by_email, "Upgrade")["department"] == "support"  # channel not in rule 3: default
    assert gold.id == 1


def test_route_conditions() -> None:
    rules = [Rule("a", channels=("chat",), keywords=("refund",)), Rule("b", queues=("q1", "q2")),
             Rule("c", attributes={"lang": "de"})]
    assert route(rules, "d", channel="chat", subject="A Refund please") == "a"
    assert route(rules, "d", channel="voice", subject="A Refund please") == "d"
    assert route(rules, "d", queue="q2") == "b"
    assert route(rules, "d", attributes={"lang": "de", "x": 1}) == "c"
    assert route(rules, "d", attributes={"lang": "fr"}) == "d"
    assert route([Rule("all")], "d") == "all"


def test_status_and_assignee_changes_keep_a_history(tickets: PluginManager, clock: ManualClock) -> None:
    ref = _create(tickets, {"contact_id": "c1", "channel": "voice", "customer": "+15550100"}, "Line dead")["reference"]
    clock.now = 1010.0
    assert _update(tickets, ref, assignee="bo", who="lead")["assignee"] == "bo"
    clock.now = 1020.0
    _update(tickets, ref, status="pending", note="technician booked", who="bo")
    clock.now = 1030.0
    done = _update(tickets, ref, status="resolved", who="bo")
    assert done["status"] == "resolved" and done["updated"] == 1030.0
    assert [(e["at"], e["who"], e["changes"], e["note"]) for e in done["events"][1:]] == [
        (1010.0, "lead", {"assignee": ["", "bo"]}, ""),
        (1020.0, "bo", {"status": ["open", "pending"]}, "technician booked"),
        (1030.0, "bo", {"status": ["pending", "resolved"]}, ""),
    ]
    _update(tickets, ref, status="closed")
    refused = _update(tickets, ref, status="open")
    assert refused["status"] == "closed"
    assert refused["error"] == "ticket T-000001 status: cannot go from 'closed' to 'open' (allowed: none, it is final)"
    assert "error" in _update(tickets, ref, status="archived")
    assert _update(tickets, "T-000099", status="open") is None
    assert _update(tickets, "not a ref", status="open") is None
    looked_up = tickets.call("ticket_lookup", reference="1")
    assert looked_up["reference"] == ref and len(looked_up["events"]) == 5
    assert tickets.call("ticket_lookup", reference="T-000099") is None
    assert tickets.faults == {}


def test_open_tickets_of_a_customer(tickets: PluginManager, store: SqlStore) -> None:
    contact = {"contact_id": "c1", "channel": "chat", "customer": "web-1"}
    first = _create(tickets, contact, "One")["reference"]
    second = _create(tickets, contact, "Two")["reference"]
    _update(tickets, first, status="resolved")
    assert [[t["reference"] for t in found] for found in tickets.call("tickets_open", customer="chat:web-1")] == [
        [second]]
    store.link_identity(1, "phone", "+15550100")
    assert tickets.call("tickets_open", customer="+15550100")[0][0]["reference"] == second
    assert tickets.call("tickets_open", customer="nobody@example.com") == []


async def test_ivr_self_service_ticket_status(tickets: PluginManager, clock: ManualClock) -> None:
    ref = _create(tickets, {"contact_id": "c1", "channel": "voice", "customer": "+15550100"}, "No signal")["reference"]
    clock.now = 2000.0
    _update(tickets, ref, status="pending", note="engineer visit on Friday")
    result = await tickets.acall("ivr_self_service", step="ticket-status", contact="c9", inputs={"digits": "1"})
    assert result == {"step": "ticket-status", "found": True, "prompt": "ticket-status",
                      "variables": {"reference": "T-000001", "status": "pending", "department": "support",
                                    "updated": 2000.0, "last_update": "engineer visit on Friday"}}
    for inputs in ({"digits": "4242"}, {"digits": "12#*"}, {}, {"reference": "T-000007"}):
        missing = await tickets.acall("ivr_self_service", step="ticket-status", contact="c9", inputs=inputs)
        assert missing["found"] is False and missing["prompt"] == "ticket-not-found"
    assert await tickets.acall("ivr_self_service", step="balance", contact="c9", inputs={}) is None
    assert tickets.faults == {}


def test_ivr_last_update_without_note_says_what_changed(tickets: PluginManager) -> None:
    ref = _create(tickets, {"contact_id": "c1"}, "Quiet")["reference"]
    _update(tickets, ref, status="resolved")
    result = tickets.call("ivr_self_service", step="ticket-status", contact="c1", inputs={"reference": ref})
    assert result["variables"]["last_update"] == "status open to resolved"


@pytest.mark.parametrize("body, message", [
    ('[plugins.tickets]\ndefault_departement = "x"\n',
     "center.toml:3: plugins.tickets.default_departement: unknown key (expected one of default_department, "
     "ivr_step, rules)"),
    ('[plugins.tickets]\ndefault_department = 3\n',
     "center.toml:3: plugins.tickets.default_department: expected a department queue name, got 3"),
    ('[[plugins.tickets.rules]]\ndepartment = "a"\n\n[[plugins.tickets.rules]]\nkeywords = "refund"\n',
     "center.toml:6: plugins.tickets.rules.1.keywords: unknown key"),
    ('[[plugins.tickets.rules]]\nqueue = "sales"\n', "center.toml:2: plugins.tickets.rules.0.department: missing"),
    ('[[plugins.tickets.rules]]\ndepartment = "a"\nkeyword = ["ok", 7]\n',
     "center.toml:4: plugins.tickets.rules.0.keyword.1: expected a non-empty string, got 7"),
    ('[plugins.tickets]\nrules = "billing"\n',
     "center.toml:3: plugins.tickets.rules: expected a list of rule tables"),
    ('[plugins]\ntickets = true\n', "center.toml:3: plugins.tickets: expected a table, got True"),
])
def test_bad_config_names_file_line_and_key(body: str, message: str, store: SqlStore,
                                            caplog: pytest.LogCaptureFixture) -> None:
    toml = TomlFile.parse("# center\n" + body, "center.toml")
    config = {**toml.data, "store": store, "config_file": toml}
    with pytest.raises(ConfigError) as caught:
        validate(config)
    assert message in str(caught.value)
    manager = PluginManager(config, autoload=False)
    with caplog.at_level(logging.ERROR):
        manager.configure()  # at startup: the message is logged, the fault counted, the engine goes on
    assert message in caplog.text and manager.faults["tickets"] == 1


def test_without_a_file_the_key_is_still_named() -> None:
    with pytest.raises(ConfigError, match=r"^plugins\.tickets\.rules\.0\.channel: expected a channel name"):
        validate({"plugins": {"tickets": {"rules": [{"department": "a", "channel": 5}]}}})
