"""Users, API tokens, the audit trail and call detail records in the store: the ``AccessStoreMixin`` half of the
store (schema: ``MIGRATIONS[4]``), in SQL both backends accept (``?`` placeholders, ``ON CONFLICT``,
``RETURNING``). Contracts are on ``engine.store.base.Store``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from engine.errors import StoreError
from engine.store.access_records import ROLES, TOKEN_KINDS, ApiToken, AuditEntry, Cdr, User

MAX_PAGE = 1000
_USER_COLUMNS = "name, role, password_hash, agent_id, teams, disabled, created, updated, version"
_TOKEN_COLUMNS = "id, name, role, kind, user_name, agent_id, teams, secret_hash, created, expires, revoked"
_CDR_COLUMNS = ("contact_id, channel, customer, queue, agent_id, arrived, answered, ended, outcome, disposition,"
                " notes, history, data, recorded, agents")

ACCESS_MIGRATION = """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
        password_hash TEXT NOT NULL DEFAULT '',
        agent_id TEXT,
        teams TEXT NOT NULL DEFAULT '[]',
        disabled INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
        kind TEXT NOT NULL CHECK (kind IN ('api', 'session')),
        user_name TEXT REFERENCES users(name) ON DELETE CASCADE,
        agent_id TEXT,
        teams TEXT NOT NULL DEFAULT '[]',
        secret_hash TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        expires REAL,
        revoked REAL
    );
    CREATE INDEX api_tokens_user ON api_tokens(user_name);
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_at ON audit_log(at);
    CREATE TABLE cdrs (
        contact_id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        customer TEXT NOT NULL,
        queue TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        arrived REAL NOT NULL,
        answered REAL,
        ended REAL NOT NULL,
        outcome TEXT NOT NULL,
        disposition TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        history TEXT NOT NULL DEFAULT '[]',
        data TEXT NOT NULL DEFAULT '{}',
        recorded REAL NOT NULL,
        agents TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX cdrs_recorded ON cdrs(recorded, contact_id);
    CREATE INDEX cdrs_customer ON cdrs(customer, recorded);
    CREATE TABLE cdr_agents (
        contact_id TEXT NOT NULL REFERENCES cdrs(contact_id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL,
        recorded REAL NOT NULL,
        PRIMARY KEY (agent_id, contact_id)
    );
    CREATE INDEX cdr_agents_recorded ON cdr_agents(agent_id, recorded, contact_id);
"""


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"role {role!r}: expected one of {', '.join(ROLES)}")


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise StoreError(f"limit: expected an integer 1..{MAX_PAGE}, got {limit!r}")


def _user(row: Any) -> User:
    return User(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), bool(row[5]), row[6], row[7], row[8])


def _token(row: Any) -> ApiToken:
    return ApiToken(row[0], row[1], row[2], row[3], row[4], row[5], tuple(json.loads(row[6])), row[7], row[8],
                    row[9], row[10])


def _cdr(row: Any) -> Cdr:
    history = tuple((float(s[0]), str(s[1]), str(s[2]), str(s[3])) for s in json.loads(row[11]))
    return Cdr(*row[:11], history=history, data=json.loads(row[12]), recorded=row[13],  # type: ignore[misc]
               agents=tuple(json.loads(row[14])))


class AccessStoreMixin:
    """See the module docstring. Needs ``_tx()`` (one transaction) and ``clock`` from the store."""

    _tx: Callable[..., AbstractContextManager[Any]]  # (*, durable: bool = True)
    clock: Callable[[], float]

    # ------------------------------------------------------------------------------------------------ users ----

    def create_user(self, name: str, role: str, *, password_hash: str = "", agent_id: str | None = None,
                    teams: Iterable[str] = ()) -> User:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise StoreError(f"user name {name!r}: must be non-empty without surrounding blanks")
        _check_role(role)
        if role == "agent" and not agent_id:
            raise StoreError(f"user {name!r}: an agent user needs agent_id")
        now = self.clock()
        with self._tx() as db:
            found = db.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
            if found is not None:
                raise StoreError(f"user {name!r}: already exists")
            db.execute(f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                       (name, role, password_hash, agent_id, json.dumps(sorted(set(teams))), 0, now, now))
            return _user(db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone())

    def find_user(self, name: str) -> User | None:
        with self._tx() as db:
            row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else _user(row)

    def user(self, name: str) -> User:
        found = self.find_user(name)
        if found is None:
            raise StoreError(f"user {name!r}: no such user")
        return found

    def users(self, *, role: str | None = None) -> list[User]:
        if role is not None:
            _check_role(role)
        sql = f"SELECT {_USER_COLUMNS} FROM users"
        params: tuple[Any, ...] = ()
        if role is not None:
            sql, params = sql + " WHERE role = ?", (role,)
        with self._tx() as db:
            return [_user(row) for row in db.execute(sql + " ORDER BY name", params).fetchall()]

    def update_user(self, name: str, *, role: str | None = None, password_hash: str | None = None,
                    agent_id: str | None = None, teams: Iterable[str] | None = None,
                    disabled: bool | None = None, clear_agent: bool = False) -> User:
        if role is not None:
            _check_role(role)
        with self._tx() as db:
            row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(f"user {name!r}: no such user")
            user = _user(row)
            new_role = role if role is not None else user.role
            new_agent = None if clear_agent else (agent_id if agent_id is not None else user.agent_id)
            if new_role == "agent" and not new_agent:
                raise StoreError(f"user {name!r}: an agent user needs agent_id")
            db.execute("UPDATE users SET role = ?, password_hash = ?, agent_id = ?, teams = ?, disabled = ?,"
                       " updated = ?, version = version + 1 WHERE name = ?",
                       (new_role, user.password_hash if password_hash is None else password_hash, new_agent,
                        json.dumps(sorted(set(user.teams if teams is None else teams))),
                        int(user.disabled if disabled is None else disabled), self.clock(), name))
            if disabled or password_hash is not None:  # a disabled user or a new password: sessions end
                db.execute("UPDATE api_tokens SET revoked = ? WHERE user_name = ? AND revoked IS NULL"
                           " AND kind = 'session'", (self.clock(), name))
            if disabled:
                db.execute("UPDATE api_tokens SET revoked = ? WHERE user_name = ? AND revoked IS NULL",
                           (self.clock(), name))
            return _user(db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone())

    def delete_user(self, name: str) -> None:
        with self._tx() as db:
            found = db.execute("DELETE FROM users WHERE name = ? RETURNING name", (name,)).fetchone()
            if found is None:
                raise StoreError(f"user {name!r}: no such user")

    # ----------------------------------------------------------------------------------------------- tokens ----

    def add_token(self, token: ApiToken) -> ApiToken:
        _check_role(token.role)
        if token.kind not in TOKEN_KINDS:
            raise StoreError(f"token kind {token.kind!r}: expected one of {', '.join(TOKEN_KINDS)}")
        if not token.id or not token.secret_hash:
            raise StoreError("token: id and secret_hash are required")
        if not isinstance(token.name, str) or not token.name.strip():
            raise StoreError("token name: empty")
        with self._tx() as db:
            if token.user is not None and db.execute("SELECT 1 FROM users WHERE name = ?",
                                                     (token.user,)).fetchone() is None:
                raise StoreError(f"token user {token.user!r}: no such user")
            if db.execute("SELECT 1 FROM api_tokens WHERE id = ?", (token.id,)).fetchone() is not None:
                raise StoreError(f"token {token.id!r}: already exists")
            db.execute(f"INSERT INTO api_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (token.id, token.name.strip(), token.role, token.kind, token.user, token.agent_id,
                        json.dumps(list(token.teams)), token.secret_hash, token.created, token.expires,
                        token.revoked))
        return token

    def token_by_hash(self, secret_hash: str) -> ApiToken | None:
        with self._tx() as db:
            row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = ?",
                             (secret_hash,)).fetchone()
        return None if row is None else _token(row)

    def token(self, token_id: str) -> ApiToken:
        with self._tx() as db:
            row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise StoreError(f"token {token_id!r}: no such token")
        return _token(row)

    def tokens(self, *, user: str | None = None, include_revoked: bool = False) -> list[ApiToken]:
        sql = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE 1 = 1"
        params: list[Any] = []
        if user is not None:
            sql += " AND user_name = ?"
            params.append(user)
        if not include_revoked:
            sql += " AND revoked IS NULL"
        with self._tx() as db:
            return [_token(row) for row in db.execute(sql + " ORDER BY created, id", params).fetchall()]

    def revoke_token(self, token_id: str) -> ApiToken:
        with self._tx() as db:
            row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
            if row is None:
                raise StoreError(f"token {token_id!r}: no such token")
            if row[10] is None:
                db.execute("UPDATE api_tokens SET revoked = ? WHERE id = ?", (self.clock(), token_id))
            return _token(db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?",
                                     (token_id,)).fetchone())

    # ------------------------------------------------------------------------------------------------ audit ----

    def add_audit(self, who: str, action: str, target: str, details: dict[str, Any] | None = None, *,
                  at: float | None = None) -> AuditEntry:
        for label, value in (("who", who), ("action", action), ("target", target)):
            if not isinstance(value, str) or not value:
                raise StoreError(f"audit {label}: empty")
        when = self.clock() if at is None else at
        try:
            text = json.dumps(details or {}, sort_keys=True, default=str)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"audit details: not JSON-serialisable: {exc}") from None
        with self._tx() as db:
            row = db.execute("INSERT INTO audit_log (at, who, action, target, details) VALUES (?, ?, ?, ?, ?)"
                             " RETURNING id", (when, who, action, target, text)).fetchone()
        return AuditEntry(int(row[0]), when, who, action, target, json.loads(text))

    def audit(self, *, who: str | None = None, target: str | None = None, since: float | None = None,
              until: float | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        _check_limit(limit)
        sql = "SELECT id, at, who, action, target, details FROM audit_log WHERE 1 = 1"
        params: list[Any] = []
        for clause, value in ((" AND who = ?", who), (" AND target = ?", target), (" AND at >= ?", since),
                              (" AND at < ?", until), (" AND id < ?", before_id)):
            if value is not None:
                sql += clause
                params.append(value)
        with self._tx() as db:
            rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    # ------------------------------------------------------------------------------------------------- cdrs ----

    def add_cdrs(self, records: Iterable[Cdr]) -> int:
        records = list(records)
        rows = []
        for cdr in records:
            if not isinstance(cdr.contact_id, str) or not cdr.contact_id:
                raise StoreError("cdr contact_id: empty")
            try:
                rows.append((cdr.contact_id, cdr.channel, cdr.customer, cdr.queue, cdr.agent_id, cdr.arrived,
                             cdr.answered, cdr.ended, cdr.outcome, cdr.disposition, cdr.notes,
                             json.dumps([list(s) for s in cdr.history]), json.dumps(cdr.data, sort_keys=True),
                             cdr.recorded, json.dumps(list(cdr.agents))))
            except (TypeError, ValueError) as exc:
                raise StoreError(f"cdr {cdr.contact_id}: not JSON-serialisable: {exc}") from None
        with self._tx(durable=False) as db:
            for row, cdr in zip(rows, records, strict=True):
                # A replayed journal emits the same record again: the later write wins, nothing is doubled. The
                # agents of the earlier write are deleted by the primary key (agent_id, contact_id): a DELETE by
                # contact_id alone scans the whole table, once per record.
                before = db.execute("SELECT agents FROM cdrs WHERE contact_id = ?", (cdr.contact_id,)).fetchone()
                db.execute(f"INSERT INTO cdrs ({_CDR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (contact_id) DO UPDATE SET channel = excluded.channel,"
                           " customer = excluded.customer, queue = excluded.queue, agent_id = excluded.agent_id,"
                           " arrived = excluded.arrived, answered = excluded.answered, ended = excluded.ended,"
                           " outcome = excluded.outcome, disposition = excluded.disposition,"
                           " notes = excluded.notes, history = excluded.history, data = excluded.data,"
                           " recorded = excluded.recorded, agents = excluded.agents", row)
                for agent in json.loads(before[0]) if before is not None else ():
                    db.execute("DELETE FROM cdr_agents WHERE agent_id = ? AND contact_id = ?", (agent, cdr.contact_id))
                for agent in cdr.agents:
                    db.execute("INSERT INTO cdr_agents (contact_id, agent_id, recorded) VALUES (?, ?, ?)",
                               (cdr.contact_id, agent, cdr.recorded))
        return len(records)

    def cdr(self, contact_id: str) -> Cdr | None:
        with self._tx() as db:
            row = db.execute(f"SELECT {_CDR_COLUMNS} FROM cdrs WHERE contact_id = ?", (contact_id,)).fetchone()
        return None if row is None else _cdr(row)

    def cdrs(self, *, since: float | None = None, until: float | None = None, queue: str | None = None,
             agent: str | None = None, customer: str | None = None, outcome: str | None = None,
             channel: str | None = None, after: tuple[float, str] | None = None,
             limit: int = 100) -> list[Cdr]:
        _check_limit(limit)
        columns = ", ".join(f"c.{c.strip()}" for c in _CDR_COLUMNS.split(","))
        sql = f"SELECT {columns} FROM cdrs c"
        params: list[Any] = []
        if agent is not None:
            sql += " JOIN cdr_agents a ON a.contact_id = c.contact_id AND a.agent_id = ?"
            params.append(agent)
        sql += " WHERE 1 = 1"
        for clause, value in ((" AND c.recorded >= ?", since), (" AND c.recorded < ?", until),
                              (" AND c.queue = ?", queue), (" AND c.customer = ?", customer),
                              (" AND c.outcome = ?", outcome), (" AND c.channel = ?", channel)):
            if value is not None:
                sql += clause
                params.append(value)
        if after is not None:
            sql += " AND (c.recorded > ? OR (c.recorded = ? AND c.contact_id > ?))"
            params.extend((after[0], after[0], after[1]))
        with self._tx() as db:
            rows = db.execute(sql + " ORDER BY c.recorded, c.contact_id LIMIT ?", (*params, limit)).fetchall()
        return [_cdr(row) for row in rows]


__all__ = ["ACCESS_MIGRATION", "AccessStoreMixin"]
