"""Loading plugins and calling their hooks so that none of them can stop routing.

``PluginManager`` wraps ``pluggy.PluginManager``:

- it registers the built-ins (``plugins.builtin.BUILTINS``), then the third-party plugins declared under the
  entry-point group ``switchboard.plugins`` (unless ``SWITCHBOARD_DISABLE_PLUGIN_AUTOLOAD=1``), then the modules
  named in the configuration (``plugins = ["pkg.mod", ...]`` or ``[plugins] load = [...]``);
- ``call`` (sync) and ``acall`` (trio) run each implementation of a hook on its own: an exception is logged with the
  plugin's name and counted in ``faults``; a deadline bounds each implementation (``acall`` runs sync
  implementations in a worker thread and abandons them when the deadline passes; ``call`` measures the time and
  counts an overrun, discarding the late result). The caller always gets an answer: the results of the healthy
  implementations, or its ``default``;
- ``ObserverSink`` is an action sink (``handle(action, now)``) the runtime registers like any other, forwarding
  every action to ``observe_action`` through ``call``.

Results: for a ``firstresult`` hook, the first non-``None`` result in pluggy's call order (last registered first,
``tryfirst``/``trylast`` respected), or ``default``. For a collected hook, the list of non-``None`` results in call
order, where every faulting implementation contributes ``default`` instead (when ``default`` is not ``None``): this
is how the compliance check fails closed. Hook wrappers (``wrapper=True`` / ``hookwrapper=True``) are not run by
``call``/``acall``; use plain implementations.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy
import trio

from engine.errors import ConfigError
from plugins import hookspecs
from plugins.hookspecs import PROJECT, Verdict

log = logging.getLogger(__name__)

ENTRYPOINT_GROUP = "switchboard.plugins"
AUTOLOAD_ENV = "SWITCHBOARD_DISABLE_PLUGIN_AUTOLOAD"
DEFAULT_DEADLINE_S = 1.0
FAULT_VERDICT = Verdict(False, "a compliance plugin failed or was too slow", "plugin-fault")


def _own_version() -> str:
    try:
        return importlib.metadata.version("switchboard")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0+source"  # running from a checkout that was not installed


def _config_paths(config: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(dotted path, config key) of every plugin the configuration names."""
    if not config:
        return []
    section = config.get("plugins")
    if section is None:
        return []
    if isinstance(section, Mapping):
        names, key = section.get("load", []), "plugins.load"
    else:
        names, key = section, "plugins"
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ConfigError(f"{key}: expected a list of dotted module paths, got {names!r}")
    out = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{key}[{i}]: expected a dotted module path, got {name!r}")
        out.append((name, f"{key}[{i}]"))
    return out


