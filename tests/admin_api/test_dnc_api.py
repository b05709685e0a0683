"""Do-not-call lists through the real server: numbers added, checked, listed, imported and removed, every change
audited, each role reaching what it should."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.admin_api.server import running_api

TIMEOUT_S = 30.0


async def test_numbers_are_added_checked_listed_and_removed(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        agent, sup, admin = api.as_("agent"), api.as_("supervisor"), api.client
        with trio.fail_after(TIMEOUT_S):
            added = await agent.post("/v1/dnc-lists/blocked/numbers", {"number": "020 7946 0000", "region": "GB",
                                                                       "reason": "asked on the call"})
            assert added.status == 200 and added.json() == {"list": "blocked", "number": "+442079460000",
                                                            "added": True}
            again = await agent.post("/v1/dnc-lists/blocked/numbers", {"number": "+442079460000"})
            assert again.json()["added"] is False
            await sup.post("/v1/dnc-lists/campaign:renew/numbers", {"number": "+442079460000"})
            check = await agent.get("/v1/dnc-checks/+442079460000")
            assert check.json() == {"number": "+442079460000", "lists": ["blocked", "campaign:renew"]}
            assert (await agent.get("/v1/dnc-checks/%2B14155550100")).json()["lists"] == []
            assert api.store.dnc_lists_for("+442079460000") == {"blocked", "campaign:renew"}
            listed = (await sup.get("/v1/dnc-lists/blocked/numbers")).json()["items"]
            assert [(e["number"], e["reason"], e["source"]) for e in listed] == [
                ("+442079460000", "asked on the call", "api:test-agent")]
            assert (await agent.get("/v1/dnc-lists/blocked/numbers")).status == 403
            assert (await sup.delete("/v1/dnc-lists/blocked/numbers/+442079460000")).status == 403
            assert (await admin.delete("/v1/dnc-lists/blocked/numbers/+442079460000")).status == 204
            assert (await admin.delete("/v1/dnc-lists/blocked/numbers/+442079460000")).status == 404
            assert api.store.dnc_lists_for("+442079460000") == {"campaign:renew"}

            bad = await agent.post("/v1/dnc-lists/global/numbers", {"number": "12"})
            assert bad.status == 422 and bad.reason.startswith("body.number:")
            assert (await agent.post("/v1/dnc-lists/nonsense/numbers", {"number": "+442079460000"})).status == 404
            assert (await agent.get("/v1/dnc-checks/not-a-number")).status == 422
        audit = [(e.who, e.action, e.target) for e in reversed(api.store.audit())]
        assert audit == [("token:test-agent", "dnc-add", "dnc:blocked"), ("token:test-agent", "dnc-add", "dnc:blocked"),
                         ("token:test-supervisor", "dnc-add", "dnc:campaign:renew"),
                         ("token:test-admin", "dnc-remove", "dnc:blocked")]
        assert api.store.dnc_entries("global") == []


async def test_a_file_of_numbers_is_imported_with_its_bad_lines_reported(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        sup = api.as_("supervisor")
        with trio.fail_after(TIMEOUT_S):
            text = "# complaints\n+442079460000\n020 7946 0001\nnonsense\n\n+14155550100\n"
            done = await sup.request("POST", "/v1/dnc-lists/global/imports?region=GB&source=ofcom.txt", body=text,
                                     content_type="text/csv")
            assert done.status == 201, done.body
            result = done.json()
            assert (result["added"], result["invalid"]) == (3, 1) and result["errors"][0]["line"] == 4
            page = (await sup.get("/v1/dnc-lists/global/numbers?limit=2")).json()
            rest = (await sup.get(f"/v1/dnc-lists/global/numbers?limit=2&cursor={page['next_cursor']}")).json()
            assert len(page["items"] + rest["items"]) == 3 and rest["next_cursor"] is None
            no_phone = await sup.request("POST", "/v1/dnc-lists/global/imports", body="name,city\nAnn,Leeds\n",
                                         content_type="text/csv")
            assert no_phone.status == 422 and "phone" in no_phone.reason
            assert (await api.as_("agent").request("POST", "/v1/dnc-lists/global/imports", body=text,
                                                   content_type="text/csv")).status == 403
        assert len(api.store.dnc_entries("global")) == 3
        entry = api.store.audit(target="dnc:global")
        assert [(e.action, e.details["added"]) for e in entry] == [("dnc-import", 3)]
