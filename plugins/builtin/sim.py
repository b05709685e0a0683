"""The simulator as a channel plugin: ``engine.sim.channel.SimulatedChannel`` behind the channel hooks.

It owns the channel named ``"sim"`` (and the ``channel`` value the simulated contacts carry, ``"voice"`` by
default, once a simulator is attached). Until ``attach`` is called it owns nothing and every hook returns ``None``.

The channel hooks are ``async def`` without awaits: the simulator is quick and never blocks, so the dispatcher
awaits them in the engine's thread (a sync hook would cost a worker thread per action). Each channel hook hands
the engine's action to the simulator and returns what the simulator schedules in answer,
a list of ``(time, event)`` (possibly empty: "taken, nothing follows"), which the driver feeds back to the ACD.
Actions that reach the simulator only as observer events (``ContactStateChanged``, ``ContactRecord``) are passed
through ``observe_action``; their follow-ups are queued and collected with ``drain()``.
"""

from __future__ import annotations

from typing import Any

from engine.events import ContactRecord, ContactStateChanged
from engine.sim.channel import SimulatedChannel
from plugins import hookimpl

NAME = "sim"


class SimChannelPlugin:
    """Thin adapter: no logic of its own beyond routing actions to the attached ``SimulatedChannel``."""

    def __init__(self) -> None:
        self.sim: SimulatedChannel | None = None
        self.channels: frozenset[str] = frozenset()
        self.pending: list[tuple[float, Any]] = []
        self.started = False

    def attach(self, sim: SimulatedChannel, channels: tuple[str, ...] = (NAME, "voice")) -> None:
        """Drive ``sim`` for the given channel names (the simulator's contacts arrive on ``"voice"``)."""
        self.sim = sim
        self.channels = frozenset(channels)
        self.pending = []

    def detach(self) -> None:
        self.sim = None
        self.channels = frozenset()

    def drain(self) -> list[tuple[float, Any]]:
        """Follow-ups the simulator scheduled in answer to observer events, since the last call."""
        out, self.pending = self.pending, []
        return out

    def _owns(self, channel: str) -> bool:
        return self.sim is not None and channel in self.channels

    def _forward(self, channel: str, action: Any, now: float) -> list[tuple[float, Any]] | None:
        if not self._owns(channel):
            return None
        assert self.sim is not None
        return list(self.sim.handle(action, now))

    # ---------------------------------------------------------------------------------------------- hooks ----

    @hookimpl
    def channel_start(self, config: Any) -> list[tuple[float, Any]] | None:
        if self.sim is None:
            return None
        self.started = True
        self.pending.extend(self.sim.start(0.0))
        return None

    @hookimpl
    def channel_stop(self) -> None:
        self.started = False

    @hookimpl
    async def channel_answer(self, channel: str, action: Any, now: float) -> list[tuple[float, Any]] | None:
        return self._forward(channel, action, now)

    @hookimpl
    async def channel_bridge(self, channel: str, action: Any, now: float) -> list[tuple[float, Any]] | None:
        return self._forward(channel, action, now)

    @hookimpl
    async def channel_play(self, channel: str, action: Any, now: float) -> list[tuple[float, Any]] | None:
        return self._forward(channel, action, now)  # heard and ignored by simulated callers

    @hookimpl
    async def channel_hangup(self, channel: str, action: Any, now: float) -> list[tuple[float, Any]] | None:
        return self._forward(channel, action, now)

    @hookimpl
    def observe_action(self, action: Any, now: float) -> None:
        # Only the observer events: the others reach the simulator through the channel hooks above.
        if self.sim is not None and isinstance(action, (ContactStateChanged, ContactRecord)):
            self.pending.extend(self.sim.handle(action, now))