def _finish_without_awaiting(coro: Any) -> Any:
    """Run an ``async def`` implementation that never suspends (a quick adapter) to its result, in a sync call;
    one that does suspend needs ``acall``: it is closed and the call counts as a fault."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise TypeError("async implementation awaited inside a synchronous call (use acall)")


class PluginManager:
    """The engine's plugins. See the module docstring.

    ``config``: the engine's configuration mapping (``None``: none). ``autoload``: load entry points (``None``:
    unless the environment variable ``SWITCHBOARD_DISABLE_PLUGIN_AUTOLOAD`` is ``1``). ``builtins``: register the
    built-in plugins.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, autoload: bool | None = None,
                 builtins: bool = True, load: bool = True, timer: Any = time.perf_counter) -> None:
        self.timer = timer  # measures sync calls (injectable for tests)
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.config = config
        self.faults: dict[str, int] = {}
        self.overruns: dict[str, int] = {}
        self._sources: dict[str, str] = {}
        self._versions: dict[str, str | None] = {}
        if autoload is None:
            autoload = os.environ.get(AUTOLOAD_ENV, "") != "1"
        if load:
            if builtins:
                self.load_builtins()
            if autoload:
                self.load_entrypoints()
            self.load_from_config(config)

    # ------------------------------------------------------------------------------------------- loading ----

    def register(self, plugin: Any, name: str | None = None, *, source: str = "config",
                 version: str | None = None) -> str:
        """Register ``plugin`` (a module, class or instance with ``@hookimpl`` functions); return its name.
        pluggy validates the implementations against the specs (``PluginValidationError`` if one does not match)."""
        registered = self.pm.register(plugin, name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked")
        if version is None:
            version = getattr(plugin, "__version__", None)
            if version is None:
                module = inspect.getmodule(plugin)
                version = getattr(module, "__version__", None)
        self._sources[registered] = source
        self._versions[registered] = version
        return registered

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._sources.pop(name, None)
        self._versions.pop(name, None)

    def load_builtins(self) -> None:
        from plugins.builtin import BUILTINS

        for name, plugin in BUILTINS:
            if not self.pm.has_plugin(name):
                self.register(plugin, name, source="builtin", version=_own_version())

    def load_entrypoints(self) -> int:
        """Register every plugin of the entry-point group ``switchboard.plugins``; return how many.

        A plugin that cannot be imported or does not match the specs is a ``ConfigError`` naming the entry point
        and its distribution (fix or uninstall it, or start with ``SWITCHBOARD_DISABLE_PLUGIN_AUTOLOAD=1``)."""
        count = 0
        for ep in importlib.metadata.entry_points(group=ENTRYPOINT_GROUP):
            if self.pm.has_plugin(ep.name) or self.pm.is_blocked(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            where = f"entry point {ep.name!r} ({ep.value}) of {getattr(dist, 'name', '?')}"
            try:
                plugin = ep.load()
                self.register(plugin, ep.name, source="entrypoint", version=getattr(dist, "version", None))
            except (ImportError, AttributeError, pluggy.PluginValidationError) as exc:
                raise ConfigError(f"{where}: cannot load plugin: {exc}") from exc
            count += 1
        return count

    def load_from_config(self, config: Mapping[str, Any] | None) -> None:
        """Import and register every module the configuration names. ``ConfigError`` names the plugin and key."""
        for path, key in _config_paths(config):
            if self.pm.has_plugin(path):
                continue
            try:
                module = importlib.import_module(path)
            except ImportError as exc:
                raise ConfigError(f"{key}: cannot load plugin {path!r}: {exc}") from exc
            try:
                self.register(module, path, source="config")
            except pluggy.PluginValidationError as exc:
                raise ConfigError(f"{key}: plugin {path!r} is invalid: {exc}") from exc

    # ------------------------------------------------------------------------------------------- listing ----

    def list_plugins(self) -> list[dict[str, Any]]:
        """Every registered plugin: ``name``, ``version``, ``hooks`` (sorted names) and ``source``."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            callers = self.pm.get_hookcallers(plugin) or []
            out.append({"name": name, "version": self._versions.get(name),
                        "hooks": sorted(caller.name for caller in callers),
                        "source": self._sources.get(name, "config")})
        return sorted(out, key=lambda p: (p["source"] != "builtin", p["name"]))

    # ----------------------------------------------------------------------------------------------- calls ----

    def _impls(self, hook_name: str) -> tuple[list[pluggy.HookImpl], bool]:
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            raise AttributeError(f"no hook named {hook_name!r}")
        firstresult = bool(caller.spec.opts.get("firstresult"))
        impls = [impl for impl in reversed(caller.get_hookimpls()) if not (impl.hookwrapper or impl.wrapper)]
        return impls, firstresult

    def _fault(self, name: str, hook_name: str, what: str) -> None:
        self.faults[name] = self.faults.get(name, 0) + 1
        log.error("plugin %r %s in %s; isolated, routing goes on", name, what, hook_name)

    def _overrun(self, name: str, hook_name: str, elapsed: float, deadline_s: float) -> None:
        self.overruns[name] = self.overruns.get(name, 0) + 1
        self._fault(name, hook_name, f"exceeded its deadline ({elapsed:.3f} s > {deadline_s:.3f} s)")

    @staticmethod
    def _finish(results: list[Any], firstresult: bool, default: Any) -> Any:
        if firstresult:
            return results[0] if results else default
        return results

    def call(self, hook_name: str, *, deadline_s: float = DEFAULT_DEADLINE_S, default: Any = None,
             **kwargs: Any) -> Any:
        """Call every implementation of ``hook_name`` in this thread, isolated (see the module docstring).

        An implementation taking longer than ``deadline_s`` is counted as an overrun and a fault, and its result is
        dropped. Never raises because of a plugin.
        """
        impls, firstresult = self._impls(hook_name)
        results: list[Any] = []
        for impl in impls:
            args = [kwargs[arg] for arg in impl.argnames]
            start = self.timer()
            try:
                result = impl.function(*args)
                if inspect.iscoroutine(result):
                    result = _finish_without_awaiting(result)
            except Exception:
                self._fault(impl.plugin_name, hook_name, "raised")
                log.debug("traceback of plugin %r", impl.plugin_name, exc_info=True)
                if not firstresult and default is not None:
                    results.append(default)
                continue
            elapsed = self.timer() - start
            if elapsed > deadline_s:
                self._overrun(impl.plugin_name, hook_name, elapsed, deadline_s)
                if not firstresult and default is not None:
                    results.append(default)
                continue
            if result is not None:
                results.append(result)
                if firstresult:
                    break
        return self._finish(results, firstresult, default)

    async def acall(self, hook_name: str, *, deadline_s: float = DEFAULT_DEADLINE_S, default: Any = None,
                    **kwargs: Any) -> Any:
        """As ``call``, for trio code: each sync implementation runs in a worker thread under
        ``trio.move_on_after(deadline_s)`` and is abandoned (left to finish on its own, result dropped) when the
        deadline passes; ``async def`` implementations are awaited under the same deadline."""
        impls, firstresult = self._impls(hook_name)
        results: list[Any] = []
        for impl in impls:
            args = [kwargs[arg] for arg in impl.argnames]
            failed = False
            result = None
            with trio.move_on_after(deadline_s) as scope:
                try:
                    if inspect.iscoroutinefunction(impl.function):
                        result = await impl.function(*args)
                    else:
                        result = await trio.to_thread.run_sync(impl.function, *args, abandon_on_cancel=True)
                except Exception:
                    failed = True
                    self._fault(impl.plugin_name, hook_name, "raised")
                    log.debug("traceback of plugin %r", impl.plugin_name, exc_info=True)
            if scope.cancelled_caught:
                failed = True
                self._overrun(impl.plugin_name, hook_name, deadline_s, deadline_s)
            if failed:
                if not firstresult and default is not None:
                    results.append(default)
                continue
            if result is not None:
                results.append(result)
                if firstresult:
                    break
        return self._finish(results, firstresult, default)

    # --------------------------------------------------------------------------------------- conveniences ----

    @staticmethod
    def _verdict(verdicts: list[Any]) -> Verdict:
        for verdict in verdicts:
            if isinstance(verdict, Verdict) and not verdict.allowed:
                return verdict
            if not isinstance(verdict, Verdict):
                return Verdict(False, f"a compliance plugin returned {verdict!r}, not a Verdict", "plugin-fault")
        return Verdict(True, "no rule refused", "")

    def check_compliance(self, request: Any, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Verdict:
        """Ask every compliance rule: any refusal wins (the first in call order, with its reason and rule); a rule
        that raises or overruns refuses (``rule="plugin-fault"``); no refusal means allowed."""
        return self._verdict(self.call("compliance_check", deadline_s=deadline_s, default=FAULT_VERDICT,
                                       request=request))

    async def acheck_compliance(self, request: Any, *, deadline_s: float = DEFAULT_DEADLINE_S) -> Verdict:
        """``check_compliance`` for trio code (hanging rules are abandoned at the deadline)."""
        return self._verdict(await self.acall("compliance_check", deadline_s=deadline_s, default=FAULT_VERDICT,
                                              request=request))

    def configure(self, config: Any = None, *, deadline_s: float = 10.0, strict: bool = False) -> None:
        """Call ``switchboard_configure`` on every plugin. Lenient (default): a plugin that raises is logged and
        counted like any fault. ``strict`` (server start): the first plugin that raises stops it, as a
        ``ConfigError`` carrying the plugin's name and message, so that a server never starts half-configured."""
        config = self.config if config is None else config
        if not strict:
            self.call("switchboard_configure", deadline_s=deadline_s, config=config)
            return
        impls, _ = self._impls("switchboard_configure")
        for impl in impls:
            try:
                impl.function(*[{"config": config}[arg] for arg in impl.argnames])
            except ConfigError as exc:
                raise ConfigError(f"plugin {impl.plugin_name!r}: {exc}") from None
            except Exception as exc:
                raise ConfigError(f"plugin {impl.plugin_name!r} failed to configure: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def unconfigure(self, config: Any = None, *, deadline_s: float = 10.0) -> None:
        self.call("switchboard_unconfigure", deadline_s=deadline_s,
                  config=self.config if config is None else config)


class ObserverSink:
    """An action sink for ``engine.runtime.Runtime.add_sink``: every action goes to ``observe_action``, isolated.

    Runs in the runtime's thread, so observers must be quick; one that overruns ``deadline_s`` is counted as a
    fault in ``manager.faults``.
    """

    def __init__(self, manager: PluginManager, *, deadline_s: float = 0.05) -> None:
        self.manager = manager
        self.deadline_s = deadline_s

    def handle(self, action: Any, now: float) -> None:
        self.manager.call("observe_action", deadline_s=self.deadline_s, default=None, action=action, now=now)
