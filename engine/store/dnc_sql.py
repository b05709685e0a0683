"""Do-not-call lists and the compliance audit in the store: the ``DncStoreMixin`` part of ``SqlStore``
(schema: ``MIGRATIONS[2]``).

A list entry is one row of ``dnc``, unique by ``(list, number)``. List names (``dnc_list_name``): ``"global"``
(the national / company do-not-call list), ``"blocked"`` (people who complained: never called again by any
campaign) and ``"campaign:<id>"`` (one campaign's own list). Numbers are stored in E.164, normalised with
``phonenumbers`` (``e164``); a number written without ``+`` needs a region. The audit (``compliance_audit``) is
append-only: one row per compliance decision the caller chose to record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import phonenumbers

from engine.errors import StoreError
from engine.leads import PARSE_ERRORS, RowError

DNC_LISTS: tuple[str, ...] = ("global", "blocked")
"""The fixed list names; ``campaign:<id>`` names the others."""
CAMPAIGN_PREFIX = "campaign:"
MAX_LIMIT = 100_000
MAX_IMPORT_LINES = 5_000_000



def e164(raw: str, region: str | None = None) -> str:
    """``raw`` in E.164 (``"+1 (415) 555-0100"`` -> ``"+14155550100"``); ``region`` (ISO country) for numbers
    written without ``+``. ``StoreError`` naming the number and why when it is not a valid number."""
    if not isinstance(raw, str) or not raw.strip():
        raise StoreError(f"number {raw!r}: empty")
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise StoreError(f"invalid number {raw.strip()!r}: "
                         f"{PARSE_ERRORS.get(exc.error_type, 'not a phone number')}") from None
    if not phonenumbers.is_valid_number(number):
        raise StoreError(f"invalid number {raw.strip()!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _lookup_key(number: str) -> str:
    """The stored form of a number looked up: E.164 when it parses, else the stripped raw string (so a lookup of
    something that is not a number finds nothing rather than raising)."""
    try:
        return e164(number)
    except StoreError:
        return number.strip() if isinstance(number, str) else ""


def dnc_list_name(name: str) -> str:
    """``name`` if it is a list name (``DNC_LISTS`` or ``campaign:<id>``, id not empty); ``StoreError`` otherwise."""
    if isinstance(name, str):
        campaign = name[len(CAMPAIGN_PREFIX):] if name.startswith(CAMPAIGN_PREFIX) else ""
        if name in DNC_LISTS or (campaign and campaign == campaign.strip()):
            return name
    raise StoreError(f"dnc list {name!r}: expected 'global', 'blocked' or 'campaign:<id>'")


def _limit(name: str, value: int, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > MAX_LIMIT:
        raise StoreError(f"dnc {name}: expected an integer from {minimum} to {MAX_LIMIT}, got {value!r}")
    return value


def parse_dnc_text(text: str, region: str | None = None) -> tuple[list[tuple[str, str]], list[RowError]]:
    """``([(number, reason), ...], errors)`` of a DNC file: one number per line (blank lines and lines starting
    with ``#`` skipped), or CSV whose header line has a ``phone`` column (and optionally ``reason``). Errors name
    the line (1-based, the header being line 1). A number listed twice is kept once."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    header = [cell.strip().lower() for cell in next(csv.reader([first]), [])] if first else []
    good: dict[str, str] = {}
    errors: list[RowError] = []

    def take(raw: str, reason: str, line: int) -> None:
        try:
            good.setdefault(e164(raw, region), reason)
        except StoreError as exc:
            errors.append(RowError(line, "phone", str(exc), raw[:200]))

    if "phone" not in header:
        if len(header) > 1:
            raise StoreError("dnc import: the header line has no 'phone' column (or give one number per line)")
        for line_no, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                take(line.strip(), "", line_no)
        return list(good.items()), errors
    reader = csv.reader(io.StringIO(text))
    columns: list[str] | None = None
    line_no = 0
    for row in reader:
        start, line_no = line_no + 1, reader.line_num
        if columns is None:
            if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            columns = [cell.strip().lower() for cell in row]
            continue
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(columns, row, strict=False))
        raw = cells.get("phone", "")
        if not raw.strip():
            errors.append(RowError(start, "phone", "missing", ""))
            continue
        take(raw, cells.get("reason", "").strip(), start)
    return list(good.items()), errors


