"""Who is calling, and what they may reach.

``Principal``: the caller, from a bearer token. ``Authenticator`` (one per app) turns a token secret into a
principal (``authenticate``), logs users in (``login``: scrypt check in a worker thread, failures rate-limited by
``LoginLimiter``) and makes tokens (``issue``). Verified tokens are cached for ``cache_s`` seconds so a busy
client does not cost a database read per request; a revocation through this process takes effect at once
(``forget``), one made by another process (``switchboard token revoke``) within ``cache_s``.

Roles (``engine.store.access_records.ROLES``): ``admin`` reaches everything; ``supervisor`` every queue,
campaign and report, and the agents of its teams; ``agent`` its own state, the contacts offered to it and their
customers. The scoping rules are the methods of ``Principal`` (``sees_agent``, ``sees_contact_agents``), so every
route asks the same question the same way.
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import trio

from admin_api.errors import ApiError
from admin_api.security import hash_password, new_token_id, new_token_secret, token_hash, verify_password
from engine.errors import StoreError
from engine.store.access_records import ROLES, ApiToken, User

ADMIN = frozenset({"admin"})
STAFF = frozenset({"admin", "supervisor"})
ANYONE = frozenset(ROLES)
SESSION_S = 12 * 3600.0
"""How long a login's session token lives."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: ``name`` (the user, or the token's name), ``role``, ``agent_id`` (the agent an
    agent-role caller is), ``teams`` (a supervisor's), ``token_id`` (the token used)."""

    name: str
    role: str
    agent_id: str | None = None
    teams: tuple[str, ...] = ()
    token_id: str = ""
    user: str | None = None
    kind: str = "api"

    def sees_agent(self, agent_id: str, agent_teams: Iterable[str]) -> bool:
        """Whether this caller may read (and, with a write role, act on) the agent ``agent_id`` of ``agent_teams``."""
        if self.role == "admin":
            return True
        if self.role == "supervisor":
            return bool(set(self.teams) & set(agent_teams))
        return agent_id == self.agent_id

    def sees_contact_agents(self, agents: Iterable[str], team_of: Callable[[str], Iterable[str]]) -> bool:
        """Whether this caller may read a contact that was offered to or served by ``agents``: an admin always; a
        supervisor when one of them is in its teams or no agent ever had it (a contact that never left its
        queue is queue-level data); an agent when it is one of them."""
        agents = list(agents)
        if self.role == "admin":
            return True
        if self.role == "supervisor":
            return not agents or any(set(self.teams) & set(team_of(a)) for a in agents)
        return self.agent_id is not None and self.agent_id in agents

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "agent_id": self.agent_id, "teams": list(self.teams),
                "token_id": self.token_id, "user": self.user, "kind": self.kind}


class LoginLimiter:
    """Sans-IO sliding-window limit on failed logins: at most ``per_user`` failures per user name and
    ``per_client`` per client address within ``window_s``; past that, ``retry_after`` says how long to wait."""

    def __init__(self, *, per_user: int = 5, per_client: int = 20, window_s: float = 300.0) -> None:
        self.per_user = per_user
        self.per_client = per_client
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and found[0] <= now - self.window_s:
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def retry_after(self, user: str, client: str, now: float) -> float:
        """Seconds to wait before ``user`` may try again from ``client`` (0: now)."""
        wait = 0.0
        for key, limit in ((("user", user), self.per_user), (("client", client), self.per_client)):
            recent = self._recent(key, now)
            if len(recent) >= limit:
                wait = max(wait, recent[len(recent) - limit] + self.window_s - now)
        return wait

    def failed(self, user: str, client: str, now: float) -> None:
        for key in (("user", user), ("client", client)):
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # a flood of names: forget the oldest keys first
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, user: str) -> None:
        self._failures.pop(("user", user), None)


