"""``LeadWriter``: the dialer's lead updates written to the store, off the routing path.

Every ``LeadUpdated`` action (an attempt ended, a dial was refused, a lead was rescheduled or closed) becomes a
``Store.record_attempt`` with the dialer's own attempt count, so writing the same update twice (after a replay)
changes nothing. An async sink of the runtime: it has its own task and buffer, and the blocking store call runs in
a worker thread, so a slow database never delays routing. A write the store refuses (a lead the store does not
know: a campaign fed leads that were not imported) is logged and counted in ``refused``; the next ones go on. A
store that is unavailable (``StoreUnavailable``: connection lost, lock not granted) is tried again after
``RETRY_DELAYS_S`` (writing an update twice changes nothing), then the update is logged and counted in ``lost``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from engine.dialer_events import LeadUpdated
from engine.errors import StoreError, StoreUnavailable

log = logging.getLogger("switchboard.leads")

RETRY_DELAYS_S = (0.1, 0.5, 2.0, 5.0, 15.0)


class LeadWriter:
    """Writes ``LeadUpdated`` actions to ``store`` (a blocking ``Store``). See the module docstring."""

    accepts = (LeadUpdated,)  # the runtime offers it only these

    def __init__(self, store: Any) -> None:
        self.store = getattr(store, "sync", store)
        self.written = 0
        self.refused = 0
        self.lost = 0

    async def handle(self, action: Any, now: float) -> None:
        if not isinstance(action, LeadUpdated):
            return
        for delay in (*RETRY_DELAYS_S, None):
            try:
                await trio.to_thread.run_sync(self.write, action)
                return
            except StoreUnavailable as exc:
                if delay is None:
                    self.lost += 1
                    log.error("lead update %s/%s lost, the store stayed unavailable: %s", action.campaign,
                              action.lead_id, exc)
                    return
                log.warning("store unavailable, lead update retried in %.1f s: %s", delay, exc)
                await trio.sleep(delay)

    def write(self, update: LeadUpdated) -> None:
        """One update, now (blocking); ``StoreUnavailable`` goes to the caller, any other refusal is counted."""
        try:
            self.store.record_attempt(update.campaign, update.lead_id, at=update.at, outcome=update.outcome,
                                      next_attempt=update.next_attempt, status=update.status,
                                      attempts=update.attempts)
            self.written += 1
        except StoreUnavailable:
            raise
        except StoreError as exc:
            self.refused += 1
            log.warning("lead update not written: %s", exc)