class DncStoreMixin:
    """DNC and audit methods of ``SqlStore``; they use its ``_tx()`` transaction helper and ``clock``."""

    clock: Callable[[], float]
    _tx: Callable[..., AbstractContextManager[Any]]  # (*, durable: bool = True)

    # ------------------------------------------------------------------------------------------ DNC lists ----

    def dnc_add(self, number: str, *, list_name: str = "global", reason: str = "", source: str = "") -> bool:
        list_name = dnc_list_name(list_name)
        number = e164(number)
        with self._tx() as db:
            cur = db.execute("INSERT INTO dnc (list, number, reason, source, added) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT DO NOTHING", (list_name, number, reason, source, self.clock()))
            return cur.rowcount == 1

    def dnc_remove(self, number: str, list_name: str = "global") -> bool:
        list_name = dnc_list_name(list_name)
        with self._tx() as db:
            cur = db.execute("DELETE FROM dnc WHERE list = ? AND number = ?", (list_name, _lookup_key(number)))
            return cur.rowcount == 1

    def dnc_lists_for(self, number: str) -> set[str]:
        with self._tx() as db:
            return {row[0] for row in db.execute("SELECT list FROM dnc WHERE number = ?", (_lookup_key(number),))}

    def dnc_import(self, text: str, *, list_name: str = "global", source: str = "",
                   region: str | None = None) -> tuple[int, list[RowError]]:
        list_name = dnc_list_name(list_name)
        if not isinstance(text, str):
            raise StoreError("dnc import: expected text")
        if text.count("\n") > MAX_IMPORT_LINES:
            raise StoreError(f"dnc import: more than {MAX_IMPORT_LINES} lines: split the file")
        numbers, errors = parse_dnc_text(text, region)
        now = self.clock()
        with self._tx() as db:
            cur = db.executemany("INSERT INTO dnc (list, number, reason, source, added) VALUES (?, ?, ?, ?, ?)"
                                 " ON CONFLICT DO NOTHING",
                                 [(list_name, number, reason, source, now) for number, reason in numbers])
            added = cur.rowcount  # summed over the rows on both drivers; a row already listed counts 0
        return added, errors

    def dnc_entries(self, list_name: str = "global", limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        list_name = dnc_list_name(list_name)
        _limit("limit", limit, 1)
        _limit("offset", offset, 0)
        with self._tx() as db:
            rows = db.execute("SELECT list, number, reason, source, added FROM dnc WHERE list = ?"
                              " ORDER BY added, number LIMIT ? OFFSET ?", (list_name, limit, offset)).fetchall()
        return [{"list": r[0], "number": r[1], "reason": r[2], "source": r[3], "added": r[4]} for r in rows]

    # -------------------------------------------------------------------------------------------- audit ----

    def record_compliance(self, *, at: float, number: str, campaign: str | None, lead: str | None, allowed: bool,
                          rule: str, reason: str) -> None:
        if not isinstance(number, str) or not number:
            raise StoreError("compliance audit number: empty")
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise StoreError(f"compliance audit at: expected Unix seconds, got {at!r}")
        with self._tx() as db:
            db.execute("INSERT INTO compliance_audit (at, number, campaign, lead, allowed, rule, reason)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (float(at), number, campaign or "", lead or "", int(bool(allowed)), rule or "",
                        reason or ""))

    def compliance_audit(self, *, number: str | None = None, campaign: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        _limit("audit limit", limit, 1)
        where, params = [], []
        if number is not None:
            where.append("number = ?")
            params.append(_lookup_key(number))
        if campaign is not None:
            where.append("campaign = ?")
            params.append(campaign)
        sql = ("SELECT at, number, campaign, lead, allowed, rule, reason FROM compliance_audit"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY at DESC, id DESC LIMIT ?")
        with self._tx() as db:
            rows = db.execute(sql, (*params, limit)).fetchall()
        return [{"at": r[0], "number": r[1], "campaign": r[2] or None, "lead": r[3] or None, "allowed": bool(r[4]),
                 "rule": r[5], "reason": r[6]} for r in rows]