class Authenticator:
    """See the module docstring. ``store``: a blocking ``Store`` (calls go to worker threads); ``clock``: Unix
    seconds."""

    def __init__(self, store: Any, *, clock: Callable[[], float] = time.time, cache_s: float = 5.0,
                 limiter: LoginLimiter | None = None) -> None:
        self.store = getattr(store, "sync", store)
        self.clock = clock
        self.cache_s = cache_s
        self.limiter = limiter or LoginLimiter()
        self._cache: dict[str, tuple[float, Principal, float | None]] = {}  # hash -> (checked, who, expires)

    # ------------------------------------------------------------------------------------------ tokens ----

    async def authenticate(self, secret: str | None) -> Principal:
        """The principal of a bearer ``secret``; ``ApiError`` 401 for a missing, unknown, revoked or expired
        token or a disabled user."""
        if not secret:
            raise _unauthenticated("no bearer token (send Authorization: Bearer TOKEN)")
        digest = token_hash(secret)
        now = self.clock()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.cache_s and (cached[2] is None or now < cached[2]):
            return cached[1]
        principal, expires = await trio.to_thread.run_sync(self._lookup, digest, now)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, principal, expires)
        return principal

    def _lookup(self, digest: str, now: float) -> tuple[Principal, float | None]:
        token = self.store.token_by_hash(digest)
        if token is None:
            raise _unauthenticated("unknown token")
        if token.revoked is not None:
            raise _unauthenticated("token revoked")
        if token.expires is not None and now >= token.expires:
            raise _unauthenticated("token expired")
        if token.user is None:
            return Principal(token.name, token.role, token.agent_id, token.teams, token.id, None,
                             token.kind), token.expires
        user = self.store.find_user(token.user)
        if user is None or user.disabled:
            raise _unauthenticated("the token's user is disabled or gone")
        return Principal(user.name, user.role, user.agent_id, user.teams, token.id, user.name,
                         token.kind), token.expires

    def forget(self, token_id: str | None = None) -> None:
        """Drop cached principals (of one token, or all): the next request reads the store again."""
        if token_id is None:
            self._cache.clear()
            return
        for digest, (_, principal, _) in list(self._cache.items()):
            if principal.token_id == token_id:
                del self._cache[digest]

    def issue(self, name: str, role: str, *, kind: str = "api", user: str | None = None,
              agent_id: str | None = None, teams: Iterable[str] = (), ttl_s: float | None = None
              ) -> tuple[str, ApiToken]:
        """Make and store a token (blocking): ``(secret, token)``. The secret exists only in the return value."""
        secret = new_token_secret()
        now = self.clock()
        token = ApiToken(new_token_id(), name, role, kind, user, agent_id, tuple(sorted(set(teams))),
                         token_hash(secret), now, None if ttl_s is None else now + ttl_s)
        self.store.add_token(token)
        return secret, token

    # ------------------------------------------------------------------------------------------- login ----

    async def verify(self, username: str, password: str, client: str) -> User:
        """The user whose name and password these are: ``ApiError`` 429 (with ``Retry-After``) while the user name
        or the client is over its failure limit, 401 for a wrong name or password (the same answer for both, and
        the same cost: a missing user is checked against a dummy hash)."""
        now = self.clock()
        wait = self.limiter.retry_after(username, client, now)
        if wait > 0:
            raise ApiError(429, f"too many failed logins: try again in {math.ceil(wait)} s",
                           headers={"Retry-After": str(math.ceil(wait))})
        user = await trio.to_thread.run_sync(self.store.find_user, username)
        stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
        ok = await trio.to_thread.run_sync(verify_password, password, stored)
        if not ok or user is None or user.disabled or not user.password_hash:
            self.limiter.failed(username, client, self.clock())
            raise _unauthenticated("wrong user name or password")
        self.limiter.succeeded(username)
        return user

    async def login(self, username: str, password: str, client: str) -> tuple[str, ApiToken, User]:
        """A session token (``SESSION_S``) for ``username`` / ``password`` (checked as ``verify`` does)."""
        user = await self.verify(username, password, client)
        secret, token = await trio.to_thread.run_sync(
            lambda: self.issue(f"login {user.name}", user.role, kind="session", user=user.name, ttl_s=SESSION_S))
        return secret, token, user


def _unauthenticated(reason: str) -> ApiError:
    return ApiError(401, reason, headers={"WWW-Authenticate": 'Bearer realm="switchboard"'})


def create_token(store: Any, name: str, role: str, *, agent_id: str | None = None, teams: Iterable[str] = (),
                 ttl_s: float | None = None) -> tuple[str, ApiToken]:
    """A new API token in ``store`` (blocking; what ``switchboard token create`` calls). ``StoreError`` for a bad
    role or name, or an agent token without ``agent_id``."""
    if role == "agent" and not agent_id:
        raise StoreError("an agent token needs --agent (the agent it acts as)")
    return Authenticator(store).issue(name, role, agent_id=agent_id, teams=teams, ttl_s=ttl_s)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-password-anyone-has")
