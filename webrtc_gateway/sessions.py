"""Agent signalling sessions and their reconnection grace: a sans-IO table.

Theory of operation
-------------------
An agent's desktop holds one *session* with the gateway (``docs/gateway.md``): it survives the socket that
opened it, so a browser that reloads or a network that drops gets the session back (``open(agent, resume=id)``)
with its phone line and its live call. ``SessionTable`` knows nothing of sockets, trio or media; it is told what
happens, at the engine's time ``now``, and answers what follows. A session is *healthy* when a socket holds it
(``attached``) and its phone line is not lost (``line`` is ``"none"``, no line yet, or ``"up"``). While it is not
healthy its grace deadline runs (``grace_s`` from the moment it became unhealthy); ``expire(now)`` removes and
returns the sessions whose deadline passed: for those the engine's rule applies (the gateway submits
``AgentDisconnected``: their contacts go back to the head of their queues). Becoming healthy again clears the
deadline::

    event                         healthy session             unhealthy session (deadline running)
    socket closes (detach)        -> unhealthy, deadline set   (deadline kept)
    line lost                     -> unhealthy, deadline set   (deadline kept)
    open(resume=id) / line up     -                            -> healthy when both hold, deadline cleared
    deadline passes (expire)      -                            -> removed, returned by expire()

Sockets: every ``open`` gives the socket a *ticket*; ``detach(ticket)`` of a socket that has been displaced
since (the agent resumed from a newer socket) changes nothing. ``open`` answers ``Opened``: the session, whether
it was ``resumed``, the ticket of a socket it ``displaced`` (the gateway closes that socket), and a session it
``ended`` (a new session of an agent who had one: the older is over, the gateway applies the rule to it).

Security: session ids are random (128 bits, ``secrets``) and bound to their agent; resuming another agent's
session raises ``SessionError("forbidden")`` and changes nothing, so a browser cannot join another agent's call
by guessing or stealing an id under its own token.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_GRACE_S = 30.0
LINE_STATES = ("none", "up", "lost")


class SessionError(Exception):
    """A session request refused; ``code`` is the error frame's code, ``str(exc)`` its reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class Session:
    """One agent's session. ``ticket``: the socket holding it (``None``: detached); ``deadline``: the end of its
    grace (``None`` while healthy)."""

    id: str
    agent_id: str
    ticket: int | None = None
    line: str = "none"
    deadline: float | None = None
    resumes: int = 0

    @property
    def attached(self) -> bool:
        return self.ticket is not None

    @property
    def healthy(self) -> bool:
        return self.ticket is not None and self.line != "lost"


@dataclass(frozen=True)
class Opened:
    """What ``SessionTable.open`` did: see the module docstring."""

    session: Session
    resumed: bool
    ticket: int
    displaced: int | None = None
    ended: Session | None = None


@dataclass
class SessionTable:
    """Every agent's session (at most one per agent). See the module docstring. ``new_id`` makes session ids
    (injectable for tests)."""

    grace_s: float = DEFAULT_GRACE_S
    new_id: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(16))
    sessions: dict[str, Session] = field(default_factory=dict)
    by_agent: dict[str, str] = field(default_factory=dict)
    _tickets: itertools.count = field(default_factory=lambda: itertools.count(1))
    _timers: list[tuple[float, str]] = field(default_factory=list)

    # ------------------------------------------------------------------------------------------ queries ----

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def of_agent(self, agent_id: str) -> Session | None:
        session_id = self.by_agent.get(agent_id)
        return None if session_id is None else self.sessions[session_id]

    def holds(self, agent_id: str) -> bool:
        """Whether ``agent_id`` has a session, attached or within its grace (its presence is ours to judge)."""
        return agent_id in self.by_agent

    def current(self, session_id: str, ticket: int) -> bool:
        """Whether the socket of ``ticket`` still holds ``session_id``."""
        session = self.sessions.get(session_id)
        return session is not None and session.ticket == ticket

    def next_deadline(self) -> float | None:
        """The earliest grace deadline, or ``None``."""
        while self._timers:
            at, session_id = self._timers[0]
            session = self.sessions.get(session_id)
            if session is not None and session.deadline == at:
                return at
            heapq.heappop(self._timers)  # stale: the session healed, was removed or got a later deadline
        return None

    # ------------------------------------------------------------------------------------------ changes ----

    def open(self, agent_id: str, resume: str | None, now: float) -> Opened:
        """A socket authenticated as ``agent_id`` asks for a session, resuming ``resume`` if given (see the module
        docstring). ``SessionError("forbidden")`` for another agent's session."""
        if resume is not None:
            wanted = self.sessions.get(resume)
            if wanted is not None and wanted.agent_id != agent_id:
                raise SessionError("forbidden", "this session belongs to another agent")
        ticket = next(self._tickets)
        current = self.of_agent(agent_id)
        if current is not None and resume == current.id:
            displaced = current.ticket
            current.ticket = ticket
            current.resumes += 1
            self._health(current, now)
            return Opened(current, True, ticket, displaced=displaced)
        ended = None
        if current is not None:
            ended = self._remove(current)
        session = Session(self.new_id(), agent_id, ticket=ticket)
        self.sessions[session.id] = session
        self.by_agent[agent_id] = session.id
        return Opened(session, False, ticket, displaced=ended.ticket if ended is not None else None, ended=ended)

    def detach(self, session_id: str, ticket: int, now: float) -> bool:
        """The socket of ``ticket`` closed. ``True`` if it held the session (whose grace starts now)."""
        session = self.sessions.get(session_id)
        if session is None or session.ticket != ticket:
            return False
        session.ticket = None
        self._health(session, now)
        return True

    def set_line(self, session_id: str, state: str, now: float) -> None:
        """The session's phone line is ``state`` (``none``, ``up``, ``lost``)."""
        if state not in LINE_STATES:
            raise ValueError(f"line state {state!r} is not one of {', '.join(LINE_STATES)}")
        session = self.sessions.get(session_id)
        if session is None:
            return
        session.line = state
        self._health(session, now)

    def close(self, session_id: str) -> Session | None:
        """End a session now (the agent logged out, the gateway stops); the removed session, if any."""
        session = self.sessions.get(session_id)
        return None if session is None else self._remove(session)

    def expire(self, now: float) -> list[Session]:
        """Remove and return every session whose grace deadline is at or before ``now``."""
        out: list[Session] = []
        while True:
            at = self.next_deadline()
            if at is None or at > now:
                return out
            _, session_id = heapq.heappop(self._timers)
            out.append(self._remove(self.sessions[session_id]))

    # ---------------------------------------------------------------------------------------- internals ----

    def _health(self, session: Session, now: float) -> None:
        if session.healthy:
            session.deadline = None
        elif session.deadline is None:
            session.deadline = now + self.grace_s
            heapq.heappush(self._timers, (session.deadline, session.id))

    def _remove(self, session: Session) -> Session:
        del self.sessions[session.id]
        if self.by_agent.get(session.agent_id) == session.id:
            del self.by_agent[session.agent_id]
        session.deadline = None
        return session
