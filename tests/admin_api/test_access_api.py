"""Logging in and out, users, tokens and the audit trail, through the real server."""

from __future__ import annotations

from pathlib import Path

import trio

from admin_api.auth import LoginLimiter
from tests.admin_api.server import PASSWORD, running_api

TIMEOUT_S = 30.0


async def test_login_gives_a_session_that_logout_ends(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        anon = api.as_(None)
        with trio.fail_after(TIMEOUT_S):
            reply = await anon.post("/v1/auth/login", {"username": "ann", "password": PASSWORD})
            assert reply.status == 201, reply.body
            session = reply.json()
            assert session["user"]["agent_id"] == "a1" and "password_hash" not in session["user"]
            ann = anon.as_(session["token"])
            me = (await ann.get("/v1/me")).json()
            assert (me["name"], me["role"], me["agent_id"], me["kind"]) == ("ann", "agent", "a1", "session")
            assert (await ann.post("/v1/auth/logout")).status == 204
            gone = await ann.get("/v1/me")
            assert gone.status == 401 and gone.reason == "token revoked"


async def test_failed_logins_are_rate_limited(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        anon = api.as_(None)
        with trio.fail_after(TIMEOUT_S):
            for _ in range(5):
                wrong = await anon.post("/v1/auth/login", {"username": "ann", "password": "guess-guess"})
                assert wrong.status == 401 and wrong.reason == "wrong user name or password"
            limited = await anon.post("/v1/auth/login", {"username": "ann", "password": PASSWORD})
            assert limited.status == 429 and int(limited.headers["retry-after"]) > 0
            nobody = await anon.post("/v1/auth/login", {"username": "nobody", "password": "guess-guess"})
            assert nobody.status == 401  # an unknown name answers like a wrong password


def test_the_login_limiter_forgets_after_its_window() -> None:
    limiter = LoginLimiter(per_user=2, per_client=3, window_s=60.0)
    limiter.failed("ann", "1.2.3.4", 0.0)
    limiter.failed("ann", "1.2.3.4", 10.0)
    assert limiter.retry_after("ann", "5.6.7.8", 20.0) == 40.0  # the oldest of the last two leaves at 60
    assert limiter.retry_after("bob", "1.2.3.4", 20.0) == 0.0
    limiter.failed("bob", "1.2.3.4", 20.0)
    assert limiter.retry_after("carl", "1.2.3.4", 30.0) == 30.0  # the client is over its 3
    assert limiter.retry_after("ann", "9.9.9.9", 70.1) == 0.0
    limiter.succeeded("bob")
    assert limiter.retry_after("bob", "7.7.7.7", 21.0) == 0.0


async def test_users_are_managed_by_admins_and_every_change_is_audited(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            made = await admin.post("/v1/users", {"name": "sue", "role": "supervisor", "password": "sup3r-secret",
                                                  "teams": ["east"]})
            assert made.status == 201 and made.json()["teams"] == ["east"]
            clash = await admin.post("/v1/users", {"name": "sue", "role": "admin", "password": "sup3r-secret"})
            assert clash.status == 409
            ghost_agent = await admin.post("/v1/users", {"name": "zed", "role": "agent", "password": "12345678",
                                                         "agent_id": "nobody"})
            assert ghost_agent.status == 422 and "agent_id" in ghost_agent.reason
            short = await admin.post("/v1/users", {"name": "zed", "role": "admin", "password": "short"})
            assert short.status == 422 and short.reason.startswith("body.password:")
            got = await admin.get("/v1/users/sue")
            etag = got.headers["etag"]
            assert (await admin.get("/v1/users/sue", headers={"If-None-Match": etag})).status == 304
            changed = await admin.patch("/v1/users/sue", {"teams": ["east", "west"]}, headers={"If-Match": etag})
            assert changed.status == 200 and changed.json()["version"] == 2
            stale = await admin.patch("/v1/users/sue", {"teams": []}, headers={"If-Match": etag})
            assert stale.status == 412 and stale.json()["code"] == "precondition-failed"
            session = (await admin.post("/v1/auth/login", {"username": "sue", "password": "sup3r-secret"})).json()
            sue = admin.as_(session["token"])
            assert (await sue.get("/v1/me")).json()["teams"] == ["east", "west"]
            assert (await admin.patch("/v1/users/sue", {"disabled": True})).status == 200
            assert (await sue.get("/v1/me")).status == 401
            listed = (await admin.get("/v1/users?role=supervisor")).json()
            assert [u["name"] for u in listed["items"]] == ["sue"]
            assert (await admin.delete("/v1/users/sue")).status == 204
            assert (await admin.get("/v1/users/sue")).status == 404
            audit = (await admin.get("/v1/audit?target=user:sue")).json()["items"]
        assert [e["action"] for e in audit] == ["delete", "update", "update", "create"]
        assert all(e["who"] == "token:test-admin" for e in audit)
        assert audit[-1]["details"]["after"]["role"] == "supervisor"
        assert audit[-2]["details"]["before"]["teams"] == ["east"] and audit[-2]["details"]["after"]["teams"] == [
            "east", "west"]


async def test_tokens_show_their_secret_once_and_can_be_revoked(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        admin = api.client
        with trio.fail_after(TIMEOUT_S):
            made = await admin.post("/v1/tokens", {"name": "wallboard", "role": "supervisor", "teams": ["west"]})
            assert made.status == 201
            secret, info = made.json()["token"], made.json()["info"]
            assert secret.startswith("sb_") and "secret_hash" not in info
            board = admin.as_(secret)
            assert (await board.get("/v1/me")).json()["teams"] == ["west"]
            listing = (await admin.get("/v1/tokens")).json()["items"]
            assert info["id"] in [t["id"] for t in listing] and all("token" not in t for t in listing)
            mine = (await board.get("/v1/tokens")).json()["items"]
            assert [t["id"] for t in mine] == [info["id"]]  # a supervisor sees only its own
            others = [t["id"] for t in listing if t["id"] != info["id"]]
            assert (await board.delete(f"/v1/tokens/{others[0]}")).status == 404
            agent_token = await admin.post("/v1/tokens", {"name": "x", "role": "agent"})
            assert agent_token.status == 422 and "agent_id" in agent_token.reason
            assert (await board.delete(f"/v1/tokens/{info['id']}")).status == 204
            assert (await board.get("/v1/me")).status == 401
            revoked = (await admin.get("/v1/tokens?revoked=true")).json()["items"]
            assert next(t for t in revoked if t["id"] == info["id"])["revoked"] is not None


async def test_a_user_changes_its_own_password(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        anon = api.as_(None)
        with trio.fail_after(TIMEOUT_S):
            session = (await anon.post("/v1/auth/login", {"username": "ann", "password": PASSWORD})).json()
            ann = anon.as_(session["token"])
            wrong = await ann.put("/v1/me/password", {"current": "not-it-at-all", "new": "a-new-password"})
            assert wrong.status == 401
            assert (await ann.put("/v1/me/password", {"current": PASSWORD, "new": "a-new-password"})).status == 204
            assert (await ann.get("/v1/me")).status == 401  # a new password ends the sessions
            again = await anon.post("/v1/auth/login", {"username": "ann", "password": "a-new-password"})
            assert again.status == 201
            no_user = await api.client.put("/v1/me/password", {"current": "whatever!", "new": "a-new-password"})
            assert no_user.status == 409
