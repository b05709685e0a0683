"""Listing tickets with filters and an agent's scope (``Store.tickets``; the ``store`` fixture's backend)."""

from __future__ import annotations

import pytest

from engine.errors import StoreError
from engine.store import Interaction
from engine.store.access_records import Cdr


def _cdr(contact_id: str, agents: tuple[str, ...]) -> Cdr:
    return Cdr(contact_id, "voice", "+15550100", "sales", agents[0] if agents else "", 1.0, 2.0, 3.0, "served",
               recorded=4.0, agents=agents)


def test_filters_and_keyset_paging(store) -> None:
    ada = store.find_or_create_customer("phone", "+15550100")
    for n in range(5):
        store.create_ticket(ada.id if n % 2 else None, "billing" if n < 3 else "support", f"t{n}",
                            assignee="a1" if n == 4 else "")
    store.update_ticket("T-000002", status="pending")
    assert [t.subject for t in store.tickets()] == ["t4", "t3", "t2", "t1", "t0"]
    assert [t.subject for t in store.tickets(department="billing")] == ["t2", "t1", "t0"]
    assert [t.subject for t in store.tickets(status="pending")] == ["t1"]
    assert [t.subject for t in store.tickets(customer_id=ada.id)] == ["t3", "t1"]
    assert [t.subject for t in store.tickets(assignee="a1")] == ["t4"]
    assert [t.subject for t in store.tickets(reference="t-3")] == ["t2"]
    first = store.tickets(limit=2)
    rest = store.tickets(before=int(first[-1].reference[2:]), limit=10)
    assert [t.subject for t in first + rest] == ["t4", "t3", "t2", "t1", "t0"]
    assert store.tickets(reference="T-000001")[0].events[0].changes["status"] == [None, "open"]


def test_an_agent_sees_its_own_its_contacts_and_their_customers_tickets(store) -> None:
    ada = store.find_or_create_customer("phone", "+15550100")
    bob = store.find_or_create_customer("phone", "+15550199")
    store.add_cdrs([_cdr("c1", ("a1",)), _cdr("c2", ("a2",))])
    store.record_interaction(Interaction("c1", ada.id, "voice", agent="a1"))
    store.create_ticket(None, "support", "assigned", assignee="a1")
    store.create_ticket(None, "support", "of its contact", contact_id="c1")
    store.create_ticket(ada.id, "support", "of its customer")
    store.create_ticket(bob.id, "support", "of someone else's customer", contact_id="c2")
    store.create_ticket(None, "support", "of a live contact", contact_id="live-1")
    store.create_ticket(bob.id, "support", "of a live contact's customer")
    assert [t.subject for t in store.tickets(seen_by_agent="a1")] == [
        "of its customer", "of its contact", "assigned"]
    widened = store.tickets(seen_by_agent="a1", also_contacts=["live-1"], also_customers=[bob.id])
    assert len(widened) == 6
    assert [t.subject for t in store.tickets(seen_by_agent="a2")] == ["of someone else's customer"]
    assert store.tickets(seen_by_agent="a1", reference="T-000004") == []


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"status": "lost"}, "status 'lost'"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
    ({"reference": "X9"}, "ticket reference"),
])
def test_bad_queries_are_refused(store, kwargs, match) -> None:
    with pytest.raises(StoreError, match=match):
        store.tickets(**kwargs)
