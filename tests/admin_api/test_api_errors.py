"""Bad input gets a 4xx with a code and a reason, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.admin_api.server import running_api

TIMEOUT_S = 20.0


async def test_malformed_json_wrong_types_unknown_fields_and_big_bodies(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        client = api.client
        seq = api.runtime.seq
        with trio.fail_after(TIMEOUT_S):
            broken = await client.request("POST", "/v1/queues", body=b'{"id": "q9", ', content_type="application/json")
            assert broken.status == 400 and broken.json()["code"] == "bad-request"
            assert "malformed JSON" in broken.reason
            nan = await client.request("POST", "/v1/queues", body=b'{"id": "q9", "priority": NaN}',
                                       content_type="application/json")
            assert nan.status == 400
            wrong = await client.post("/v1/queues", {"id": "q9", "priority": "high"})
            assert wrong.status == 422 and wrong.json()["code"] == "invalid"
            assert wrong.reason.startswith("body.priority:")
            unknown = await client.post("/v1/queues", {"id": "q9", "colour": "red"})
            assert unknown.status == 422 and "unknown field(s) 'colour'" in unknown.reason
            nested = await client.post("/v1/queues", {"id": "q9", "skills": {"sales": 11}})
            assert nested.status == 422 and nested.reason.startswith("body.skills.sales:")
            text = await client.request("POST", "/v1/queues", body="id=q9", content_type="text/plain")
            assert text.status == 415 and "application/json" in text.reason
            huge = await client.post("/v1/queues", {"id": "q9", "name": "x" * (2 * 1024 * 1024)})
            assert huge.status == 413 and huge.json()["code"] == "too-large"
            bad_query = await client.get("/v1/agents?colour=red")
            assert bad_query.status == 400 and "colour" in bad_query.reason
            bad_limit = await client.get("/v1/agents?limit=0")
            assert bad_limit.status == 400 and "limit" in bad_limit.reason
            not_int = await client.get("/v1/agents?limit=many")
            assert not_int.status == 400
            twice = await client.get("/v1/agents?limit=1&limit=2")
            assert twice.status == 400 and "2 times" in twice.reason
            bad_cursor = await client.get("/v1/agents?cursor=%%%")
            assert bad_cursor.status == 400 and "cursor" in bad_cursor.reason
            body_on_get = await client.request("POST", "/v1/auth/logout", json={"x": 1})
            assert body_on_get.status == 400 and "takes no request body" in body_on_get.reason
            missing = await client.get("/v1/nothing-here")
            assert missing.status == 404 and missing.json()["code"] == "not-found"
            method = await client.request("PUT", "/v1/agents")
            assert method.status == 405 and method.json()["code"] == "method-not-allowed"
            refused = await client.post("/v1/queues", {"id": "q9", "skills": {"nobody-has-this": 1}})
            assert refused.status == 422 and "unknown skill" in refused.reason
        assert api.runtime.seq == seq  # nothing was journaled
        assert "q9" not in api.runtime.acd.queues
        assert api.store.audit() == []
