"""Lead lists in the store: nothing imported twice, nothing lost, due leads in priority order, attempts counted."""

from __future__ import annotations

import pytest

from engine.errors import StoreError
from engine.leads import LEAD_STATUSES, parse_leads
from engine.store import SqlStore, open_store
from tests.conftest import ManualClock

FILE = """phone,priority,value,name
+442079460000,1,10,Ann
+442079460001,5,1,Bob
+15551234567,,,Broken
+442079460002,5,30,Cat
+442079460003,,,Dan
"""


def test_import_counts_every_row(store: SqlStore) -> None:
    parsed = parse_leads(FILE, "c1", source="a.csv")
    result = store.import_leads("c1", parsed)
    assert (result.rows, result.imported, result.rejected) == (5, 4, 1)
    assert result.rows == result.imported + result.rejected
    assert [e.line for e in result.errors] == [4]
    assert result.source == "a.csv" and result.same_file_as is None
    assert store.lead_counts("c1") == {"new": 4, "scheduled": 0, "done": 0, "dnc": 0, "exhausted": 0}
    assert store.lead("c1", "442079460000").fields == {"name": "Ann"}
    assert store.lead("c1", "442079460000").timezones == ("Europe/London",)
    assert store.lead_status("c1", "442079460000") == "new"


def test_nothing_is_imported_twice(store: SqlStore, clock: ManualClock) -> None:
    first = store.import_leads("c1", parse_leads(FILE, "c1", source="a.csv"))
    clock.now += 60
    again = store.import_leads("c1", parse_leads(FILE, "c1", source="a.csv"))
    assert (again.imported, again.rejected, again.same_file_as) == (0, 5, first.import_id)
    already = [e for e in again.errors if e.reason.startswith("already imported")]
    assert [e.line for e in already] == [2, 3, 5, 6]
    assert already[0].reason == f"already imported (lead 442079460000, import #{first.import_id})"
    assert len(store.leads("c1")) == 4

    # an overlapping file: only the new number goes in; the same number in another campaign is another lead
    overlap = "phone,name\n+44 20 7946 0003,Dan again\n+442079460009,Eve\n"
    third = store.import_leads("c1", parse_leads(overlap, "c1", source="b.csv"))
    assert (third.imported, third.rejected, third.same_file_as) == (1, 1, None)
    assert third.errors[0].line == 2 and third.errors[0].column == "phone"
    assert store.lead("c1", "442079460003").fields == {"name": "Dan"}
    other = store.import_leads("c2", parse_leads(overlap, "c2"))
    assert other.imported == 2


def test_an_id_used_by_another_number_is_refused(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads("id,phone\nk1,+442079460000\n", "c1"))
    result = store.import_leads("c1", parse_leads("id,phone\nk1,+442079460001\n", "c1"))
    assert result.imported == 0
    assert result.errors[0].column == "id"
    assert result.errors[0].reason == "id 'k1' already used by the lead for +442079460000"


def test_imports_are_recorded_with_their_errors(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads(FILE, "c1", source="a.csv"))
    store.import_leads("c1", parse_leads(FILE, "c1", source="a.csv"))
    history = store.lead_imports("c1")
    assert [(h["id"], h["imported"], h["rejected"], h["error_count"]) for h in history] == [(1, 4, 1, 1),
                                                                                          (2, 0, 5, 5)]
    assert history[0]["source"] == "a.csv" and history[0]["digest"] == history[1]["digest"]
    assert history[0]["errors"][0]["line"] == 4 and history[0]["errors"][0]["column"] == "phone"
    assert store.lead_imports("other") == []


def test_import_refuses_a_parse_for_another_campaign(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="campaign"):
        store.import_leads("c1", parse_leads(FILE, "c2"))
    assert store.lead_imports("c1") == [] and store.leads("c1") == []


def test_due_leads_in_priority_then_value_order(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads(FILE, "c1"))
    assert [lead.id for lead in store.due_leads("c1", 0.0, 10)] == [
        "442079460002", "442079460001", "442079460000", "442079460003"]
    assert len(store.due_leads("c1", 0.0, 2)) == 2
    store.record_attempt("c1", "442079460002", at=100.0, outcome="busy", next_attempt=700.0, status="scheduled")
    store.record_attempt("c1", "442079460001", at=100.0, outcome="human", next_attempt=None, status="done")
    assert [lead.id for lead in store.due_leads("c1", 500.0, 10)] == ["442079460000", "442079460003"]
    assert [lead.id for lead in store.due_leads("c1", 700.0, 10)][0] == "442079460002"


