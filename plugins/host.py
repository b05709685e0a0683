"""The plugin side of ``switchboard serve``: the store, the plugin manager, and the sinks that connect them.

``PluginHost.open(data_dir, config_file, store_option=None)`` (blocking; call it before the engine accepts events):

1. opens the store (``--store``, else the file's ``[store] url``, else ``<data_dir>/switchboard.sqlite3``:
   ``engine.store.target``), created and migrated as needed;
2. builds the ``PluginManager`` from the configuration mapping: the file's tables plus ``store``,
   ``config_file`` (the ``TomlFile``, so plugins name file, line and key in their errors) and ``data_dir``;
   built-ins, entry points and ``[plugins] load = [...]`` are registered; the HTTP CRM when configured;
3. configures every plugin strictly: the first plugin that refuses its section stops the start with a
   ``ConfigError`` naming it, and the store is closed again: the server never runs half-configured.

``attach(runtime)`` adds the action sinks (the channel dispatcher, which also writes records back to the CRMs,
and the observers) to the runtime;
``close()`` unconfigures the plugins and closes the store. ``engine/serve.py`` is the one module of ``engine``
that reaches this one: it is the process's composition root, and imports it lazily.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.store import SqlStore, open_store
from engine.store.target import store_target
from engine.tomlfile import TomlFile
from plugins.dispatch import ChannelDispatcher
from plugins.manager import ObserverSink, PluginManager

log = logging.getLogger(__name__)


class PluginHost:
    """The store and the configured plugins of one server. See the module docstring."""

    def __init__(self, manager: PluginManager, store: SqlStore, config: dict[str, Any]) -> None:
        self.manager = manager
        self.store = store
        self.config = config
        self.dispatcher: ChannelDispatcher | None = None

    @classmethod
    def open(cls, data_dir: Path, config_file: TomlFile | None, *, autoload: bool | None = None,
             store_option: str | None = None) -> PluginHost:
        from plugins.builtin.crm.http import register_if_configured

        data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(store_target(data_dir, store_option, config_file))
        config: dict[str, Any] = {**(config_file.data if config_file else {}), "store": store,
                                  "config_file": config_file, "data_dir": str(data_dir)}
        try:
            manager = PluginManager(config, autoload=autoload)
            register_if_configured(manager, config)
            manager.configure(strict=True)
        except BaseException:
            store.close()
            raise
        names = ", ".join(p["name"] for p in manager.list_plugins())
        log.info("plugins: %s", names or "none")
        return cls(manager, store, config)

    def attach(self, runtime: Any) -> ChannelDispatcher:
        """Add to ``runtime``'s sinks one channel dispatcher for every channel (it also writes each contact's
        record back to the CRMs) and the observers."""
        acd = runtime.acd

        def channel_of(contact_id: str) -> str | None:
            contact = acd.contacts.get(contact_id)
            return contact.channel if contact is not None else None

        def queue_channel(queue_id: str) -> str | None:
            queue = acd.queues.get(queue_id)
            return queue.channel if queue is not None else None

        self.dispatcher = ChannelDispatcher(self.manager, None, lookup=channel_of, queue_lookup=queue_channel)
        runtime.add_sink(self.dispatcher)
        runtime.add_sink(ObserverSink(self.manager))
        return self.dispatcher

    def close(self) -> None:
        try:
            self.manager.unconfigure()
        finally:
            self.store.close()
