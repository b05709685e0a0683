"""``SqlStore``: the store on a relational database, whatever the backend.

Everything the store does is here and in its mixins (``leads_sql``, ``dnc_sql``, ``reports_sql``,
``access_sql``, ``tickets_sql``), in the SQL both backends accept (``engine.store.dialect``); ``SqliteStore`` and
``PostgresStore`` only open the connection, begin a transaction and say which of their driver's errors mean the
database failed.

The contract every method keeps: it is one transaction (``_tx()``), committed when it returns and rolled back
when it raises, and transactions never overlap: one connection per store, guarded by a lock, so the store is used
by one thread at a time whichever thread calls (``AsyncStore``'s workers, a plugin hook in a worker thread);
each backend also keeps other processes' transactions from interleaving with this one (see its module).

Schema versions (``engine.store.schema``): ``schema_version`` holds one row; every pending migration runs, in
one transaction, when the store is opened. A database written by a newer Switchboard (a version beyond
``SCHEMA_VERSION``) is refused rather than guessed at.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from engine.errors import StoreError, StoreUnavailable
from engine.store.access_sql import AccessStoreMixin
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
from engine.store.dialect import split_script
from engine.store.dnc_sql import DncStoreMixin
from engine.store.leads_sql import LeadStoreMixin
from engine.store.reports_sql import ReportStoreMixin
from engine.store.schema import MIGRATIONS, SCHEMA_TABLE, SCHEMA_VERSION
from engine.store.tickets_sql import TicketQueryMixin


class SqlStore(AccessStoreMixin, ReportStoreMixin, TicketQueryMixin, LeadStoreMixin, DncStoreMixin, Store):
    """The shared implementation. A backend sets ``target`` (what ``open_store`` was given), ``where`` (how
    messages name the store: never a password), ``clock`` and ``_db`` (its connection, whose ``execute(sql,
    params)`` takes the store's dialect and returns a DB-API cursor), then calls ``_migrate()``."""

    target: str
    where: str
    clock: Callable[[], float]
    _db: Any
    _lock: threading.RLock

    # -------------------------------------------------------------------------------------------- backend ----

    @abstractmethod
    def _begin(self, durable: bool = True) -> Any:
        """Start a transaction on the connection and return the connection (the lock is held). ``durable``:
        its commit must survive a power cut, not only a crash of the process (see ``_tx``)."""

    def _failure(self, exc: BaseException) -> StoreUnavailable | None:
        """The ``StoreUnavailable`` to raise instead of a driver's ``exc`` when ``exc`` is the database failing
        rather than the statement (the connection lost, a lock not granted in time); ``None`` for any other error,
        which propagates as it is."""
        return None

    def _ddl(self, statement: str) -> str:
        """A migration statement in the backend's own types."""
        return statement

    # -------------------------------------------------------------------------------------------- plumbing ----

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[Any]:
        """One transaction, under the lock: committed on success, rolled back on any exception.

        ``durable=False`` is for the high-rate records derived from the journal (CDRs, report counters, the
        built-in CRM's interactions, lead attempts): a backend may commit them without waiting for the disk
        (SQLite's ``synchronous = NORMAL`` in WAL mode: a power cut may lose the last of them, a crash of the
        process loses nothing and nothing is ever corrupted), which makes a commit some 20 times cheaper. Users,
        tokens, the audit trails, lists and imports stay durable."""
        with self._lock:
            if self._db is None:
                raise StoreError(f"{self.where}: the store is closed")
            db = self._begin(durable)
            try:
                yield db
            except BaseException as exc:
                self._finish(db, "ROLLBACK")
                failure = self._failure(exc)
                if failure is not None:
                    raise failure from None
                raise
            self._finish(db, "COMMIT")

    def _finish(self, db: Any, verb: str) -> None:
        try:
            db.execute(verb)
        except Exception as exc:
            failure = self._failure(exc)
            if failure is None:
                raise
            raise failure from None

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute(self._ddl(SCHEMA_TABLE))
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.where}: schema version {version} is newer than this Switchboard's "
                                 f"({SCHEMA_VERSION}); upgrade Switchboard")
            for script in MIGRATIONS[version:]:
                for statement in split_script(script):
                    db.execute(self._ddl(statement))
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
    def _customer(db: Any, customer_id: int) -> Customer | None:
        row = db.execute("SELECT id, name, attributes, created FROM customers WHERE id = ?",
                         (customer_id,)).fetchone()
        if row is None:
            return None
        identities = db.execute("SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY kind, value",
                                (customer_id,)).fetchall()
        return Customer(row[0], row[1], json.loads(row[2]), tuple((k, v) for k, v in identities), row[3])

    def _need_customer(self, db: Any, customer_id: int) -> Customer:
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
        with self._tx(durable=False) as db:
            row = db.execute("SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                             (kind, value)).fetchone()
            if row is not None:
                return self._need_customer(db, row[0])
            customer_id = int(db.execute("INSERT INTO customers (name, attributes, created) VALUES (?, ?, ?)"
                                         " RETURNING id",
                                         (name, _dumps(attributes or {}, "attributes"), self.clock())
                                         ).fetchone()[0])
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
        with self._tx(durable=False) as db:
            if i.customer_id is not None:
                self._need_customer(db, i.customer_id)
            self._insert_interaction(db, i)
        return interaction

    @staticmethod
    def _insert_interaction(db: Any, i: Interaction) -> None:
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

    def record_customer_interaction(self, kind: str, value: str, interaction: Interaction) -> Interaction:
        value = normalise_identity(kind, value)
        with self._tx(durable=False) as db:  # one transaction, no re-reads: the CRM writes one per contact
            row = db.execute("SELECT customer_id FROM identities WHERE kind = ? AND value = ?",
                             (kind, value)).fetchone()
            if row is not None:
                customer_id = int(row[0])
            else:
                customer_id = int(db.execute("INSERT INTO customers (name, attributes, created) VALUES (?, ?, ?)"
                                             " RETURNING id", ("", "{}", self.clock())).fetchone()[0])
                db.execute("INSERT INTO identities (kind, value, customer_id) VALUES (?, ?, ?)",
                           (kind, value, customer_id))
            recorded = dataclasses.replace(interaction, customer_id=customer_id)
            self._insert_interaction(db, recorded)
        return recorded

    def history(self, customer_id: int, limit: int = 50) -> list[Interaction]:
        if not isinstance(limit, int) or limit < 1:
            raise StoreError(f"history limit: expected a positive integer, got {limit!r}")
        with self._tx() as db:
            self._need_customer(db, customer_id)
            rows = db.execute(
                "SELECT contact_id, customer_id, channel, queue, agent, arrived, answered, ended, outcome,"
                " disposition, notes, data FROM interactions WHERE customer_id = ?"
                " ORDER BY arrived DESC, contact_id DESC LIMIT ?", (customer_id, limit)).fetchall()
        return [Interaction(*row[:11], data=json.loads(row[11])) for row in rows]  # type: ignore[misc]

    # --------------------------------------------------------------------------------------------- tickets ----

    @staticmethod
    def _ticket(db: Any, number: int) -> Ticket | None:
        row = db.execute("SELECT id, customer_id, department, subject, status, assignee, contact_id, created,"
                         " updated FROM tickets WHERE id = ?", (number,)).fetchone()
        if row is None:
            return None
        events = tuple(TicketEvent(at, who, json.loads(changes), note) for at, who, changes, note in db.execute(
            "SELECT at, who, changes, note FROM ticket_events WHERE ticket_id = ? ORDER BY id", (number,)))
        return Ticket(format_reference(row[0]), *row[1:], events=events)  # type: ignore[misc]

    def create_ticket(self, customer_id: int | None, department: str, subject: str, *, contact_id: str = "",
                      assignee: str = "", note: str = "", who: str = "") -> Ticket:
        for name, value in (("department", department), ("subject", subject)):
            if not isinstance(value, str) or not value.strip():
                raise StoreError(f"ticket {name}: empty")
        now = self.clock()
        with self._tx() as db:
            if customer_id is not None:
                self._need_customer(db, customer_id)
            number = int(db.execute("INSERT INTO tickets (customer_id, department, subject, status, assignee,"
                                    " contact_id, created, updated) VALUES (?, ?, ?, 'open', ?, ?, ?, ?)"
                                    " RETURNING id",
                                    (customer_id, department.strip(), subject.strip(), assignee, contact_id, now,
                                     now)).fetchone()[0])
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


__all__ = ["SqlStore"]
