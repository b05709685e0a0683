"""Agents, skills, queues and workflows through the real server: changes apply live, are journaled and audited,
and each role reaches what it should."""

from __future__ import annotations

from pathlib import Path

import trio

from engine.events import ContactArrived
from tests.admin_api.server import running_api

TIMEOUT_S = 30.0


async def test_agents_are_scoped_by_role(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            every = (await api.client.get("/v1/agents")).json()["items"]
            east = (await api.as_("supervisor").get("/v1/agents")).json()["items"]
            mine = (await api.as_("agent").get("/v1/agents")).json()["items"]
            assert [a["id"] for a in every] == ["a1", "a2", "a3"]
            assert [a["id"] for a in east] == ["a1", "a2"]
            assert [a["id"] for a in mine] == ["a1"] and mine[0]["state"]["state"] == "logged-out"
            assert (await api.as_("agent").get("/v1/agents/a2")).status == 404
            assert (await api.as_("supervisor").get("/v1/agents/a3/state")).status == 404
            assert (await api.as_("agent").put("/v1/agents/a2/state", {"state": "available"})).status == 404
            filtered = (await api.client.get("/v1/agents?queue=support")).json()["items"]
            assert [a["id"] for a in filtered] == ["a2", "a3"]
            paged = (await api.client.get("/v1/agents?limit=2")).json()
            rest = (await api.client.get(f"/v1/agents?limit=2&cursor={paged['next_cursor']}")).json()
            assert [a["id"] for a in paged["items"] + rest["items"]] == ["a1", "a2", "a3"]
            assert rest["next_cursor"] is None


async def test_agent_state_is_set_by_the_agent_and_its_supervisor(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            ready = await api.as_("agent").put("/v1/agents/a1/state", {"state": "available"})
            assert ready.status == 200 and ready.json()["state"] == "available"
            assert api.runtime.acd.agent_state("a1")[0] == "available"
            brk = await api.as_("supervisor").put("/v1/agents/a1/state", {"state": "not-ready", "reason": "coach"})
            assert brk.json()["state"] == "not-ready" and brk.json()["reason"] == "coach"
            out = await api.as_("supervisor").put("/v1/agents/a1/state", {"state": "logged-out"})
            assert out.json()["state"] == "logged-out"
            bad = await api.as_("agent").put("/v1/agents/a1/state", {"state": "asleep"})
            assert bad.status == 422
            audit = (await api.client.get("/v1/audit?target=agent:a1")).json()["items"]
        assert [(e["who"], e["details"]["after"]) for e in reversed(audit)] == [
            ("token:test-agent", "available"), ("token:test-supervisor", "not-ready"),
            ("token:test-supervisor", "logged-out")]


async def test_agents_are_created_changed_and_removed_live(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            made = await admin.post("/v1/agents", {"id": "a4", "name": "Dee", "skills": {"sales": 7},
                                                   "teams": ["west"]})
            assert made.status == 201 and made.json()["capacity"] == {"voice": 1, "chat": 3, "email": 2}
            assert api.runtime.acd.agents["a4"].config.skills == {"sales": 7}
            assert (await admin.post("/v1/agents", {"id": "a4"})).status == 409
            unknown = await admin.post("/v1/agents", {"id": "a5", "skills": {"karate": 3}})
            assert unknown.status == 422 and "unknown skill" in unknown.reason
            got = await admin.get("/v1/agents/a4")
            changed = await admin.patch("/v1/agents/a4", {"skills": {"sales": 9, "support": 2}},
                                        headers={"If-Match": got.headers["etag"]})
            assert changed.status == 200 and api.runtime.acd.agents["a4"].config.skills["sales"] == 9
            stale = await admin.patch("/v1/agents/a4", {"name": "D"}, headers={"If-Match": got.headers["etag"]})
            assert stale.status == 412
            empty = await admin.patch("/v1/agents/a4", {})
            assert empty.status == 422
            await admin.put("/v1/agents/a4/state", {"state": "available"})
            busy = await admin.delete("/v1/agents/a4")
            assert busy.status == 409 and "logged in" in busy.reason
            await admin.put("/v1/agents/a4/state", {"state": "logged-out"})
            assert (await admin.delete("/v1/agents/a4")).status == 204
            assert "a4" not in api.runtime.acd.agents
            assert (await api.as_("supervisor").post("/v1/agents", {"id": "a9"})).status == 403


async def test_a_supervisor_moves_an_agent_between_queues(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        sup = api.as_("supervisor")
        with trio.fail_after(TIMEOUT_S):
            assert (await sup.get("/v1/agents/a2/queues")).json()["queues"] == ["chat", "support"]
            moved = await sup.put("/v1/agents/a2/queues", {"queues": ["sales", "billing"]})
            assert moved.status == 200 and moved.json()["queues"] == ["billing", "sales"]
            assert api.runtime.acd.agents["a2"].config.skills == {"sales": 1, "billing": 1}
            assert (await sup.put("/v1/agents/a3/queues", {"queues": ["sales"]})).status == 404  # not its team
            assert (await sup.put("/v1/agents/a2/queues", {"queues": ["nope"]})).status == 422
            assert (await api.as_("agent").put("/v1/agents/a1/queues", {"queues": []})).status == 403


async def test_an_agent_joins_and_leaves_its_optional_queues_only(tmp_path: Path) -> None:
    """Ann (a1, sales only) may choose support and chat; joining support brings chat (same skill), so both must be
    optional. Sales is assigned: she cannot leave it; billing is not hers to join."""
    async with running_api(tmp_path) as api:
        admin, ann = api.client, api.as_("agent")  # the agent token is a1's
        with trio.fail_after(TIMEOUT_S):
            assert (await ann.get("/v1/agents/a1/queues")).json()["queues"] == ["sales"]
            assert (await admin.patch("/v1/agents/a1", {"optional_queues": ["nope"]})).status == 422
            only_support = await admin.patch("/v1/agents/a1", {"optional_queues": ["support"]})
            assert only_support.status == 200 and only_support.json()["optional_queues"] == ["support"]
            brings_chat = await ann.put("/v1/agents/a1/queues", {"queues": ["sales", "support"]})
            assert brings_chat.status == 403 and "queue 'chat' is assigned" in brings_chat.reason

            await admin.patch("/v1/agents/a1", {"optional_queues": ["support", "chat"]})
            assert (await ann.get("/v1/agents/a1")).json()["optional_queues"] == ["support", "chat"]
            joined = await ann.put("/v1/agents/a1/queues", {"queues": ["sales", "support", "chat"]})
            assert joined.status == 200 and joined.json()["queues"] == ["chat", "sales", "support"]
            left = await ann.put("/v1/agents/a1/queues", {"queues": ["sales"]})
            assert left.status == 200 and left.json()["queues"] == ["sales"]
            assert api.runtime.acd.agents["a1"].config.skills == {"sales": 5}

            not_hers = await ann.put("/v1/agents/a1/queues", {"queues": ["sales", "billing"]})
            assert not_hers.status == 403 and "you may join only your optional queues" in not_hers.reason
            assigned = await ann.put("/v1/agents/a1/queues", {"queues": []})
            assert assigned.status == 403 and "you may leave only" in assigned.reason
            assert (await ann.put("/v1/agents/a2/queues", {"queues": ["support"]})).status == 404  # not herself
            assert (await ann.get("/v1/agents/a1/queues")).json()["queues"] == ["sales"]


async def test_queues_change_live_and_refuse_what_cannot_work(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            made = await admin.post("/v1/queues", {
                "id": "vip", "name": "VIP", "skills": {"sales": 5}, "priority": 10, "strategy": "best-skill-level",
                "hours": {"timezone": "Europe/London", "mon": ["09:00-17:30"], "holidays": ["2026-12-25"]}})
            assert made.status == 201, made.body
            assert made.json()["hours"] == {"timezone": "Europe/London", "mon": ["09:00-17:30"],
                                            "holidays": ["2026-12-25"]}
            assert api.runtime.acd.queues["vip"].hours.weekly == {0: [(540, 1050)]}
            nobody = await admin.post("/v1/queues", {"id": "x", "skills": {"sales": 10}})
            assert nobody.status == 422 and "no agent" in nobody.reason
            bad_zone = await admin.post("/v1/queues", {"id": "x", "hours": {"timezone": "Mars/Olympus"}})
            assert bad_zone.status == 422 and "time zone" in bad_zone.reason
            bad_overflow = await admin.patch("/v1/queues/sales", {"max_wait_s": 60, "overflow_queue": "nowhere"})
            assert bad_overflow.status == 422
            tag = (await admin.get("/v1/queues/sales")).headers["etag"]
            slower = await admin.patch("/v1/queues/sales", {"ring_timeout_s": 45}, headers={"If-Match": tag})
            assert slower.status == 200 and api.runtime.acd.queues["sales"].ring_timeout_s == 45
            assert (await admin.patch("/v1/queues/sales", {"priority": 1}, headers={"If-Match": tag})).status == 412
            in_use = await admin.delete("/v1/queues/billing")
            assert in_use.status == 409 and "support" in in_use.reason
            await api.runtime.submit(ContactArrived("c1", "voice", queue="sales", customer="+1"))
            waiting = (await admin.get("/v1/queues/sales/contacts")).json()["items"]
            assert [(w["contact_id"], w["position"]) for w in waiting] == [("c1", 1)]
            assert (await admin.delete("/v1/queues/sales")).status == 409
            assert (await admin.delete("/v1/queues/vip")).status == 204
            assert "vip" not in api.runtime.acd.queues
            assert (await admin.get("/v1/queues?channel=chat")).json()["items"][0]["id"] == "chat"
            assert (await api.as_("agent").patch("/v1/queues/sales", {"priority": 3})).status == 403
            seq = api.runtime.seq
        assert [e.action for e in api.store.audit(target="queue:vip")] == ["delete", "create"]
        assert seq > 0


async def test_skills_and_workflows(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            assert (await admin.post("/v1/skills", {"name": "french"})).status == 201
            assert (await admin.post("/v1/skills", {"name": "french"})).status == 409
            skills = {s["name"]: s for s in (await admin.get("/v1/skills")).json()["items"]}
            assert skills["support"] == {"name": "support", "agents": 2, "queues": 2}
            assert skills["french"]["agents"] == 0
            await admin.patch("/v1/agents/a3", {"skills": {"billing": 5, "support": 2, "french": 6}})
            flow = await admin.post("/v1/workflows", {"id": "fr", "steps": [
                {"queue": "support", "skills": {"support": 1, "french": 5}, "timeout_s": 20}, {"queue": "support"}]})
            assert flow.status == 201, flow.body
            tag = (await admin.get("/v1/workflows/fr")).headers["etag"]
            again = await admin.put("/v1/workflows/fr", {"steps": [{"queue": "billing"}]}, headers={"If-Match": tag})
            assert again.status == 200 and api.runtime.acd.workflows["fr"].steps[0].queue == "billing"
            bad = await admin.post("/v1/workflows", {"id": "bad", "steps": [{"queue": "nope"}]})
            assert bad.status == 422
            assert (await admin.delete("/v1/workflows/fr")).status == 204
            assert (await admin.delete("/v1/workflows/fr")).status == 404
            assert [w["id"] for w in (await api.as_("agent").get("/v1/workflows")).json()["items"]] == ["w1"]
