"""``ReportWriter``: the report counters (``engine.reports.ReportAggregator``) flushed to the store off the
routing path.

The aggregator is a plain sink of the runtime (it only adds to counters, inline); ``run`` is a task that every
``every_s`` seconds hands the counters gathered since the last flush to the store in a worker thread
(``Store.add_report_rows``: one transaction) and, when cancelled, flushes what is left under a shielded scope. A
flush the store refuses is logged and its rows kept for the next attempt, so nothing is dropped while the
process lives; a crash loses at most the last ``every_s`` seconds of report counters (the journal keeps the
events themselves).
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from engine.errors import StoreError
from engine.reports import IntervalRow, ReportAggregator

log = logging.getLogger("switchboard.reports")


class ReportWriter:
    """``aggregator``'s counters to ``store`` (a blocking ``Store``) every ``every_s``. See the module docstring."""

    def __init__(self, aggregator: ReportAggregator, store: Any, *, every_s: float = 5.0) -> None:
        self.aggregator = aggregator
        self.store = getattr(store, "sync", store)
        self.every_s = every_s
        self.flushes = 0
        self.failures = 0
        self._unsent: list[IntervalRow] = []

    async def flush(self) -> int:
        """Write what was gathered since the last flush; returns the number of rows written."""
        rows = self._unsent + self.aggregator.take()
        self._unsent = []
        if not rows:
            return 0
        try:
            await trio.to_thread.run_sync(self.store.add_report_rows, rows)
        except StoreError as exc:
            self.failures += 1
            self._unsent = rows
            log.warning("report rows not written (kept for the next flush): %s", exc)
            return 0
        self.flushes += 1
        return len(rows)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await trio.sleep(self.every_s)
                await self.flush()
        finally:
            with trio.CancelScope(shield=True):
                await self.flush()
