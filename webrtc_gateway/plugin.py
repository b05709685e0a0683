"""The ``webrtc`` plugin: the WebRTC gateway as a channel adapter (``docs/gateway.md``).

Registered as a built-in (``plugins.builtin.BUILTIN_PLUGINS``) so that the admin API serves its sockets; it does
nothing until it runs. ``switchboard_configure`` reads the ``[plugins.webrtc]`` section
(``webrtc_gateway.settings``; a bad one stops the start); ``switchboard serve`` then runs it
(``await nursery.start(plugin.run, runtime, ...)``) when the section turns it on, and on the embedded demo by
default. Running, it starts the media workers (``webrtc_gateway.pool``) and the ``Gateway``
(``webrtc_gateway.gateway``), registers the dialer's sink (``Dial`` to ``webrtc:ADDRESS``, ``PlayMessage``,
``DropCall``) on the runtime, and answers the channel hooks for the contacts it owns on channel ``voice``.

The channel hooks are ``async def`` that never suspend (except ``channel_collect_digits``, which waits for the
caller's keys) and are marked ``tryfirst``: the simulator also answers channel ``voice``, and every hook here
returns ``None`` for contacts the gateway does not own, so both coexist. Not running, every hook returns
``None`` and the sockets answer ``unavailable``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import trio

from engine.dialer_events import Dial, DropCall, PlayMessage
from engine.events import Bridge, CancelOffer, HangUp, OfferContact, Unbridge
from engine.survey import StartSurvey
from plugins import hookimpl
from webrtc_gateway.gateway import Gateway, MediaPort
from webrtc_gateway.settings import Settings
from webrtc_gateway.sockets import CHANNEL

log = logging.getLogger("switchboard.webrtc")

NAME = "webrtc"

MediaFactory = Callable[[Settings], AbstractAsyncContextManager[MediaPort]]


class DialerSink:
    """A runtime sink for the dialer's actions on web callers (``Dial`` to ``webrtc:...``, ``PlayMessage``,
    ``DropCall``); quick and inline: the work goes to the gateway's lanes."""

    accepts = (Dial, PlayMessage, DropCall)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def handle(self, action: Any, now: float) -> None:
        if isinstance(action, Dial):
            self.gateway.callers.dial(action)
        elif isinstance(action, (PlayMessage, DropCall)):
            self.gateway.callers.dial_message(action)


class WebRtcPlugin:
    """See the module docstring. ``gateway`` is the running ``Gateway`` (``None`` when not running)."""

    def __init__(self) -> None:
        self.config: Any = None
        self.settings: Settings | None = None
        self.gateway: Gateway | None = None

    # ------------------------------------------------------------------------------------------- life ----

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        self.config = config
        self.settings = Settings.from_config(config)

    def wanted(self, *, default_on: bool) -> Settings | None:
        """The settings to run with, or ``None`` when the gateway stays off (no ``[plugins.webrtc]`` section and
        not ``default_on``, or ``enabled = false``)."""
        if self.settings is not None:
            return self.settings
        return Settings.from_config(self.config, default_on=default_on)

    async def run(self, runtime: Any, manager: Any, settings: Settings, data_dir: str | Path, *,
                  dispatcher: Any = None, media: MediaFactory | None = None,
                  task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the gateway for ``runtime`` until cancelled: the media workers (``media(settings)``, default the
        pool of ``webrtc_gateway.pool``), the ``Gateway``, the dialer's sink. ``task_status`` gets the gateway."""
        factory = media if media is not None else _pool
        ivr = manager.pm.get_plugin("ivr")
        async with factory(settings) as port:
            gateway = Gateway(settings, runtime, manager, port, data_dir,
                              ivr_config=getattr(ivr, "config", None),
                              track=getattr(dispatcher, "track", None))
            sink = DialerSink(gateway)
            async with trio.open_nursery() as nursery:
                await nursery.start(gateway.run)
                runtime.add_sink(sink)
                self.gateway = gateway
                try:
                    task_status.started(gateway)
                    await trio.sleep_forever()
                finally:
                    self.gateway = None
                    runtime.remove_sink(sink)
                    nursery.cancel_scope.cancel()

    def _running(self, channel: str) -> Gateway | None:
        gateway = self.gateway
        return gateway if gateway is not None and gateway.running and channel == CHANNEL else None

    # ------------------------------------------------------------------------------------------ hooks ----

    @hookimpl
    def channel_blueprints(self) -> list[Any]:
        from webrtc_gateway.signalling import blueprint

        return [blueprint]

    @hookimpl
    def channel_agent_present(self, agent_id: str) -> bool | None:
        gateway = self.gateway
        return True if gateway is not None and gateway.agents.present(agent_id) else None

    @hookimpl(tryfirst=True)
    async def channel_answer(self, channel: str, action: Any, now: float) -> bool | None:
        gateway = self._running(channel)
        if gateway is None or not isinstance(action, OfferContact):
            return None
        return gateway.on_action(gateway.calls.offer, action)

    @hookimpl(tryfirst=True)
    async def channel_bridge(self, channel: str, action: Any, now: float) -> bool | None:
        gateway = self._running(channel)
        if gateway is None:
            return None
        if isinstance(action, Bridge):
            return gateway.on_action(gateway.calls.bridge, action)
        if isinstance(action, Unbridge):
            return gateway.on_action(gateway.calls.unbridge, action)
        return None

    @hookimpl(tryfirst=True)
    async def channel_play(self, channel: str, action: Any, now: float) -> bool | None:
        gateway = self._running(channel)
        if gateway is None:
            return None
        if isinstance(action, StartSurvey):
            return gateway.on_action(gateway.calls.survey, action)
        return gateway.on_action(gateway.calls.play, action)

    @hookimpl(tryfirst=True)
    async def channel_collect_digits(self, channel: str, contact_id: str, max_digits: int,
                                     timeout_s: float) -> str | None:
        gateway = self._running(channel)
        if gateway is None or gateway.calls.caller(contact_id) is None:
            return None
        return await gateway.collect_digits(contact_id, max_digits, timeout_s)

    @hookimpl(tryfirst=True)
    async def channel_hangup(self, channel: str, action: Any, now: float) -> bool | None:
        gateway = self._running(channel)
        if gateway is None:
            return None
        if isinstance(action, HangUp):
            return gateway.on_action(gateway.calls.hang_up, action)
        if isinstance(action, CancelOffer):
            return gateway.on_action(gateway.calls.cancel_offer, action)
        return None

    @hookimpl(tryfirst=True)
    async def channel_contact_ended(self, channel: str, record: Any, now: float) -> dict[str, Any] | None:
        gateway = self._running(channel)
        if gateway is None:
            return None
        return gateway.calls.contact_ended(record.contact_id)


MAX_DEFAULT_WORKERS = 8


def _pool(settings: Settings) -> AbstractAsyncContextManager[MediaPort]:
    """The media workers (``settings.workers``; 0: one per CPU, at most ``MAX_DEFAULT_WORKERS``)."""
    import os

    from webrtc_gateway.pool import open_media_pool

    workers = settings.workers or min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)
    return open_media_pool(workers)  # type: ignore[return-value]
