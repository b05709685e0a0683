"""Tickets through the real server: opened, moved along their statuses, noted and reassigned with who did it;
an agent reaches its own, its contacts' and their customers' tickets only."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.admin_api.test_contacts_api import ADA, center_with_contacts

TIMEOUT_S = 30.0


async def test_tickets_are_opened_moved_and_noted_with_who_did_it(tmp_path: Path) -> None:
    async with center_with_contacts(tmp_path) as api:
        admin, agent = api.client, api.as_("agent")
        with trio.fail_after(TIMEOUT_S):
            opened = await agent.post("/v1/tickets", {"department": "billing", "subject": "Refund", "contact_id": "c1",
                                                      "note": "promised a call back"})
            assert opened.status == 201, opened.body
            ticket = opened.json()
            ada = api.store.find_customer("phone", ADA)
            assert ticket["customer_id"] == ada.id and ticket["contact_id"] == "c1"
            assert ticket["events"][0]["who"] == "token:test-agent"
            ref = ticket["reference"]
            tag = (await agent.get(f"/v1/tickets/{ref}")).headers["etag"]
            pending = await agent.patch(f"/v1/tickets/{ref}", {"status": "pending", "note": "waiting for the bank"},
                                        headers={"If-Match": tag})
            assert pending.status == 200 and pending.json()["status"] == "pending"
            assert (await agent.patch(f"/v1/tickets/{ref}", {"note": "x"}, headers={"If-Match": tag})).status == 412
            assert (await agent.patch(f"/v1/tickets/{ref}", {"assignee": "a2"})).status == 403
            moved = await admin.patch(f"/v1/tickets/{ref}", {"assignee": "a2", "department": "support"})
            assert moved.json()["assignee"] == "a2" and moved.json()["events"][-1]["who"] == "token:test-admin"
            closed = await admin.patch(f"/v1/tickets/{ref}", {"status": "closed"})
            assert closed.json()["status"] == "closed"
            final = await admin.patch(f"/v1/tickets/{ref}", {"status": "open"})
            assert final.status == 422 and "final" in final.reason
            nothing = await admin.patch(f"/v1/tickets/{ref}", {"department": "support"})
            assert nothing.status == 422 and "nothing to change" in nothing.reason
            staff = await admin.post("/v1/tickets", {"department": "sales", "subject": "Upgrade",
                                                     "customer_id": ada.id, "assignee": "a3"})
            assert staff.status == 201 and staff.json()["contact_id"] == ""
            bad_customer = await admin.post("/v1/tickets", {"department": "sales", "subject": "x", "customer_id": 99})
            assert bad_customer.status == 422 and bad_customer.reason.startswith("body.customer_id")
            assert (await admin.post("/v1/tickets", {"department": "sales"})).status == 422
            assert (await admin.get("/v1/tickets/T-999999")).status == 404
            assert (await admin.get("/v1/tickets/garbage")).status == 404
        history = [e.action for e in reversed(api.store.audit(target=f"ticket:{ref}"))]
        assert history == ["create", "update", "update", "update"]
        assert [e.who for e in api.store.ticket(ref).events] == [
            "token:test-agent", "token:test-agent", "token:test-admin", "token:test-admin"]


async def test_an_agent_sees_only_its_own_its_contacts_and_their_customers_tickets(tmp_path: Path) -> None:
    async with center_with_contacts(tmp_path) as api:
        admin, agent = api.client, api.as_("agent")
        with trio.fail_after(TIMEOUT_S):
            # T-000001 (Ada's, of c1, from the fixture) is a1's through its contact and its customer.
            await admin.post("/v1/tickets", {"department": "support", "subject": "of c2", "contact_id": "c2"})
            await admin.post("/v1/tickets", {"department": "support", "subject": "for a1", "assignee": "a1"})
            await admin.post("/v1/tickets", {"department": "support", "subject": "of c-live", "contact_id": "c-live"})
            await admin.post("/v1/tickets", {"department": "support", "subject": "of c3", "contact_id": "c3"})
            every = (await admin.get("/v1/tickets")).json()["items"]
            assert [t["subject"] for t in every] == ["of c3", "of c-live", "for a1", "of c2", "Invoice twice"]
            mine = (await agent.get("/v1/tickets")).json()["items"]
            assert [t["subject"] for t in mine] == ["of c-live", "for a1", "Invoice twice"]
            assert (await agent.get("/v1/tickets/T-000002")).status == 404
            assert (await agent.patch("/v1/tickets/T-000002", {"status": "resolved"})).status == 404
            assert api.store.ticket("T-000002").status == "open"
            refused = await agent.post("/v1/tickets", {"department": "support", "subject": "x", "contact_id": "c2"})
            assert refused.status == 422 and "contact_id" in refused.reason
            assert (await agent.post("/v1/tickets", {"department": "support", "subject": "x"})).status == 422
            sup = (await api.as_("supervisor").get("/v1/tickets?status=open&department=support&limit=2")).json()
            rest = (await api.as_("supervisor").get(f"/v1/tickets?status=open&department=support&limit=2"
                                                    f"&cursor={sup['next_cursor']}")).json()
            assert [t["subject"] for t in sup["items"] + rest["items"]] == ["of c3", "of c-live", "for a1", "of c2"]
            assert rest["next_cursor"] is None
            assert [t["subject"] for t in (await admin.get("/v1/tickets?assignee=a1")).json()["items"]] == ["for a1"]
            assert len((await admin.get("/v1/tickets?customer_id=1")).json()["items"]) == 1
            assert (await admin.get("/v1/tickets?status=lost")).status == 400
        assert len(api.store.tickets()) == 5
