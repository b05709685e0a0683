"""Campaigns, lead imports and leads through the real server: changes reach the running dialer at once, imports
never store a number twice, and what the CLI stored is handed over on a lead sync."""

from __future__ import annotations

from pathlib import Path

import trio

from engine import lead_handover
from engine.leads import parse_leads
from tests.admin_api.server import running_api

TIMEOUT_S = 30.0
LEADS = "phone,name,priority\n+44 20 7946 0000,Ann,5\n+44 20 7946 0001,Bob,\nnot-a-number,Cid,\n"


def _known(api, campaign: str, lead_id: str) -> bool:
    try:
        api.runtime.acd.dialer.lead(campaign, lead_id)
    except KeyError:
        return False
    return True


async def test_campaigns_are_created_changed_and_deactivated_live(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        dialer = api.runtime.acd.dialer
        with trio.fail_after(TIMEOUT_S):
            made = await admin.post("/v1/campaigns", {"id": "renew", "queue": "sales", "mode": "progressive",
                                                      "calling_hours": [540, 1200], "retry_s": {"busy": 300}})
            assert made.status == 201, made.body
            assert made.json()["retry_s"]["busy"] == 300 and made.json()["retry_s"]["no-answer"] == 3600
            assert dialer.campaign("renew").calling_hours == (540, 1200)
            assert (await admin.post("/v1/campaigns", {"id": "renew", "queue": "sales"})).status == 409
            seq = api.runtime.seq
            no_queue = await admin.post("/v1/campaigns", {"id": "x", "queue": "nope"})
            assert no_queue.status == 422 and "unknown queue" in no_queue.reason
            backwards = await admin.post("/v1/campaigns", {"id": "x", "queue": "sales", "calling_hours": [600, 500]})
            assert backwards.status == 422 and backwards.reason.startswith("body.calling_hours")
            assert (await admin.post("/v1/campaigns", {"id": "x", "queue": "sales", "mode": "psychic"})).status == 422
            assert (await admin.post("/v1/campaigns", {"id": "x", "queue": "sales", "colour": "red"})).status == 422
            assert api.runtime.seq == seq and [c.id for c in dialer.campaigns()] == ["renew"]  # nothing written
            got = await admin.get("/v1/campaigns/renew")
            changed = await admin.patch("/v1/campaigns/renew", {"mode": "power", "power_ratio": 1.5},
                                        headers={"If-Match": got.headers["etag"]})
            assert changed.status == 200 and dialer.campaign("renew").mode == "power"
            stale = await admin.patch("/v1/campaigns/renew", {"mode": "preview"},
                                      headers={"If-Match": got.headers["etag"]})
            assert stale.status == 412 and dialer.campaign("renew").mode == "power"
            off = await admin.patch("/v1/campaigns/renew", {"active": False})
            assert off.json()["active"] is False and dialer.campaign("renew").active is False
            assert [c["id"] for c in (await admin.get("/v1/campaigns?active=false")).json()["items"]] == ["renew"]
            assert (await admin.get("/v1/campaigns?active=true")).json()["items"] == []
            sup = api.as_("supervisor")
            assert (await sup.get("/v1/campaigns/renew")).status == 200
            assert (await sup.patch("/v1/campaigns/renew", {"active": True})).status == 403
            assert (await api.as_("agent").get("/v1/campaigns")).status == 403
            figures = (await sup.get("/v1/campaigns/renew/figures")).json()
            assert figures["mode"] == "power" and figures["total"]["dials"] == 0 and figures["leads"]["new"] == 0
            assert (await admin.get("/v1/campaigns/nope/figures")).status == 404
        actions = [e.action for e in reversed(api.store.audit(target="campaign:renew"))]
        assert actions == ["create", "update", "update"]


async def test_lead_imports_reach_the_dialer_and_nothing_is_imported_twice(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            await admin.post("/v1/campaigns", {"id": "renew", "queue": "sales", "mode": "progressive"})
            sup = api.as_("supervisor")
            first = await sup.request("POST", "/v1/campaigns/renew/lead-imports?source=june.csv&region=GB",
                                      body=LEADS, content_type="text/csv")
            assert first.status == 201, first.body
            result = first.json()
            assert (result["rows"], result["imported"], result["rejected"], result["handed_to_dialer"]) == (3, 2, 1, 2)
            assert [(e["line"], e["column"]) for e in result["errors"]] == [(4, "phone")]
            assert _known(api, "renew", "442079460000") and _known(api, "renew", "442079460001")
            again = (await sup.request("POST", "/v1/campaigns/renew/lead-imports", body=LEADS,
                                       content_type="text/csv")).json()
            assert (again["imported"], again["handed_to_dialer"], again["same_file_as"]) == (0, 0, result["import_id"])
            assert "already imported" in again["errors"][0]["reason"]

            # What `switchboard leads import` does while the server runs: the store only.
            parsed = parse_leads("phone\n+1 208 555 0100\n", "renew")
            api.store.import_leads("renew", parsed, source="cli.csv")
            assert not _known(api, "renew", "12085550100")
            synced = await sup.post("/v1/campaigns/renew/lead-sync")
            assert synced.json() == {"handed_to_dialer": 1} and _known(api, "renew", "12085550100")
            assert (await sup.post("/v1/campaigns/renew/lead-sync")).json() == {"handed_to_dialer": 0}

            page = (await sup.get("/v1/campaigns/renew/leads?status=new&limit=2")).json()
            rest = (await sup.get(f"/v1/campaigns/renew/leads?status=new&limit=2&cursor={page['next_cursor']}"))
            phones = [lead["phone"] for lead in page["items"] + rest.json()["items"]]
            assert phones == ["+442079460000", "+442079460001", "+12085550100"]
            assert rest.json()["next_cursor"] is None and page["items"][0]["fields"] == {"name": "Ann"}
            every = (await sup.get("/v1/campaigns/renew/leads")).json()["items"]
            assert {lead["status"] for lead in every} == {"new"}
            assert (await sup.get("/v1/campaigns/renew/lead-counts")).json()["new"] == 3
            imports = (await sup.get("/v1/campaigns/renew/lead-imports")).json()["items"]
            assert [(i["source"], i["imported"], i["error_count"]) for i in imports] == [
                ("june.csv", 2, 1), ("api", 0, 3), ("cli.csv", 1, 0)]
            one = (await sup.get(f"/v1/campaigns/renew/lead-imports/{imports[0]['import_id']}")).json()
            assert one["errors"][0]["line"] == 4
            assert (await sup.get("/v1/campaigns/renew/lead-imports/99")).status == 404

            seq = api.runtime.seq
            no_phone = await sup.request("POST", "/v1/campaigns/renew/lead-imports", body="name\nAnn\n",
                                         content_type="text/csv")
            assert no_phone.status == 422 and "phone" in no_phone.reason
            wrong_type = await sup.request("POST", "/v1/campaigns/renew/lead-imports", json={"phone": "+1"})
            assert wrong_type.status == 415
            unknown = await sup.request("POST", "/v1/campaigns/nope/lead-imports", body=LEADS,
                                        content_type="text/csv")
            assert unknown.status == 404
            assert (await api.as_("agent").request("POST", "/v1/campaigns/renew/lead-imports", body=LEADS,
                                                   content_type="text/csv")).status == 403
            assert api.runtime.seq == seq and len(api.store.lead_imports("renew")) == 3
        audit = [(e.action, e.details.get("imported", e.details.get("handed_to_dialer")))
                 for e in reversed(api.store.audit(target="campaign:renew"))]
        assert audit == [("create", None), ("import-leads", 2), ("import-leads", 0), ("sync-leads", 1),
                         ("sync-leads", 0)]


async def test_a_new_campaign_takes_the_leads_the_cli_stored_before_it(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        api.store.import_leads("later", parse_leads("phone\n+14155550100\n", "later"))
        with trio.fail_after(TIMEOUT_S):
            made = await api.client.post("/v1/campaigns", {"id": "later", "queue": "sales", "active": False})
            assert made.status == 201
        assert _known(api, "later", "14155550100")
        assert api.store.audit(target="campaign:later")[0].details["leads_handed"] == 1
        # What `switchboard serve` does at start, for every campaign: the CLI's leads of meanwhile.
        api.store.import_leads("later", parse_leads("phone\n+12025550143\n", "later"))
        assert await lead_handover.sync_all(api.runtime, api.store) == {"later": 1}
        assert _known(api, "later", "12025550143")
        assert await lead_handover.sync_all(api.runtime, api.store) == {"later": 0}
