"""Report intervals in the store: the ``ReportStoreMixin`` half of the store (schema: ``MIGRATIONS[3]``).

One row of ``report_intervals`` per (dimension, key, 15-minute start): its counters and dispositions as JSON.
``add_report_rows`` adds deltas (``engine.reports.ReportAggregator.take``) to the rows in one transaction, so
writers only ever add what happened; ``report_rows`` reads them back for a time range.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from engine.errors import StoreError
from engine.reports import DIMENSIONS, IntervalRow

MAX_ROWS = 200_000


class ReportStoreMixin:
    _tx: Callable[..., AbstractContextManager[Any]]  # (*, durable: bool = True)

    def add_report_rows(self, rows: Iterable[IntervalRow]) -> int:
        rows = list(rows)
        for row in rows:
            if row.dimension not in DIMENSIONS:
                raise StoreError(f"report row dimension {row.dimension!r}: expected one of {', '.join(DIMENSIONS)}")
        with self._tx(durable=False) as db:
            for row in rows:
                found = db.execute("SELECT counts, dispositions FROM report_intervals"
                                   " WHERE dimension = ? AND key = ? AND start = ?",
                                   (row.dimension, row.key, row.start)).fetchone()
                merged = IntervalRow(row.dimension, row.key, row.start)
                if found is not None:
                    merged.counts.update(json.loads(found[0]))
                    merged.dispositions.update(json.loads(found[1]))
                    merged.add(row)
                    db.execute("UPDATE report_intervals SET counts = ?, dispositions = ?"
                               " WHERE dimension = ? AND key = ? AND start = ?",
                               (json.dumps(merged.counts, sort_keys=True),
                                json.dumps(merged.dispositions, sort_keys=True), row.dimension, row.key, row.start))
                else:
                    merged.add(row)
                    db.execute("INSERT INTO report_intervals (dimension, key, start, counts, dispositions)"
                               " VALUES (?, ?, ?, ?, ?)",
                               (row.dimension, row.key, row.start, json.dumps(merged.counts, sort_keys=True),
                                json.dumps(merged.dispositions, sort_keys=True)))
        return len(rows)

    def report_rows(self, dimension: str, *, start: float, end: float, key: str | None = None) -> list[IntervalRow]:
        if dimension not in DIMENSIONS:
            raise StoreError(f"report dimension {dimension!r}: expected one of {', '.join(DIMENSIONS)}")
        if not end > start:
            raise StoreError(f"report range: end ({end}) must be after start ({start})")
        sql = ("SELECT dimension, key, start, counts, dispositions FROM report_intervals"
               " WHERE dimension = ? AND start >= ? AND start < ?")
        params: list[Any] = [dimension, start, end]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        sql += " ORDER BY start, key"
        with self._tx() as db:
            found = db.execute(sql, params).fetchmany(MAX_ROWS + 1)
        if len(found) > MAX_ROWS:
            raise StoreError(f"report range holds more than {MAX_ROWS} rows: ask for a shorter range or one key")
        return [IntervalRow(d, k, s, json.loads(c), json.loads(p)) for d, k, s, c, p in found]


__all__ = ["ReportStoreMixin"]
