"""From the ACD's actions to the channel hooks: the glue every channel adapter shares.

``ChannelDispatcher`` is an ``async`` action sink (``Runtime.add_sink``): it calls, through
``PluginManager.acall`` (isolated, with a deadline), the channel hook each action asks for, keyed by the contact's
channel:

    OfferContact                                   -> channel_answer
    Bridge, Unbridge                               -> channel_bridge
    PlayPrompt, PlayAnnouncement, OfferCallback    -> channel_play
    StartSurvey (engine.survey)                    -> channel_play
    HangUp, CancelOffer                            -> channel_hangup
    ContactRecord                                  -> channel_contact_ended, then crm_write_back (data merged;
                                                      on_record, when the adapter added data)

Most actions carry only a contact id, so the dispatcher learns each contact's channel: adapters call
``track(contact_id, channel)`` before they submit a ``ContactArrived``, and ``OfferContact`` / ``ContactRecord``
teach it too. Only contacts on ``channels`` (the dispatcher's own set) are handled, so two dispatchers (or the
simulator's driver) can share a runtime. A hook nobody took is logged at debug level: the ACD's own timers clean
up (an offer nobody rang times out).

CRM write-backs are slow (a database transaction each) and nothing on a channel waits for them, so they run off
the channel path: ``run`` is a task that writes the records back in order while the dispatcher goes on with the
next actions (``switchboard serve`` starts it), taking those queued meanwhile as one batch
(``PluginManager.acall_many``: one worker thread per batch for a sync CRM, not one per record). Queuing a record
never waits: when ``WRITE_BACK_BUFFER`` records are already waiting (a CRM slower than the contacts end, for
minutes), the record is not written back, counted in ``write_backs_dropped`` and logged (the first, then every
thousandth). Waiting instead would stop every channel action behind it, and routing with them; a write-back is
best effort by the hook's contract (the CDR store keeps every record). Without that task running, the write-back
is awaited inline.

``switchboard serve`` runs one dispatcher for every channel (``channels=None``), with ``lookup`` answering the
channel of any contact the ACD holds (voice contacts from the simulator or the gateway are not tracked by an
adapter); tests and tools may run one per set of channels.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

import trio

from engine.events import (
    Action,
    Bridge,
    CancelOffer,
    ContactRecord,
    ContactStateChanged,
    HangUp,
    OfferCallback,
    OfferContact,
    PlayAnnouncement,
    PlayPrompt,
    Unbridge,
)
from engine.survey import StartSurvey

log = logging.getLogger("switchboard.channels")

WRITE_BACK_BUFFER = 10_000
WRITE_BACK_BATCH = 100
"""Records written back in one ``acall_many`` at most."""

HOOK_OF: dict[type[Action], str] = {
    OfferContact: "channel_answer",
    Bridge: "channel_bridge",
    Unbridge: "channel_bridge",
    PlayPrompt: "channel_play",
    PlayAnnouncement: "channel_play",
    OfferCallback: "channel_play",
    StartSurvey: "channel_play",
    HangUp: "channel_hangup",
    CancelOffer: "channel_hangup",
}


ACCEPTS: tuple[type[Action], ...] = (*HOOK_OF, ContactRecord, ContactStateChanged)
"""The actions a dispatcher does something with (the others the runtime need not offer it)."""


class ChannelDispatcher:
    """Async action sink calling the channel hooks for contacts on ``channels``. See the module docstring.

    ``channels``: the channels handled (``None``: all). ``write_back``: call ``crm_write_back`` with each of these
    contacts' records (data merged with what the adapter returns from ``channel_contact_ended``). ``records``
    keeps the last ``keep_records`` of them. ``lookup(contact_id)``: the channel of a contact nobody tracked
    (``None`` if unknown), asked once per contact. ``queue_lookup(queue_id)``: the channel a queue serves,
    learnt from the contact's ``ContactStateChanged`` (which come before its channel actions): the dispatcher
    runs behind the ACD, which may have let the contact go by then (a caller turned away at closed hours).
    ``on_result(hook, result, now)``: called with an adapter's answer when it is more than ``True`` (the
    simulator answers with the follow-up events it schedules). ``on_record(record, now)``: called with a record
    the adapter added data to (``channel_contact_ended``: the WebRTC gateway's recording path), merged, so the
    CDR store can keep it too (``switchboard serve`` passes ``CdrWriter.amend``).
    """

    def __init__(self, manager: Any, channels: Iterable[str] | None, *, deadline_s: float = 1.0,
                 write_back: bool = True, keep_records: int = 1000,
                 lookup: Callable[[str], str | None] | None = None,
                 queue_lookup: Callable[[str], str | None] | None = None,
                 on_result: Callable[[str, Any, float], None] | None = None,
                 on_record: Callable[[ContactRecord, float], None] | None = None) -> None:
        self.manager = manager
        self.channels = None if channels is None else frozenset(channels)
        self.lookup = lookup
        self.queue_lookup = queue_lookup
        self.on_result = on_result
        self.on_record = on_record
        self.deadline_s = deadline_s
        self.write_back = write_back
        self.keep_records = keep_records
        self.contacts: dict[str, str] = {}
        self.records: list[ContactRecord] = []
        self.untaken = 0
        self._write_backs, self._to_write = trio.open_memory_channel[ContactRecord](WRITE_BACK_BUFFER)
        self._writer_running = False
        self.write_backs_dropped = 0

    accepts = ACCEPTS

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write records back to the CRMs, in order, off the channel path (until cancelled)."""
        self._writer_running = True
        task_status.started()
        try:
            async for record in self._to_write:
                batch = [record]
                while len(batch) < WRITE_BACK_BATCH:
                    try:
                        batch.append(self._to_write.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self.manager.acall_many("crm_write_back", [{"contact_record": r} for r in batch],
                                              deadline_s=self.deadline_s)
        finally:
            self._writer_running = False

    def track(self, contact_id: str, channel: str) -> None:
        """Say that ``contact_id`` lives on ``channel`` (before submitting its ``ContactArrived``)."""
        self.contacts[contact_id] = channel

    def forget(self, contact_id: str) -> None:
        self.contacts.pop(contact_id, None)

    def channel_of(self, action: Action) -> str | None:
        if isinstance(action, (OfferContact, ContactRecord, StartSurvey)):
            self.contacts.setdefault(action.contact_id, action.channel)
        contact_id = getattr(action, "contact_id", None)
        if not isinstance(contact_id, str):
            return None
        if isinstance(action, ContactStateChanged) and self.queue_lookup is not None \
                and contact_id not in self.contacts:
            queue_channel = self.queue_lookup(action.queue)
            if queue_channel is not None:
                self.contacts[contact_id] = queue_channel
        channel = self.contacts.get(contact_id)
        if channel is None and self.lookup is not None:
            channel = self.lookup(contact_id)
            if channel is not None:
                self.contacts[contact_id] = channel
        if channel is None or (self.channels is not None and channel not in self.channels):
            return None
        return channel

    async def handle(self, action: Action, now: float) -> None:
        channel = self.channel_of(action)
        if channel is None:
            return
        if isinstance(action, ContactRecord):
            await self._ended(channel, action, now)
            return
        hook = HOOK_OF.get(type(action))
        if hook is None:
            return
        taken = await self.manager.acall(hook, deadline_s=self.deadline_s, channel=channel, action=action, now=now)
        if taken is not None and taken is not True and self.on_result is not None:
            self.on_result(hook, taken, now)
        if taken is None:
            self.untaken += 1
            log.debug("%s of %s on %r: no adapter took it", hook, getattr(action, "contact_id", "?"), channel)

    async def _ended(self, channel: str, record: ContactRecord, now: float) -> None:
        self.forget(record.contact_id)
        extra = await self.manager.acall("channel_contact_ended", deadline_s=self.deadline_s, channel=channel,
                                         record=record, now=now)
        if isinstance(extra, dict) and extra:
            record = dataclasses.replace(record, data={**record.data, **extra})
            if self.on_record is not None:
                self.on_record(record, now)
        self.records.append(record)
        del self.records[:-self.keep_records]
        if not self.write_back:
            return
        if self._writer_running:
            try:
                self._write_backs.send_nowait(record)
            except trio.WouldBlock:
                self.write_backs_dropped += 1
                if self.write_backs_dropped % 1000 == 1:
                    log.error("CRM write-backs %d records behind: %s not written back (%d so far); the CDR store "
                              "keeps it", WRITE_BACK_BUFFER, record.contact_id, self.write_backs_dropped)
        else:
            await self.manager.acall("crm_write_back", deadline_s=self.deadline_s, contact_record=record)
