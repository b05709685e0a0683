"""Agent sessions and their grace, sans-IO: exact times, no sockets."""

from __future__ import annotations

import itertools

import pytest

from webrtc_gateway.sessions import SessionError, SessionTable


def _table(grace_s: float = 30.0) -> SessionTable:
    ids = itertools.count(1)
    return SessionTable(grace_s=grace_s, new_id=lambda: f"s{next(ids)}")


def test_a_session_survives_its_socket_for_the_grace_period_and_is_resumed() -> None:
    table = _table()
    opened = table.open("a1", None, 100.0)
    assert (opened.session.id, opened.resumed, opened.displaced, opened.ended) == ("s1", False, None, None)
    assert table.next_deadline() is None
    assert table.detach("s1", opened.ticket, 110.0)
    assert table.next_deadline() == 140.0
    assert table.expire(139.999) == []
    again = table.open("a1", "s1", 139.0)
    assert again.resumed and again.session is opened.session and again.ticket != opened.ticket
    assert table.next_deadline() is None and table.expire(1000.0) == []
    assert table.of_agent("a1") is opened.session and opened.session.resumes == 1


def test_after_the_grace_period_the_session_expires_at_its_deadline_exactly() -> None:
    table = _table(grace_s=5.0)
    opened = table.open("a1", None, 0.0)
    table.detach("s1", opened.ticket, 2.0)
    assert table.expire(6.9) == []
    (gone,) = table.expire(7.0)
    assert gone.agent_id == "a1" and table.of_agent("a1") is None and not table.holds("a1")
    late = table.open("a1", "s1", 8.0)  # resuming an expired session starts a new one
    assert not late.resumed and late.session.id == "s2"


def test_a_lost_line_runs_the_grace_too_and_a_new_line_clears_it() -> None:
    table = _table(grace_s=10.0)
    table.open("a1", None, 0.0)
    table.set_line("s1", "up", 1.0)
    table.set_line("s1", "lost", 3.0)
    assert table.next_deadline() == 13.0
    table.set_line("s1", "up", 12.0)
    assert table.next_deadline() is None and table.expire(100.0) == []
    table.set_line("s1", "lost", 20.0)
    opened = table.get("s1")
    assert opened is not None
    table.detach("s1", opened.ticket or 0, 25.0)  # the deadline runs from the first trouble
    assert table.next_deadline() == 30.0
    with pytest.raises(ValueError):
        table.set_line("s1", "sideways", 26.0)


def test_a_displaced_socket_cannot_detach_the_session_it_lost() -> None:
    table = _table()
    first = table.open("a1", None, 0.0)
    second = table.open("a1", "s1", 1.0)  # the same page from a new socket (reload while the old one hangs)
    assert second.displaced == first.ticket
    assert not table.detach("s1", first.ticket, 2.0)  # the old socket closing late changes nothing
    assert table.next_deadline() is None and table.current("s1", second.ticket)


def test_a_new_session_of_the_same_agent_ends_the_older_one() -> None:
    table = _table()
    first = table.open("a1", None, 0.0)
    second = table.open("a1", None, 1.0)
    assert second.ended is first.session and second.displaced == first.ticket and not second.resumed
    assert table.get("s1") is None and table.of_agent("a1") is second.session


def test_nobody_resumes_another_agents_session() -> None:
    table = _table()
    mine = table.open("a1", None, 0.0)
    table.detach("s1", mine.ticket, 1.0)
    with pytest.raises(SessionError) as refused:
        table.open("a2", "s1", 2.0)
    assert refused.value.code == "forbidden"
    assert table.of_agent("a1") is mine.session and table.of_agent("a2") is None  # nothing changed
    assert table.next_deadline() == 31.0


def test_closing_a_session_removes_it_and_its_timer() -> None:
    table = _table()
    opened = table.open("a1", None, 0.0)
    table.detach("s1", opened.ticket, 1.0)
    assert table.close("s1") is opened.session
    assert table.next_deadline() is None and table.expire(100.0) == [] and table.close("s1") is None
