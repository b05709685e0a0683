"""Lead lists in the store: the ``LeadStoreMixin`` part of ``SqlStore`` (schema: ``MIGRATIONS[1]``).

A lead is one row of ``leads``, unique by ``(campaign, id)`` and by ``(campaign, phone)``: a number is in a
campaign at most once, whichever file brought it. ``status`` is one of ``engine.leads.LEAD_STATUSES``. Each call of
``import_leads`` is one row of ``lead_imports`` (its counts, the file's digest and its row errors as JSON, at most
``MAX_STORED_ERRORS`` of them; ``error_count`` is the true number).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from engine.errors import StoreError
from engine.leads import FINAL_LEAD_STATUSES, LEAD_STATUSES, OPEN_LEAD_STATUSES, ImportResult, LeadImport, RowError
from engine.model import Lead

MAX_STORED_ERRORS = 10_000
"""Row errors kept in ``lead_imports.errors`` per import (the result returned to the caller has them all)."""
MAX_LIMIT = 100_000

_LEAD_COLUMNS = ("id, campaign, phone, timezones, priority, value, fields, attempts, last_attempt, next_attempt,"
                 " agent")


def _lead(row: tuple[Any, ...]) -> Lead:
    return Lead(id=row[0], campaign=row[1], phone=row[2], timezones=tuple(json.loads(row[3])), priority=row[4],
                value=row[5], fields=json.loads(row[6]), attempts=row[7], last_attempt=row[8],
                next_attempt=row[9], agent=row[10])


def _campaign(campaign: str) -> str:
    if not isinstance(campaign, str) or not campaign.strip():
        raise StoreError("lead campaign: empty")
    return campaign


def _count(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > MAX_LIMIT:
        raise StoreError(f"leads {name}: expected an integer from {minimum} to {MAX_LIMIT}, got {value!r}")
    return value


class LeadStoreMixin:
    """Lead methods of ``SqlStore``; they use its ``_tx()`` transaction helper and ``clock``."""

    clock: Callable[[], float]
    _tx: Callable[..., AbstractContextManager[Any]]  # (*, durable: bool = True)

    def import_leads(self, campaign: str, parsed: LeadImport, *, source: str = "") -> ImportResult:
        _campaign(campaign)
        if parsed.campaign != campaign:
            raise StoreError(f"import_leads: the file was parsed for campaign {parsed.campaign!r}, "
                             f"not {campaign!r}")
        source = source or parsed.source
        now = self.clock()
        errors = list(parsed.errors)
        imported = 0
        with self._tx() as db:
            row = db.execute("SELECT id FROM lead_imports WHERE campaign = ? AND digest = ? ORDER BY id LIMIT 1",
                             (campaign, parsed.digest)).fetchone()
            same_file_as = None if row is None else int(row[0])
            import_id = int(db.execute("INSERT INTO lead_imports (campaign, source, digest, at, imported, rejected)"
                                       " VALUES (?, ?, ?, ?, 0, 0) RETURNING id",
                                       (campaign, source, parsed.digest, now)).fetchone()[0])
            for line, lead in zip(parsed.lines, parsed.leads, strict=True):
                if lead.campaign != campaign:
                    raise StoreError(f"lead {lead.id!r} (line {line}): campaign {lead.campaign!r}, not {campaign!r}")
                cur = db.execute(
                    "INSERT INTO leads (campaign, id, phone, timezones, priority, value, fields, status, attempts,"
                    " last_attempt, next_attempt, agent, import_id, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (campaign, lead.id, lead.phone, json.dumps(list(lead.timezones)), lead.priority, lead.value,
                     json.dumps(lead.fields, sort_keys=True), lead.attempts, lead.last_attempt, lead.next_attempt,
                     lead.agent, import_id, now))
                if cur.rowcount == 1:
                    imported += 1
                    continue
                errors.append(self._conflict(db, campaign, lead, line))
            errors.sort(key=lambda e: e.line)
            rejected = len({e.line for e in errors})
            db.execute("UPDATE lead_imports SET imported = ?, rejected = ?, error_count = ?, errors = ?"
                       " WHERE id = ?",
                       (imported, rejected, len(errors),
                        json.dumps([e.to_dict() for e in errors[:MAX_STORED_ERRORS]]), import_id))
        return ImportResult(import_id=import_id, campaign=campaign, source=source, digest=parsed.digest, at=now,
                            rows=parsed.rows, imported=imported, rejected=rejected, errors=tuple(errors),
                            same_file_as=same_file_as)

    @staticmethod
    def _conflict(db: Any, campaign: str, lead: Lead, line: int) -> RowError:
        """Why ``lead`` was not inserted: its number, or else its id, is already in the campaign."""
        row = db.execute("SELECT id, import_id FROM leads WHERE campaign = ? AND phone = ?",
                         (campaign, lead.phone)).fetchone()
        if row is not None:
            origin = f", import #{row[1]}" if row[1] is not None else ""
            return RowError(line, "phone", f"already imported (lead {row[0]}{origin})", lead.phone)
        row = db.execute("SELECT phone FROM leads WHERE campaign = ? AND id = ?", (campaign, lead.id)).fetchone()
        other = row[0] if row is not None else "?"
        return RowError(line, "id", f"id {lead.id!r} already used by the lead for {other}", lead.id)

    def leads(self, campaign: str, *, status: str | None = None, limit: int = 1000, offset: int = 0
              ) -> list[Lead]:
        _campaign(campaign)
        _count("limit", limit, 1)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise StoreError(f"leads offset: expected a non-negative integer, got {offset!r}")
        if status is not None and status not in LEAD_STATUSES:
            raise StoreError(f"lead status {status!r}: expected one of {', '.join(LEAD_STATUSES)}")
        where, args = ("campaign = ?", [campaign]) if status is None else ("campaign = ? AND status = ?",
                                                                            [campaign, status])
        with self._tx() as db:
            rows = db.execute(f"SELECT {_LEAD_COLUMNS} FROM leads WHERE {where} ORDER BY created, rowid"
                              f" LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [_lead(r) for r in rows]

    def lead(self, campaign: str, lead_id: str) -> Lead:
        with self._tx() as db:
            return self._need_lead(db, campaign, lead_id)

    @staticmethod
    def _need_lead(db: Any, campaign: str, lead_id: str) -> Lead:
        row = db.execute(f"SELECT {_LEAD_COLUMNS} FROM leads WHERE campaign = ? AND id = ?",
                         (campaign, lead_id)).fetchone()
        if row is None:
            raise StoreError(f"lead {lead_id!r} of campaign {campaign!r}: no such lead")
        return _lead(row)

    def lead_status(self, campaign: str, lead_id: str) -> str:
        with self._tx() as db:
            row = db.execute("SELECT status FROM leads WHERE campaign = ? AND id = ?", (campaign, lead_id)).fetchone()
        if row is None:
            raise StoreError(f"lead {lead_id!r} of campaign {campaign!r}: no such lead")
        return str(row[0])

    def lead_counts(self, campaign: str) -> dict[str, int]:
        _campaign(campaign)
        with self._tx() as db:
            found = dict(db.execute("SELECT status, COUNT(*) FROM leads WHERE campaign = ? GROUP BY status",
                                    (campaign,)).fetchall())
        return {status: int(found.get(status, 0)) for status in LEAD_STATUSES}

    def due_leads(self, campaign: str, now: float, limit: int) -> list[Lead]:
        _campaign(campaign)
        _count("limit", limit, 1)
        marks = ", ".join("?" for _ in OPEN_LEAD_STATUSES)
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {_LEAD_COLUMNS} FROM leads WHERE campaign = ? AND status IN ({marks})"
                " AND (next_attempt IS NULL OR next_attempt <= ?)"
                " ORDER BY priority DESC, value DESC, next_attempt IS NOT NULL, next_attempt, rowid LIMIT ?",
                (campaign, *OPEN_LEAD_STATUSES, now, limit)).fetchall()
        return [_lead(r) for r in rows]

    def record_attempt(self, campaign: str, lead_id: str, *, at: float, outcome: str, next_attempt: float | None,
                       status: str, attempts: int | None = None) -> Lead:
        if status not in LEAD_STATUSES or status == "new":
            allowed = ", ".join(s for s in LEAD_STATUSES if s != "new")
            raise StoreError(f"lead {lead_id!r} status {status!r}: after an attempt expected one of {allowed}")
        if status in FINAL_LEAD_STATUSES and next_attempt is not None:
            raise StoreError(f"lead {lead_id!r}: status {status!r} is final, so next_attempt must be None")
        if not isinstance(outcome, str) or not outcome.strip():
            raise StoreError(f"lead {lead_id!r} outcome: empty")
        if attempts is not None and (not isinstance(attempts, int) or attempts < 0):
            raise StoreError(f"lead {lead_id!r} attempts: expected a count >= 0, got {attempts!r}")
        with self._tx(durable=False) as db:
            self._need_lead(db, campaign, lead_id)
            if attempts is None:
                db.execute("UPDATE leads SET attempts = attempts + 1, last_attempt = ?, next_attempt = ?,"
                           " status = ?, last_outcome = ? WHERE campaign = ? AND id = ?",
                           (at, next_attempt, status, outcome, campaign, lead_id))
            else:
                db.execute("UPDATE leads SET last_attempt = CASE WHEN ? > attempts THEN ? ELSE last_attempt END,"
                           " attempts = ?, next_attempt = ?, status = ?, last_outcome = ?"
                           " WHERE campaign = ? AND id = ?",
                           (attempts, at, attempts, next_attempt, status, outcome, campaign, lead_id))
            return self._need_lead(db, campaign, lead_id)

    def lead_imports(self, campaign: str) -> list[dict[str, Any]]:
        _campaign(campaign)
        with self._tx() as db:
            rows = db.execute("SELECT id, campaign, source, digest, at, imported, rejected, error_count, errors"
                              " FROM lead_imports WHERE campaign = ? ORDER BY id", (campaign,)).fetchall()
        return [{"id": r[0], "campaign": r[1], "source": r[2], "digest": r[3], "at": r[4], "imported": r[5],
                 "rejected": r[6], "error_count": r[7], "errors": json.loads(r[8])} for r in rows]


__all__ = ["MAX_STORED_ERRORS", "LeadStoreMixin"]
