"""The trio driver of the IVR: runs ``engine.ivr.Ivr`` for real callers through the plugin hooks.

Theory of operation
-------------------
``IvrService(ivr, manager, submit)`` owns no logic of its own: it feeds the state machine and carries out its
actions. ``await service.submit(event)`` (a channel adapter's ``CallerEntered``, ``CallerLeft``) feeds one event
at the clock's ``now``; the returned actions are queued on the caller's *worker*, one trio task per caller that
performs its actions in order (a prompt is played before digits are collected) and feeds the answers back:

    IvrPlay          -> channel_play(channel, action, now)
    CollectDigits    -> channel_collect_digits(...)  -> DigitsReceived (``""`` when nothing or a fault)
    LookupCaller     -> crm_lookup(customer=caller)   -> CallerIdentified (record's ``id``, record as attributes)
    RunSelfService   -> ivr_self_service(step, ...)   -> SelfServiceDone (``None`` on fault or deadline: fallback)
    RecordVoicemail  -> ivr_record_voicemail(...)     (nobody took it: channel_hangup)
    IvrRouted        -> submit(action.arrival())       (the ACD refused it: channel_hangup "rejected")
    HangUp           -> channel_hangup(channel, action, now)

Every hook goes through ``PluginManager.acall``, so a plugin that raises or hangs is counted in
``manager.faults`` and answered by the hook's safe default: the caller never gets stuck (a failed self-service
goes to the fallback queue, a dead channel times out). A timer task sleeps until ``ivr.next_deadline()`` and feeds
``Tick`` then (re-armed whenever an event moves the deadline). ``CallerLeft`` cancels the caller's worker.

Time: ``clock`` gives the engine's ``now`` (default ``engine.runtime.TrioClock.wall()``, Unix time advanced by
trio's clock, which the business hours need); ``TrioClock(0.0)`` under a ``MockClock`` runs in virtual time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from engine.errors import SwitchboardError
from engine.events import Action, ContactArrived, Event, HangUp, Tick
from engine.ivr import Ivr
from engine.ivr_events import (
    CallerEntered,
    CallerIdentified,
    CallerLeft,
    CollectDigits,
    DigitsReceived,
    IvrPlay,
    IvrRouted,
    LookupCaller,
    RecordVoicemail,
    RunSelfService,
    SelfServiceDone,
)
from engine.runtime import TrioClock

log = logging.getLogger("switchboard.ivr")

COLLECT_MARGIN_S = 1.0
"""How long past its own timeout a channel may take to answer ``channel_collect_digits`` before it is abandoned."""
_TERMINAL = (IvrRouted, RecordVoicemail, HangUp)


class IvrService:
    """Drives one ``Ivr``. ``submit``: where routed contacts go (``engine.runtime.Runtime.submit``).
    ``hook_deadline_s``: the deadline of quick hooks (play, hang up, voicemail); digit collection, CRM lookup and
    self-service get the IVR's own timeouts. See the module docstring."""

    def __init__(self, ivr: Ivr, manager: Any, submit: Callable[[ContactArrived], Awaitable[Any]], *,
                 clock: Callable[[], float] | None = None, hook_deadline_s: float = 1.0) -> None:
        self.ivr = ivr
        self.manager = manager
        self.submit_arrival = submit
        self.clock: Callable[[], float] = clock if clock is not None else TrioClock.wall()
        self.hook_deadline_s = hook_deadline_s
        self.routed: list[ContactArrived] = []
        self.outcomes: dict[str, str] = {}  # contact -> routed | rejected | voicemail | hung-up | left
        self._channels: dict[str, str] = {}
        self._workers: dict[str, tuple[trio.MemorySendChannel[Action], trio.CancelScope]] = {}
        self._nursery: trio.Nursery | None = None
        self._rearm = trio.Event()
        self._last_now = -math.inf

    # ------------------------------------------------------------------------------------------ public ----

    async def run(self, *, task_status: trio.TaskStatus[IvrService] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``await nursery.start(service.run)`` returns once events are accepted."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for menu in self.ivr.config.menus.values():
                await self.manager.acall("ivr_menu_loaded", menu=menu, deadline_s=self.hook_deadline_s)
            nursery.start_soon(self._timer_loop)
            task_status.started(self)

    async def submit(self, event: Event) -> list[Action]:
        """Feed ``event`` now and start carrying out its actions; return them. ``IvrError`` if refused."""
        return self._feed(event)

    def now(self) -> float:
        t = self.clock()
        return t if t > self._last_now else self._last_now

    # ----------------------------------------------------------------------------------------- feeding ----

    def _feed(self, event: Event, at_least: float | None = None) -> list[Action]:
        if self._nursery is None:
            raise RuntimeError("IvrService.run is not running")
        now = self.now()
        if at_least is not None and now < at_least:
            now = at_least
        actions = self.ivr.feed(event, now)
        self._last_now = now
        if isinstance(event, CallerEntered):
            self._channels[event.contact_id] = event.channel
        elif isinstance(event, CallerLeft) and event.contact_id in self._workers:
            self.outcomes[event.contact_id] = "left"
            send, scope = self._workers.pop(event.contact_id)
            send.close()
            scope.cancel()
        for action in actions:
            self._dispatch(action)
        self._rearm.set()
        return actions

    def _dispatch(self, action: Action) -> None:
        cid: str = action.contact_id  # type: ignore[attr-defined]
        worker = self._workers.get(cid)
        if worker is None:
            send, receive = trio.open_memory_channel[Action](math.inf)
            worker = self._workers[cid] = (send, trio.CancelScope())
            assert self._nursery is not None
            self._nursery.start_soon(self._worker, receive, worker[1])
        worker[0].send_nowait(action)
        if isinstance(action, _TERMINAL):
            worker[0].close()  # the worker finishes what it has and ends
            del self._workers[cid]

    async def _worker(self, receive: trio.MemoryReceiveChannel[Action], scope: trio.CancelScope) -> None:
        with scope:
            async with receive:
                async for action in receive:
                    answer = await self._perform(action)
                    if answer is not None:
                        self._feed(answer)

    async def _timer_loop(self) -> None:
        while True:
            rearm = self._rearm = trio.Event()
            deadline = self.ivr.next_deadline()
            if deadline is None:
                await rearm.wait()
                continue
            with trio.move_on_at(self._trio_deadline(deadline)):
                await rearm.wait()
                continue
            self._feed(Tick(), at_least=deadline)

    def _trio_deadline(self, t: float) -> float:
        to_trio = getattr(self.clock, "to_trio", None)
        if to_trio is not None:
            return float(to_trio(t))
        return trio.current_time() + (t - self.clock())

    # ------------------------------------------------------------------------------------------ acting ----

    async def _perform(self, action: Action) -> Event | None:
        """Carry out one action through the hooks; return the event answering it, if any."""
        m = self.manager
        if isinstance(action, IvrPlay):
            await m.acall("channel_play", channel=action.channel, action=action, now=self.now(),
                          deadline_s=self.hook_deadline_s)
        elif isinstance(action, CollectDigits):
            digits = await m.acall("channel_collect_digits", channel=action.channel, contact_id=action.contact_id,
                                   max_digits=action.max_digits, timeout_s=action.timeout_s,
                                   deadline_s=action.timeout_s + COLLECT_MARGIN_S)
            return DigitsReceived(action.contact_id, digits if isinstance(digits, str) else "")
        elif isinstance(action, LookupCaller):
            record = await m.acall("crm_lookup", customer=action.caller,
                                   deadline_s=self.ivr.config.lookup_timeout_s)
            if not isinstance(record, dict):
                return CallerIdentified(action.contact_id)
            return CallerIdentified(action.contact_id, str(record.get("id", action.caller)), dict(record))
        elif isinstance(action, RunSelfService):
            result = await m.acall("ivr_self_service", step=action.step, contact=action.contact_id,
                                   inputs=action.inputs, deadline_s=self.ivr.config.self_service_timeout_s)
            return SelfServiceDone(action.contact_id, result if isinstance(result, dict) else None)
        elif isinstance(action, RecordVoicemail):
            self._end(action.contact_id, "voicemail")
            taken = await m.acall("ivr_record_voicemail", channel=action.channel, action=action, now=self.now(),
                                  deadline_s=self.hook_deadline_s)
            if not taken:
                await self._hang_up(action.channel, HangUp(action.contact_id, "voicemail-unavailable"))
        elif isinstance(action, IvrRouted):
            channel = self._end(action.contact_id, "routed")
            arrival = action.arrival()
            try:
                await self.submit_arrival(arrival)
            except SwitchboardError as exc:
                self.outcomes[action.contact_id] = "rejected"
                log.error("the ACD refused %s from the IVR: %s", action.contact_id, exc)
                await self._hang_up(channel, HangUp(action.contact_id, "rejected"))
            else:
                self.routed.append(arrival)
        elif isinstance(action, HangUp):
            await self._hang_up(self._end(action.contact_id, "hung-up"), action)
        return None

    def _end(self, contact_id: str, outcome: str) -> str:
        self.outcomes[contact_id] = outcome
        return self._channels.pop(contact_id, "voice")

    async def _hang_up(self, channel: str, action: HangUp) -> None:
        await self.manager.acall("channel_hangup", channel=channel, action=action, now=self.now(),
                                 deadline_s=self.hook_deadline_s)
