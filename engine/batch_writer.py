"""Records gathered on the routing path, written to the store off it, in batches.

``BatchWriter(take, write)`` is a task (``run``) that every ``every_s`` seconds takes what was gathered since the
last flush (``take()``: a list, emptied by the call) and hands it to ``write`` (a blocking store method: one
transaction) in a worker thread; when cancelled it flushes what is left under a shielded scope. A batch the store
refuses is logged and kept for the next attempt, so nothing is dropped while the process lives; a crash loses at
most the last ``every_s`` seconds of gathered records (the journal keeps the events themselves, and a replay
gathers them again).

Two uses in ``switchboard serve``: ``ReportWriter`` (the report counters of ``engine.reports.ReportAggregator``)
and ``CdrWriter`` (every contact's ``ContactRecord`` as a ``Cdr``, gathered by its own inline sink).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import trio

from engine.errors import StoreError
from engine.events import ContactRecord
from engine.reports import IntervalRow, ReportAggregator
from engine.store.access_records import Cdr

log = logging.getLogger("switchboard.store.writer")

T = TypeVar("T")


class BatchWriter(Generic[T]):
    """See the module docstring. ``what`` names the records in log lines."""

    def __init__(self, take: Callable[[], list[T]], write: Callable[[list[T]], Any], *, every_s: float = 5.0,
                 what: str = "records") -> None:
        self.take = take
        self.write = write
        self.every_s = every_s
        self.what = what
        self.flushes = 0
        self.failures = 0
        self._unsent: list[T] = []

    async def flush(self) -> int:
        """Write what was gathered since the last flush; returns the number of records written."""
        batch = self._unsent + self.take()
        self._unsent = []
        if not batch:
            return 0
        try:
            await trio.to_thread.run_sync(self.write, batch)
        except StoreError as exc:
            self.failures += 1
            self._unsent = batch
            log.warning("%d %s not written (kept for the next flush): %s", len(batch), self.what, exc)
            return 0
        self.flushes += 1
        return len(batch)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await trio.sleep(self.every_s)
                await self.flush()
        finally:
            with trio.CancelScope(shield=True):
                await self.flush()


class ReportWriter(BatchWriter[IntervalRow]):
    """``aggregator``'s counters to ``store`` (``Store.add_report_rows``) every ``every_s``."""

    def __init__(self, aggregator: ReportAggregator, store: Any, *, every_s: float = 5.0) -> None:
        sync = getattr(store, "sync", store)
        super().__init__(aggregator.take, sync.add_report_rows, every_s=every_s, what="report rows")
        self.aggregator = aggregator


class CdrWriter(BatchWriter[Cdr]):
    """Every ``ContactRecord`` the runtime emits, as a ``Cdr``, to ``store`` (``Store.add_cdrs``) every
    ``every_s``. Register it as a runtime sink (``handle`` is inline: it only appends) and run ``run``."""

    def __init__(self, store: Any, *, every_s: float = 1.0) -> None:
        sync = getattr(store, "sync", store)
        super().__init__(self._take, sync.add_cdrs, every_s=every_s, what="call detail records")
        self._gathered: list[Cdr] = []

    accepts = (ContactRecord,)  # the runtime offers it only these

    def handle(self, action: Any, now: float) -> None:
        if type(action) is ContactRecord:
            self._gathered.append(Cdr.from_record(action, now))

    def amend(self, record: ContactRecord, now: float) -> None:
        """The same contact's record again, with what its channel adapter added (``ChannelDispatcher.on_record``:
        the WebRTC gateway's recording path): written again, the later write wins (``Store.add_cdrs`` replaces a
        record of the same contact)."""
        self.handle(record, now)

    def _take(self) -> list[Cdr]:
        gathered, self._gathered = self._gathered, []
        return gathered
