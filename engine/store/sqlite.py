"""``SqliteStore``: the embedded store, on the standard library's ``sqlite3``.

One connection, opened with ``check_same_thread=False`` and guarded by a lock, so it is used by one thread at a
time whichever thread calls (``AsyncStore``'s workers, a plugin hook in ``PluginManager.acall``'s worker thread).
Autocommit mode with explicit ``BEGIN IMMEDIATE`` / ``COMMIT`` around each method: a method is one transaction.
WAL journal (readers never wait for the writer), foreign keys enforced.

Schema versions: ``schema_version`` holds one row; ``MIGRATIONS[i]`` takes the schema from version ``i`` to
``i + 1`` and every pending one runs, in one transaction, when the file is opened. A file written by a newer
Switchboard (a version beyond ``len(MIGRATIONS)``) is refused rather than guessed at.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.store.access_sql import ACCESS_MIGRATION, AccessStoreMixin
from engine.store.base import (
    OPEN_STATUSES,
    TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Customer,
    Interaction,
    Store,
    Ticket,
    TicketEvent,
    format_reference,
    normalise_identity,
    parse_reference,
)
from engine.store.dnc_sqlite import DncStoreMixin
from engine.store.leads_sqlite import LeadStoreMixin
from engine.store.reports_sql import ReportStoreMixin
from engine.store.tickets_sql import TicketQueryMixin

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE TABLE identities (
        kind TEXT NOT NULL CHECK (kind IN ('phone', 'email', 'chat', 'crm')),
        value TEXT NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        PRIMARY KEY (kind, value)
    );
    CREATE INDEX identities_customer ON identities(customer_id);
    CREATE TABLE interactions (
        contact_id TEXT PRIMARY KEY,
        customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        channel TEXT NOT NULL,
        queue TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        arrived REAL NOT NULL,
        answered REAL,
        ended REAL,
        outcome TEXT NOT NULL DEFAULT '',
        disposition TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX interactions_customer ON interactions(customer_id, arrived);
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
        department TEXT NOT NULL,
        subject TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
        assignee TEXT NOT NULL DEFAULT '',
        contact_id TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX tickets_customer ON tickets(customer_id, status);
    CREATE TABLE ticket_events (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        who TEXT NOT NULL DEFAULT '',
        changes TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);
    """,
    # 1 -> 2: outbound lead lists (engine.store.leads_sqlite)
    """
    CREATE TABLE lead_imports (
        id INTEGER PRIMARY KEY,
        campaign TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        digest TEXT NOT NULL,
        at REAL NOT NULL,
        imported INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        error_count INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE leads (
        campaign TEXT NOT NULL,
        id TEXT NOT NULL,
        phone TEXT NOT NULL,
        timezones TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        value REAL NOT NULL DEFAULT 0,
        fields TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'new'
            CHECK (status IN ('new', 'scheduled', 'done', 'dnc', 'exhausted')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt REAL,
        next_attempt REAL,
        last_outcome TEXT NOT NULL DEFAULT '',
        agent TEXT,
        import_id INTEGER REFERENCES lead_imports(id),
        created REAL NOT NULL,
        PRIMARY KEY (campaign, id),
        UNIQUE (campaign, phone)
    );
    CREATE INDEX leads_due ON leads(campaign, status, next_attempt);
    CREATE INDEX lead_imports_campaign ON lead_imports(campaign, digest);
    """,
    # 2 -> 3: do-not-call and block lists, the compliance audit trail (engine.store.dnc_sqlite)
    """
    CREATE TABLE dnc (
        list TEXT NOT NULL,
        number TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        added REAL NOT NULL,
        PRIMARY KEY (list, number)
    );
    CREATE INDEX dnc_number ON dnc(number);
    CREATE TABLE compliance_audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        number TEXT NOT NULL,
        campaign TEXT NOT NULL DEFAULT '',
        lead TEXT NOT NULL DEFAULT '',
        allowed INTEGER NOT NULL,
        rule TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX compliance_audit_number ON compliance_audit(number, at);
    CREATE INDEX compliance_audit_campaign ON compliance_audit(campaign, at);
    """,
    """
    CREATE TABLE report_intervals (
        dimension TEXT NOT NULL,
        key TEXT NOT NULL,
        start REAL NOT NULL,
        counts TEXT NOT NULL,
        dispositions TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (dimension, key, start)
    );
    CREATE INDEX report_intervals_start ON report_intervals(dimension, start);
    """,
    # 4 -> 5: users, API tokens, the audit trail, call detail records (engine.store.access_sql)
    ACCESS_MIGRATION,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteStore(AccessStoreMixin, ReportStoreMixin, TicketQueryMixin, LeadStoreMixin, DncStoreMixin, Store):
    """The store in one SQLite file (``":memory:"`` for a throw-away one). ``clock`` stamps creations and
    updates (Unix seconds by default; inject one for deterministic tests)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self.clock = clock
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None,
                                                                   check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None

    # -------------------------------------------------------------------------------------------- plumbing ----

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, under the lock: committed on success, rolled back on any exception."""
        with self._lock:
            if self._db is None:
                raise StoreError(f"{self.path}: the store is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: schema version {version} is newer than this Switchboard's "
                                 f"({SCHEMA_VERSION}); upgrade Switchboard")
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            else:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        with self._tx() as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------------------------------- customers ----

    @staticmethod
    def _customer(db: sqlite3.Connection, customer_id: int) -> Customer | None:
        row = db.execute("SELECT id, name, attributes, created FROM customers WHERE id = ?",
                         (customer_id,)).fetchone()
        if row is None:
            return None
        identities = db.execute("SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY kind, value",
                                (customer_id,)).fetchall()
        return Customer(row[0], row[1], json.loads(row[2]), tuple((k, v) for k, v in identities), row[3])

    def _need_customer(self, db: sqlite3.Connection, customer_id: int) -> Customer:
        found = self._customer(db, customer_id)
        if found is None:
            raise StoreError(f"customer {customer_id!r}: no such customer")
        return found

    def find_customer(self, kind: str, value: str) -> Customer | None:
        value = normalise_identity(kind, value)
        with self._tx() as db:
            row = db.execute("SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                             (kind, value)).fetchone()
            return None if row is None else self._customer(db, row[0])

    def customer(self, customer_id: int) -> Customer:
        with self._tx() as db:
            return self._need_customer(db, customer_id)

    def find_or_create_customer(self, kind: str, value: str, name: str = "",
                                attributes: dict[str, Any] | None = None) -> Customer:
        value = normalise_identity(kind, value)
        with self._tx() as db:
            row = db.execute("SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                             (kind, value)).fetchone()
            if row is not None:
                return self._need_customer(db, row[0])
            cur = db.execute("INSERT INTO customers (name, attributes, created) VALUES (?, ?, ?)",
                             (name, _dumps(attributes or {}, "attributes"), self.clock()))
            customer_id = int(cur.lastrowid or 0)
            db.execute("INSERT INTO identities (kind, value, customer_id) VALUES (?, ?, ?)",
                       (kind, value, customer_id))
            return self._need_customer(db, customer_id)

    def link_identity(self, customer_id: int, kind: str, value: str) -> Customer:
        value = normalise_identity(kind, value)
        with self._tx() as db:
            self._need_customer(db, customer_id)
            row = db.execute("SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                             (kind, value)).fetchone()
            if row is not None and row[0] != customer_id:
                raise StoreError(f"{kind} identity {value!r} already belongs to customer {row[0]}, "
                                 f"not {customer_id}")
            if row is None:
                db.execute("INSERT INTO identities (kind, value, customer_id) VALUES (?, ?, ?)",
                           (kind, value, customer_id))
            return self._need_customer(db, customer_id)

    def update_customer(self, customer_id: int, *, name: str | None = None,
                        attributes: dict[str, Any] | None = None) -> Customer:
        with self._tx() as db:
            current = self._need_customer(db, customer_id)
            merged = dict(current.attributes)
            for key, value in (attributes or {}).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            db.execute("UPDATE customers SET name = ?, attributes = ? WHERE id = ?",
                       (current.name if name is None else name, _dumps(merged, "attributes"), customer_id))
            return self._need_customer(db, customer_id)

    # ---------------------------------------------------------------------------------------- interactions ----

    def record_interaction(self, interaction: Interaction) -> Interaction:
        i = interaction
        if not isinstance(i.contact_id, str) or not i.contact_id:
            raise StoreError("interaction contact_id: empty")
        with self._tx() as db:
            if i.customer_id is not None:
                self._need_customer(db, i.customer_id)
            db.execute(
                "INSERT INTO interactions (contact_id, customer_id, channel, queue, agent, arrived, answered, ended,"
                " outcome, disposition, notes, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (contact_id) DO UPDATE SET customer_id = excluded.customer_id,"
                " channel = excluded.channel, queue = excluded.queue, agent = excluded.agent,"
                " arrived = excluded.arrived, answered = excluded.answered, ended = excluded.ended,"
                " outcome = excluded.outcome, disposition = excluded.disposition, notes = excluded.notes,"
                " data = excluded.data",
                (i.contact_id, i.customer_id, i.channel, i.queue, i.agent, i.arrived, i.answered, i.ended,
                 i.outcome, i.disposition, i.notes, _dumps(i.data, f"interaction {i.contact_id} data")))
        return interaction

    def history(self, customer_id: int, limit: int = 50) -> list[Interaction]:
        if not isinstance(limit, int) or limit < 1:
            raise StoreError(f"history limit: expected a positive integer, got {limit!r}")
        with self._tx() as db:
            self._need_customer(db, customer_id)
            rows = db.execute(
                "SELECT contact_id, customer_id, channel, queue, agent, arrived, answered, ended, outcome,"
                " disposition, notes, data FROM interactions WHERE customer_id = ?"
                " ORDER BY arrived DESC, contact_id DESC LIMIT ?", (customer_id, limit)).fetchall()
        return [Interaction(*row[:11], data=json.loads(row[11])) for row in rows]

    # --------------------------------------------------------------------------------------------- tickets ----

    @staticmethod
    def _ticket(db: sqlite3.Connection, number: int) -> Ticket | None:
        row = db.execute("SELECT id, customer_id, department, subject, status, assignee, contact_id, created,"
                         " updated FROM tickets WHERE id = ?", (number,)).fetchone()
        if row is None:
            return None
        events = tuple(TicketEvent(at, who, json.loads(changes), note) for at, who, changes, note in db.execute(
            "SELECT at, who, changes, note FROM ticket_events WHERE ticket_id = ? ORDER BY id", (number,)))
        return Ticket(format_reference(row[0]), *row[1:], events=events)

    def create_ticket(self, customer_id: int | None, department: str, subject: str, *, contact_id: str = "",
                      assignee: str = "", note: str = "", who: str = "") -> Ticket:
        for name, value in (("department", department), ("subject", subject)):
            if not isinstance(value, str) or not value.strip():
                raise StoreError(f"ticket {name}: empty")
        now = self.clock()
        with self._tx() as db:
            if customer_id is not None:
                self._need_customer(db, customer_id)
            cur = db.execute("INSERT INTO tickets (customer_id, department, subject, status, assignee, contact_id,"
                             " created, updated) VALUES (?, ?, ?, 'open', ?, ?, ?, ?)",
                             (customer_id, department.strip(), subject.strip(), assignee, contact_id, now, now))
            number = int(cur.lastrowid or 0)
            changes = {"status": [None, "open"], "department": [None, department.strip()]}
            if assignee:
                changes["assignee"] = [None, assignee]
            db.execute("INSERT INTO ticket_events (ticket_id, at, who, changes, note) VALUES (?, ?, ?, ?, ?)",
                       (number, now, who, json.dumps(changes), note))
            ticket = self._ticket(db, number)
        assert ticket is not None
        return ticket

    def update_ticket(self, reference: str, *, status: str | None = None, assignee: str | None = None,
                      department: str | None = None, note: str = "", who: str = "") -> Ticket:
        number = parse_reference(reference)
        if status is not None and status not in TICKET_STATUSES:
            raise StoreError(f"ticket {format_reference(number)} status {status!r}: expected one of "
                             f"{', '.join(TICKET_STATUSES)}")
        if department is not None and not department.strip():
            raise StoreError(f"ticket {format_reference(number)} department: empty")
        now = self.clock()
        with self._tx() as db:
            current = self._ticket(db, number)
            if current is None:
                raise StoreError(f"ticket {reference!r}: no such ticket")
            changes: dict[str, list[Any]] = {}
            if status is not None and status != current.status:
                allowed = TICKET_TRANSITIONS[current.status]
                if status not in allowed:
                    raise StoreError(f"ticket {current.reference} status: cannot go from {current.status!r} to "
                                     f"{status!r} (allowed: {', '.join(allowed) or 'none, it is final'})")
                changes["status"] = [current.status, status]
            if assignee is not None and assignee != current.assignee:
                changes["assignee"] = [current.assignee, assignee]
            if department is not None and department.strip() != current.department:
                changes["department"] = [current.department, department.strip()]
            if not changes and not note:
                raise StoreError(f"ticket {current.reference}: nothing to change and no note")
            new = {key: value[1] for key, value in changes.items()}
            db.execute("UPDATE tickets SET status = ?, assignee = ?, department = ?, updated = ? WHERE id = ?",
                       (new.get("status", current.status), new.get("assignee", current.assignee),
                        new.get("department", current.department), now, number))
            db.execute("INSERT INTO ticket_events (ticket_id, at, who, changes, note) VALUES (?, ?, ?, ?, ?)",
                       (number, now, who, json.dumps(changes), note))
            ticket = self._ticket(db, number)
        assert ticket is not None
        return ticket

    def find_ticket(self, reference: str) -> Ticket | None:
        number = parse_reference(reference)
        with self._tx() as db:
            return self._ticket(db, number)

    def open_tickets(self, customer_id: int) -> list[Ticket]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        with self._tx() as db:
            numbers = [row[0] for row in db.execute(
                f"SELECT id FROM tickets WHERE customer_id = ? AND status IN ({marks}) ORDER BY id DESC",
                (customer_id, *OPEN_STATUSES))]
            return [t for t in (self._ticket(db, n) for n in numbers) if t is not None]


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: not JSON-serialisable: {exc}") from None
