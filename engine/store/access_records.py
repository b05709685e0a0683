"""Records of the admin API's half of the store: users, API tokens, the audit trail, call detail records.

Roles are ``ROLES``: ``admin`` (everything), ``supervisor`` (its teams' agents, every queue and report),
``agent`` (its own state, its own contacts). Passwords and token secrets are never stored: a user keeps a
password hash (``admin_api.passwords``: scrypt, memory-hard), a token the SHA-256 of its secret (secrets are 256
random bits, so a fast hash is enough; the secret is shown once, when the token is made).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

ROLES: tuple[str, ...] = ("admin", "supervisor", "agent")
TOKEN_KINDS: tuple[str, ...] = ("api", "session")
"""``api``: made by an operator (``switchboard token create`` or ``POST /v1/tokens``), lives until revoked or its
expiry; ``session``: made by a login, expires after the session's lifetime."""


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in. ``agent_id``: the ACD agent this user is (role ``agent``); ``teams``: the teams a
    supervisor oversees (an agent's teams are in its ``AgentConfig``). ``version`` grows with every change (the
    API's ETag)."""

    name: str
    role: str
    password_hash: str = ""
    agent_id: str | None = None
    teams: tuple[str, ...] = ()
    disabled: bool = False
    created: float = 0.0
    updated: float = 0.0
    version: int = 1

    def public(self) -> dict[str, Any]:
        """The user as the API shows it (no password hash)."""
        return {"name": self.name, "role": self.role, "agent_id": self.agent_id, "teams": list(self.teams),
                "disabled": self.disabled, "created": self.created, "updated": self.updated,
                "version": self.version}


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token. ``id`` is public (``tok_...``, used to list and revoke it); ``secret_hash`` the SHA-256 hex
    of the secret. A token with a ``user`` acts as that user (its current role); one without carries its own
    ``role``, ``agent_id`` and ``teams``. ``revoked``/``expires`` are Unix seconds or None."""

    id: str
    name: str
    role: str
    kind: str = "api"
    user: str | None = None
    agent_id: str | None = None
    teams: tuple[str, ...] = ()
    secret_hash: str = ""
    created: float = 0.0
    expires: float | None = None
    revoked: float | None = None

    def public(self) -> dict[str, Any]:
        """The token as the API shows it (no hash)."""
        out = asdict(self)
        del out["secret_hash"]
        out["teams"] = list(self.teams)
        return out

    def usable(self, now: float) -> bool:
        return self.revoked is None and (self.expires is None or now < self.expires)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited change: who (user or token name), when, what action on which target, and its details
    (typically ``{"before": ..., "after": ...}``)."""

    id: int
    at: float
    who: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Cdr:
    """A call detail record: a contact's whole life (``engine.events.ContactRecord``) as stored. ``agents``: every
    agent the contact was offered to or served by (who may read it); ``recorded``: when its life ended (wrap-up
    done)."""

    contact_id: str
    channel: str
    customer: str
    queue: str
    agent_id: str
    arrived: float
    answered: float | None
    ended: float
    outcome: str
    disposition: str = ""
    notes: str = ""
    history: tuple[tuple[float, str, str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    recorded: float = 0.0
    agents: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: Any, recorded: float) -> Cdr:
        """The CDR of an ``engine.events.ContactRecord`` emitted at ``recorded``."""
        agents = {record.agent_id} if record.agent_id else set()
        agents.update(step[3] for step in record.history if len(step) > 3 and step[3])
        return cls(record.contact_id, record.channel, record.customer, record.queue, record.agent_id,
                   record.arrived, record.answered, record.ended, record.outcome, record.disposition, record.notes,
                   tuple(tuple(step) for step in record.history), dict(record.data), recorded,
                   tuple(sorted(agents)))

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: ``asdict`` deep-copies field by field, and the API answers pages of these.
        return {"contact_id": self.contact_id, "channel": self.channel, "customer": self.customer,
                "queue": self.queue, "agent_id": self.agent_id, "arrived": self.arrived, "answered": self.answered,
                "ended": self.ended, "outcome": self.outcome, "disposition": self.disposition, "notes": self.notes,
                "history": [{"at": s[0], "state": s[1], "queue": s[2], "agent_id": s[3]} for s in self.history],
                "data": copy.deepcopy(self.data), "recorded": self.recorded, "agents": list(self.agents)}
