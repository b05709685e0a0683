"""``LeadWriter``: lead updates written off the routing path; an unavailable store is tried again."""

from __future__ import annotations

from typing import Any

import trio

from engine.dialer_events import LeadUpdated
from engine.errors import StoreError, StoreUnavailable
from engine.lead_writer import RETRY_DELAYS_S, LeadWriter


class FlakyStore:
    """Unavailable for the first ``failures`` calls, then writes; refuses lead "ghost"."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, float]] = []

    def record_attempt(self, campaign: str, lead_id: str, **kwargs: Any) -> None:
        self.calls.append((lead_id, trio.from_thread.run_sync(trio.current_time)))  # runs in a worker thread
        if lead_id == "ghost":
            raise StoreError("lead 'ghost': no such lead")
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("store: connection lost")


def _update(lead_id: str) -> LeadUpdated:
    return LeadUpdated("camp", lead_id, "busy", "scheduled", 1, 700.0, 100.0)


async def test_an_unavailable_store_is_tried_again_then_written(autojump_clock: Any) -> None:
    store = FlakyStore(failures=2)
    writer = LeadWriter(store)
    await writer.handle(_update("l1"), 0.0)
    assert [t for _, t in store.calls] == [0.0, 0.1, 0.6]
    assert (writer.written, writer.lost, writer.refused) == (1, 0, 0)


async def test_a_store_down_for_good_loses_the_update_after_the_retries(autojump_clock: Any) -> None:
    store = FlakyStore(failures=100)
    writer = LeadWriter(store)
    await writer.handle(_update("l1"), 0.0)
    assert len(store.calls) == len(RETRY_DELAYS_S) + 1
    assert (writer.written, writer.lost) == (0, 1)


async def test_a_refused_update_is_not_retried(autojump_clock: Any) -> None:
    store = FlakyStore(failures=0)
    writer = LeadWriter(store)
    await writer.handle(_update("ghost"), 0.0)
    assert len(store.calls) == 1 and (writer.refused, writer.lost) == (1, 0)