def test_due_leads_with_equal_priority_longest_overdue_first(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads("phone\n+442079460000\n+442079460001\n+442079460002\n", "c1"))
    store.record_attempt("c1", "442079460000", at=10.0, outcome="busy", next_attempt=300.0, status="scheduled")
    store.record_attempt("c1", "442079460001", at=10.0, outcome="busy", next_attempt=200.0, status="scheduled")
    assert [lead.id for lead in store.due_leads("c1", 1000.0, 10)] == [
        "442079460002", "442079460001", "442079460000"]


def test_record_attempt_counts_and_validates(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads(FILE, "c1"))
    lead = store.record_attempt("c1", "442079460000", at=50.0, outcome="no-answer", next_attempt=3650.0,
                                status="scheduled")
    assert (lead.attempts, lead.last_attempt, lead.next_attempt) == (1, 50.0, 3650.0)
    lead = store.record_attempt("c1", "442079460000", at=3700.0, outcome="machine", next_attempt=None,
                                status="exhausted")
    assert lead.attempts == 2 and lead.next_attempt is None
    assert store.lead_status("c1", "442079460000") == "exhausted"
    assert [x.id for x in store.leads("c1", status="exhausted")] == ["442079460000"]
    with pytest.raises(StoreError, match="no such lead"):
        store.record_attempt("c1", "nope", at=1.0, outcome="busy", next_attempt=None, status="done")
    with pytest.raises(StoreError, match="status 'new'"):
        store.record_attempt("c1", "442079460001", at=1.0, outcome="busy", next_attempt=None, status="new")
    with pytest.raises(StoreError, match="final"):
        store.record_attempt("c1", "442079460001", at=1.0, outcome="human", next_attempt=5.0, status="done")
    with pytest.raises(StoreError, match="outcome"):
        store.record_attempt("c1", "442079460001", at=1.0, outcome="", next_attempt=5.0, status="scheduled")
    assert store.lead("c1", "442079460001").attempts == 0


def test_record_attempt_with_the_dialers_count_is_idempotent(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads(FILE, "c1"))
    refused = store.record_attempt("c1", "442079460000", at=10.0, outcome="refused:calling-hours",
                                   next_attempt=900.0, status="scheduled", attempts=0)
    assert (refused.attempts, refused.last_attempt, refused.next_attempt) == (0, None, 900.0)
    for _ in range(2):  # the same update twice (a replay) is the same row
        lead = store.record_attempt("c1", "442079460000", at=950.0, outcome="busy", next_attempt=1500.0,
                                    status="scheduled", attempts=1)
        assert (lead.attempts, lead.last_attempt, lead.next_attempt) == (1, 950.0, 1500.0)
    with pytest.raises(StoreError, match="attempts"):
        store.record_attempt("c1", "442079460000", at=1.0, outcome="busy", next_attempt=None, status="done",
                             attempts=-1)


def test_lead_lookups(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads(FILE, "c1"))
    assert [x.id for x in store.leads("c1", limit=2, offset=1)] == ["442079460001", "442079460002"]
    with pytest.raises(StoreError, match="no such lead"):
        store.lead("c1", "nope")
    with pytest.raises(StoreError, match="no such lead"):
        store.lead_status("c2", "442079460000")
    with pytest.raises(StoreError, match="status 'open'"):
        store.leads("c1", status="open")
    with pytest.raises(StoreError, match="limit"):
        store.leads("c1", limit=0)
    with pytest.raises(StoreError, match="empty"):
        store.due_leads("", 0.0, 1)
    assert set(store.lead_counts("none")) == set(LEAD_STATUSES)


def test_leads_survive_reopening(store: SqlStore) -> None:
    store.import_leads("c1", parse_leads("phone,region\n+12085550100,US\n", "c1"))
    again = open_store(store.target)
    try:
        assert again.lead("c1", "12085550100").timezones == ("America/Boise", "America/Los_Angeles")
    finally:
        again.close()
