"""Carrying the ACD's actions out through the plugins: channel adapters and CRM write-back.

``ChannelDispatcher`` is a runtime sink (``handle(action, now)``) that hands each channel action to the channel
hook of the contact's channel, through ``PluginManager.call`` (isolated, with a deadline):

=====================================================  ===================
action                                                 hook
=====================================================  ===================
``OfferContact``                                       ``channel_answer``
``Bridge``, ``Unbridge``                               ``channel_bridge``
``PlayAnnouncement``, ``PlayPrompt``, ``OfferCallback``  ``channel_play``
``HangUp``, ``CancelOffer``                            ``channel_hangup``
=====================================================  ===================

Observer actions (state changes, records) are not channel work and are ignored here (``ObserverSink`` has them).
An action nobody takes (every adapter returned ``None``) is counted in ``untaken`` per channel and logged once per
channel: the ACD's own timers then end the leg (an unanswered offer times out, a caller nobody serves abandons).

The contact's channel: ``OfferContact`` carries it; for the other actions it is looked up with ``channel_of``
(the live ACD's contacts) and, for a contact the ACD has already let go of, remembered from earlier actions (a
queue's channel via ``queue_channel``), until the contact's ``ContactRecord``.

``WriteBackSink`` is an asynchronous sink: every ``ContactRecord`` goes to ``crm_write_back`` with ``acall``, in
its own task, so a slow CRM never holds routing up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from engine.events import (
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
from plugins.manager import PluginManager

log = logging.getLogger(__name__)

HOOK_OF_ACTION: dict[type, str] = {
    OfferContact: "channel_answer",
    Bridge: "channel_bridge",
    Unbridge: "channel_bridge",
    PlayAnnouncement: "channel_play",
    PlayPrompt: "channel_play",
    OfferCallback: "channel_play",
    HangUp: "channel_hangup",
    CancelOffer: "channel_hangup",
}


class ChannelDispatcher:
    """Runtime sink: channel actions to the owning adapter. See the module docstring.

    ``channel_of(contact_id)``: the channel of a contact the ACD still holds, else ``None``.
    ``queue_channel(queue_id)``: the channel a queue serves, else ``None``. ``deadline_s``: per hook call; adapters
    must be quick (hand slow work to their own task). ``on_result(hook, result, now)``: called with an adapter's
    answer when it is more than ``True`` (the simulator answers with the follow-up events it schedules).
    """

    def __init__(self, manager: PluginManager, channel_of: Callable[[str], str | None],
                 queue_channel: Callable[[str], str | None], *, deadline_s: float = 0.05,
                 on_result: Callable[[str, Any, float], None] | None = None) -> None:
        self.manager = manager
        self.channel_of = channel_of
        self.queue_channel = queue_channel
        self.deadline_s = deadline_s
        self.untaken: dict[str, int] = {}
        self.on_result = on_result
        self._known: dict[str, str] = {}

    def _channel(self, action: Any) -> str | None:
        contact_id = action.contact_id
        channel = getattr(action, "channel", None) or self.channel_of(contact_id) or self._known.get(contact_id)
        if channel is not None:
            self._known[contact_id] = channel
        return channel

    def handle(self, action: Any, now: float) -> None:
        if isinstance(action, ContactStateChanged):
            channel = self.channel_of(action.contact_id) or self.queue_channel(action.queue)
            if channel is not None:
                self._known[action.contact_id] = channel
            return
        if isinstance(action, ContactRecord):
            self._known.pop(action.contact_id, None)
            return
        hook = HOOK_OF_ACTION.get(type(action))
        if hook is None:
            return
        channel = self._channel(action)
        if channel is None:
            log.warning("%s for unknown contact %r: no channel to carry it", type(action).__name__,
                        action.contact_id)
            return
        result = self.manager.call(hook, deadline_s=self.deadline_s, default=None, channel=channel,
                                   action=action, now=now)
        if result is None:
            if channel not in self.untaken:
                log.warning("no channel adapter took %s on channel %r", type(action).__name__, channel)
            self.untaken[channel] = self.untaken.get(channel, 0) + 1
        elif result is not True and self.on_result is not None:
            self.on_result(hook, result, now)


class WriteBackSink:
    """Async runtime sink: each ``ContactRecord`` to ``crm_write_back`` (collected, isolated, ``deadline_s``)."""

    def __init__(self, manager: PluginManager, *, deadline_s: float = 5.0) -> None:
        self.manager = manager
        self.deadline_s = deadline_s
        self.written = 0

    async def handle(self, action: Any, now: float) -> None:
        if isinstance(action, ContactRecord):
            await self.manager.acall("crm_write_back", deadline_s=self.deadline_s, contact_record=action)
            self.written += 1
