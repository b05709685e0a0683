"""Listing tickets with filters: the ``TicketQueryMixin`` half of the store, in SQL both backends accept (``?``
placeholders, sub-selects; no schema of its own: it reads ``tickets``, ``interactions`` and ``cdr_agents``).
The contract is ``engine.store.base.Store.tickets``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from engine.errors import StoreError
from engine.store.base import TICKET_STATUSES, Ticket, parse_reference

MAX_PAGE = 1000


class TicketQueryMixin:
    """See the module docstring. Needs ``_tx()`` (one transaction) and ``_ticket(db, number)`` from the store."""

    _tx: Callable[..., AbstractContextManager[Any]]  # (*, durable: bool = True)
    _ticket: Callable[[Any, int], Ticket | None]

    def tickets(self, *, status: str | None = None, department: str | None = None, assignee: str | None = None,
                customer_id: int | None = None, reference: str | None = None, seen_by_agent: str | None = None,
                also_contacts: Iterable[str] = (), also_customers: Iterable[int] = (),
                before: int | None = None, limit: int = 100) -> list[Ticket]:
        if status is not None and status not in TICKET_STATUSES:
            raise StoreError(f"ticket status {status!r}: expected one of {', '.join(TICKET_STATUSES)}")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise StoreError(f"limit: expected an integer 1..{MAX_PAGE}, got {limit!r}")
        sql = "SELECT t.id FROM tickets t WHERE 1 = 1"
        params: list[Any] = []
        for clause, value in ((" AND t.status = ?", status), (" AND t.department = ?", department),
                              (" AND t.assignee = ?", assignee), (" AND t.customer_id = ?", customer_id),
                              (" AND t.id = ?", None if reference is None else parse_reference(reference)),
                              (" AND t.id < ?", before)):
            if value is not None:
                sql += clause
                params.append(value)
        if seen_by_agent is not None:
            contacts, customers = sorted(set(also_contacts)), sorted(set(also_customers))
            sql += (" AND (t.assignee = ?"
                    " OR t.contact_id IN (SELECT contact_id FROM cdr_agents WHERE agent_id = ?)"
                    " OR t.customer_id IN (SELECT i.customer_id FROM interactions i"
                    " JOIN cdr_agents a ON a.contact_id = i.contact_id WHERE a.agent_id = ?)")
            params.extend((seen_by_agent, seen_by_agent, seen_by_agent))
            if contacts:
                sql += f" OR t.contact_id IN ({', '.join('?' for _ in contacts)})"
                params.extend(contacts)
            if customers:
                sql += f" OR t.customer_id IN ({', '.join('?' for _ in customers)})"
                params.extend(customers)
            sql += ")"
        with self._tx() as db:
            numbers = [row[0] for row in db.execute(sql + " ORDER BY t.id DESC LIMIT ?", (*params, limit))]
            return [t for t in (self._ticket(db, n) for n in numbers) if t is not None]


__all__ = ["TicketQueryMixin"]
