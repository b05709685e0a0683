"""Users, API tokens, the audit trail and call detail records in the store (the ``store`` fixture's backend)."""

from __future__ import annotations

import pytest

from engine.errors import StoreError
from engine.events import ContactRecord
from engine.store.access_records import ApiToken, Cdr


def test_users_are_created_listed_updated_and_deleted(store, clock) -> None:
    ann = store.create_user("ann", "agent", password_hash="h1", agent_id="a1")
    assert (ann.role, ann.agent_id, ann.version, ann.created) == ("agent", "a1", 1, clock.now)
    store.create_user("sue", "supervisor", teams=["west", "east", "west"])
    assert [u.name for u in store.users()] == ["ann", "sue"]
    assert [u.name for u in store.users(role="supervisor")] == ["sue"]
    assert store.user("sue").teams == ("east", "west")
    clock.now += 5
    sue = store.update_user("sue", role="admin", teams=["north"])
    assert (sue.role, sue.teams, sue.version, sue.updated) == ("admin", ("north",), 2, clock.now)
    assert "password_hash" not in sue.public()
    store.delete_user("sue")
    assert store.find_user("sue") is None
    with pytest.raises(StoreError, match="no such user"):
        store.user("sue")


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("ann", "agent"), {}, "needs agent_id"),
    (("ann", "root"), {}, "role 'root'"),
    ((" ann", "admin"), {}, "user name"),
    (("", "admin"), {}, "user name"),
])
def test_bad_users_are_refused(store, args, kwargs, match) -> None:
    with pytest.raises(StoreError, match=match):
        store.create_user(*args, **kwargs)
    assert store.users() == []


def test_a_taken_name_is_refused_and_nothing_changes(store) -> None:
    store.create_user("ann", "admin")
    with pytest.raises(StoreError, match="already exists"):
        store.create_user("ann", "agent", agent_id="a1")
    assert store.user("ann").role == "admin"


def _token(token_id: str, **kwargs) -> ApiToken:
    return ApiToken(token_id, kwargs.pop("name", "ci"), kwargs.pop("role", "admin"),
                    secret_hash=kwargs.pop("secret_hash", "hash-" + token_id), **kwargs)


def test_tokens_are_found_by_hash_and_revoked(store, clock) -> None:
    store.add_token(_token("tok_1", created=clock.now))
    found = store.token_by_hash("hash-tok_1")
    assert found is not None and found.usable(clock.now) and "secret_hash" not in found.public()
    clock.now += 10
    revoked = store.revoke_token("tok_1")
    assert revoked.revoked == clock.now and not revoked.usable(clock.now)
    assert store.revoke_token("tok_1").revoked == revoked.revoked  # revoking again changes nothing
    assert store.tokens() == [] and [t.id for t in store.tokens(include_revoked=True)] == ["tok_1"]
    with pytest.raises(StoreError, match="no such token"):
        store.revoke_token("tok_nope")


def test_expired_tokens_are_not_usable(store) -> None:
    token = store.add_token(_token("tok_1", expires=100.0))
    assert token.usable(99.0) and not token.usable(100.0)


def test_tokens_follow_their_user(store, clock) -> None:
    store.create_user("ann", "agent", agent_id="a1", password_hash="old")
    store.add_token(_token("tok_s", role="agent", kind="session", user="ann"))
    store.add_token(_token("tok_a", role="agent", kind="api", user="ann"))
    store.update_user("ann", password_hash="new")  # a new password ends the sessions, not the API tokens
    assert [t.id for t in store.tokens(user="ann")] == ["tok_a"]
    store.update_user("ann", disabled=True)
    assert store.tokens(user="ann") == []
    store.delete_user("ann")
    assert store.token_by_hash("hash-tok_a") is None
    with pytest.raises(StoreError, match="no such user"):
        store.add_token(_token("tok_x", user="ghost"))


@pytest.mark.parametrize(("token", "match"), [
    (_token("tok_1", role="god"), "role"),
    (_token("tok_1", kind="forever"), "kind"),
    (_token("tok_1", name=" "), "name"),
    (_token("", secret_hash="x"), "required"),
])
def test_bad_tokens_are_refused(store, token, match) -> None:
    with pytest.raises(StoreError, match=match):
        store.add_token(token)
    assert store.tokens(include_revoked=True) == []


def test_audit_entries_are_kept_newest_first_and_filtered(store, clock) -> None:
    for i in range(5):
        clock.now = 1000.0 + i
        store.add_audit("ann" if i % 2 else "bob", "update", f"queue:q{i}", {"before": i, "after": i + 1})
    entries = store.audit()
    assert [e.target for e in entries] == [f"queue:q{i}" for i in (4, 3, 2, 1, 0)]
    assert entries[0].details == {"before": 4, "after": 5} and entries[0].at == 1004.0
    assert [e.target for e in store.audit(who="ann")] == ["queue:q3", "queue:q1"]
    assert [e.target for e in store.audit(since=1001.0, until=1003.0)] == ["queue:q2", "queue:q1"]
    page = store.audit(limit=2)
    assert [e.target for e in store.audit(before_id=page[-1].id, limit=2)] == ["queue:q2", "queue:q1"]
    with pytest.raises(StoreError, match="limit"):
        store.audit(limit=0)
    with pytest.raises(StoreError, match="who"):
        store.add_audit("", "update", "queue:q")


def _record(cid: str, agent: str = "a1", offered_to: str = "a2", queue: str = "sales") -> ContactRecord:
    return ContactRecord(cid, "voice", "+4420", queue, agent, 10.0, 20.0, 80.0, "answered", "resolved", "n",
                         ((10.0, "queued", queue, ""), (12.0, "offered", queue, offered_to),
                          (20.0, "connected", queue, agent)), {"campaign": "c"})


def test_cdrs_round_trip_and_replace_on_replay(store) -> None:
    cdr = Cdr.from_record(_record("c1"), 110.0)
    assert cdr.agents == ("a1", "a2")
    assert store.add_cdrs([cdr, cdr]) == 2
    assert store.cdr("c1") == cdr
    store.add_cdrs([Cdr.from_record(_record("c1", agent="a3", offered_to="a3"), 120.0)])
    again = store.cdr("c1")
    assert again is not None and again.agents == ("a3",) and again.recorded == 120.0
    assert store.cdrs(agent="a1") == [] and [c.contact_id for c in store.cdrs(agent="a3")] == ["c1"]
    assert store.cdr("nope") is None


def test_cdrs_are_filtered_and_paged_by_key(store) -> None:
    store.add_cdrs([Cdr.from_record(_record(f"c{i}", queue="sales" if i % 2 else "care"), 100.0 + i // 2)
                    for i in range(7)])
    everything = store.cdrs()
    assert [c.contact_id for c in everything] == ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
    assert [c.contact_id for c in store.cdrs(queue="care")] == ["c0", "c2", "c4", "c6"]
    assert [c.contact_id for c in store.cdrs(since=101.0, until=103.0)] == ["c2", "c3", "c4", "c5"]
    first = store.cdrs(limit=3)
    after = (first[-1].recorded, first[-1].contact_id)
    assert [c.contact_id for c in store.cdrs(after=after, limit=3)] == ["c3", "c4", "c5"]
    assert [c.contact_id for c in store.cdrs(agent="a2", queue="sales")] == ["c1", "c3", "c5"]
    with pytest.raises(StoreError, match="limit"):
        store.cdrs(limit=5000)
