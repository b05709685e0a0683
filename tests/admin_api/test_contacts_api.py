"""Live contacts, CDRs, screen pops and customers through the real server, scoped by role: an agent reaches only
the contacts offered to it and their customers; a supervisor those of its teams (and those no agent had)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from engine.events import AgentLogin, AgentReady, ContactArrived
from engine.store import Interaction
from engine.store.access_records import Cdr
from tests.admin_api.server import Api, running_api

TIMEOUT_S = 30.0
ADA = "+442079460001"


def _cdr(contact_id: str, agents: tuple[str, ...], recorded: float, *, queue: str = "sales",
         customer: str = "+442079460009", outcome: str = "served") -> Cdr:
    return Cdr(contact_id, "voice", customer, queue, agents[-1] if agents else "", recorded - 60,
               recorded - 50 if agents else None, recorded - 10, outcome, recorded=recorded, agents=agents)


@asynccontextmanager
async def center_with_contacts(tmp_path: Path) -> AsyncIterator[Api]:
    """Live: ``c-live`` offered to a1, ``c-wait`` waiting in billing (no agent yet). Recorded: c1 (a1, customer
    Ada, who has an open ticket), c2 (a2), c3 (offered to a2, served by a3), c4 (abandoned, no agent)."""
    async with running_api(tmp_path) as api:
        api.engine.plugins.configure({"store": api.store})  # the built-in CRM and tickets read the test's store
        await api.runtime.submit(AgentLogin("a1"))
        await api.runtime.submit(AgentReady("a1"))
        await api.runtime.submit(ContactArrived("c-live", "voice", queue="sales", customer="+442079460000"))
        await api.runtime.submit(ContactArrived("c-wait", "voice", queue="billing", customer="+14155550100"))
        api.store.add_cdrs([_cdr("c1", ("a1",), 100.0, customer=ADA), _cdr("c2", ("a2",), 200.0, queue="support"),
                            _cdr("c3", ("a2", "a3"), 300.0, queue="billing"),
                            _cdr("c4", (), 400.0, outcome="abandoned")])
        ada = api.store.find_or_create_customer("phone", ADA, name="Ada")
        api.store.record_interaction(Interaction("c1", ada.id, "voice", "sales", "a1", 40.0))
        api.store.create_ticket(ada.id, "billing", "Invoice twice", contact_id="c1")
        yield api


async def test_an_agent_reaches_only_the_contacts_offered_to_it(tmp_path: Path) -> None:
    async with center_with_contacts(tmp_path) as api:
        agent = api.as_("agent")
        with trio.fail_after(TIMEOUT_S):
            live = (await agent.get("/v1/contacts")).json()["items"]
            assert [(c["contact_id"], c["state"], c["agents"]) for c in live] == [("c-live", "offered", ["a1"])]
            assert (await agent.get("/v1/contacts/c-live")).json()["live"] is True
            mine = (await agent.get("/v1/contacts/c1")).json()
            assert mine["live"] is False and mine["outcome"] == "served"
            for path in ("/v1/contacts/c2", "/v1/contacts/c-wait", "/v1/cdrs/c2", "/v1/cdrs/c4",
                         "/v1/contacts/c2/customer", "/v1/contacts/c3/customer", "/v1/contacts/nope"):
                refused = await agent.get(path)
                assert refused.status == 404, (path, refused.body)
            assert [c["contact_id"] for c in (await agent.get("/v1/cdrs")).json()["items"]] == ["c1"]
            assert (await agent.get("/v1/cdrs?agent=a2")).json()["items"] == []
            pop = (await agent.get("/v1/contacts/c1/customer")).json()
            assert pop["customer"]["name"] == "Ada" and pop["tickets"][0]["subject"] == "Invoice twice"
            assert pop["history"][0]["contact_id"] == "c1"
            offered = await agent.get("/v1/contacts/c-live/customer")
            assert offered.status == 200 and offered.json()["query"] == "+442079460000"
            assert (await agent.get("/v1/customers/1")).status == 403


async def test_a_supervisor_sees_its_teams_contacts_and_those_no_agent_had(tmp_path: Path) -> None:
    async with center_with_contacts(tmp_path) as api:
        sup = api.as_("supervisor")
        with trio.fail_after(TIMEOUT_S):
            assert [c["contact_id"] for c in (await sup.get("/v1/contacts")).json()["items"]] == ["c-live", "c-wait"]
            seen = [c["contact_id"] for c in (await sup.get("/v1/cdrs")).json()["items"]]
            assert seen == ["c1", "c2", "c3", "c4"]  # c3 was offered to a2 (east) before a3 (west) served it
            api.store.add_cdrs([_cdr("c5", ("a3",), 500.0)])
            assert (await sup.get("/v1/cdrs/c5")).status == 404
            assert (await sup.get("/v1/contacts/c5")).status == 404
            assert "c5" not in [c["contact_id"] for c in (await sup.get("/v1/cdrs")).json()["items"]]
            assert (await api.client.get("/v1/cdrs/c5")).status == 200
            customer = (await sup.get("/v1/customers/1")).json()
            assert customer["name"] == "Ada" and customer["open_tickets"][0]["reference"] == "T-000001"
            assert customer["history"][0]["contact_id"] == "c1"
            assert (await sup.get("/v1/customers/99")).status == 404


async def test_cdrs_are_filtered_paged_by_key_and_exported(tmp_path: Path) -> None:
    async with center_with_contacts(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            first = (await admin.get("/v1/cdrs?limit=3")).json()
            rest = (await admin.get(f"/v1/cdrs?limit=3&cursor={first['next_cursor']}")).json()
            assert [c["contact_id"] for c in first["items"] + rest["items"]] == ["c1", "c2", "c3", "c4"]
            assert rest["next_cursor"] is None
            exact = (await admin.get("/v1/cdrs?limit=4")).json()
            assert exact["next_cursor"] is None
            assert [c["contact_id"] for c in (await admin.get("/v1/cdrs?agent=a2")).json()["items"]] == ["c2", "c3"]
            window = (await admin.get("/v1/cdrs?since=200&until=400")).json()["items"]
            assert [c["contact_id"] for c in window] == ["c2", "c3"]
            assert [c["contact_id"] for c in (await admin.get("/v1/cdrs?outcome=abandoned")).json()["items"]] == ["c4"]
            assert [c["contact_id"] for c in (await admin.get(f"/v1/cdrs?customer=%2B{ADA[1:]}")).json()["items"]] == [
                "c1"]
            assert (await admin.get("/v1/cdrs?queue=billing&channel=voice")).json()["items"][0]["contact_id"] == "c3"
            exported = await admin.get("/v1/cdrs?format=csv")
            assert exported.status == 200 and exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.body.decode())))
            assert [r["contact_id"] for r in rows] == ["c1", "c2", "c3", "c4"]
            assert rows[2]["agents"] == "a2;a3" and rows[0]["recorded"] == "1970-01-01T00:01:40Z"
            agent_csv = await api.as_("agent").get("/v1/cdrs?format=csv")
            assert [r["contact_id"] for r in csv.DictReader(io.StringIO(agent_csv.body.decode()))] == ["c1"]
            assert (await admin.get("/v1/cdrs?cursor=bm9wZQ")).status == 400
            assert (await admin.get("/v1/cdrs?format=xml")).status == 400
            assert (await admin.get("/v1/cdrs?since=soon")).status == 400
