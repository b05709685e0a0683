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
- ``acall_many`` (trio) makes a batch of calls of one hook, in order, for a caller with a queue of them (the CRM
  write-backs): async implementations are awaited call by call as in ``acall``, and each sync implementation runs
  the whole batch in one worker thread, each call isolated and measured as in ``call``. Each hop to a worker thread
  waits for the GIL, which a busy event loop holds for up to ``sys.getswitchinterval()`` (5 ms): a hop per call
  caps such a queue at a few hundred calls a second, a hop per batch does not;
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
import threading
import time
from collections.abc import Callable, Iterable, Mapping
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
        # hook name -> (pluggy's implementations when last looked at, ours to call, firstresult)
        self._impl_cache: dict[str, tuple[list[pluggy.HookImpl], list[_Impl], bool]] = {}
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

    def _impls(self, hook_name: str) -> tuple[list[_Impl], bool]:
        """The implementations of ``hook_name`` in call order, and whether it is ``firstresult``; cached until
        pluggy's list changes (a plugin registered or unregistered, by us or directly on ``pm``)."""
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            raise AttributeError(f"no hook named {hook_name!r}")
        current = caller.get_hookimpls()
        cached = self._impl_cache.get(hook_name)
        if cached is not None and cached[0] == current:
            return cached[1], cached[2]
        firstresult = bool(caller.spec.opts.get("firstresult"))
        impls = [_Impl(impl) for impl in reversed(current) if not (impl.hookwrapper or impl.wrapper)]
        self._impl_cache[hook_name] = (current, impls, firstresult)
        return impls, firstresult

    def _fault(self, name: str, hook_name: str, what: str) -> None:
        self.faults[name] = self.faults.get(name, 0) + 1
        log.error("plugin %r %s in %s; isolated, routing goes on", name, what, hook_name)

    def _overrun(self, name: str, hook_name: str, elapsed: float, deadline_s: float) -> None:
        self.overruns[name] = self.overruns.get(name, 0) + 1
        self._fault(name, hook_name, f"exceeded its deadline ({elapsed:.3f} s > {deadline_s:.3f} s)")

    def _raised(self, impl: _Impl, hook_name: str, exc: BaseException) -> None:
        self._fault(impl.plugin_name, hook_name, "raised")
        log.debug("traceback of plugin %r", impl.plugin_name, exc_info=exc)

    @staticmethod
    def _failed(results: list[Any], firstresult: bool, default: Any) -> None:
        """A collected hook's failed implementation contributes ``default`` (when there is one)."""
        if not firstresult and default is not None:
            results.append(default)

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
            except Exception as exc:
                self._raised(impl, hook_name, exc)
                self._failed(results, firstresult, default)
                continue
            elapsed = self.timer() - start
            if elapsed > deadline_s:
                self._overrun(impl.plugin_name, hook_name, elapsed, deadline_s)
                self._failed(results, firstresult, default)
                continue
            if result is not None:
                results.append(result)
                if firstresult:
                    break
        return self._finish(results, firstresult, default)

    async def acall(self, hook_name: str, *, deadline_s: float = DEFAULT_DEADLINE_S, default: Any = None,
                    **kwargs: Any) -> Any:
        """As ``call``, for trio code: each sync implementation runs in a worker thread and is abandoned (left to
        finish on its own, result dropped) when ``deadline_s`` passes; ``async def`` implementations are awaited
        under the same deadline, which starts afresh for each implementation."""
        impls, firstresult = self._impls(hook_name)
        results: list[Any] = []
        i, n = 0, len(impls)
        while i < n:
            # One cancel scope for as many implementations as keep within their deadline (entering a scope costs
            # more than most quick adapters' hooks): its deadline is moved forward before each one, and a fresh
            # scope takes over after one overran or if the deadline fired just as one returned.
            with trio.CancelScope() as scope:
                while i < n and not scope.cancel_called:
                    impl = impls[i]
                    i += 1
                    args = [kwargs[arg] for arg in impl.argnames]
                    scope.deadline = trio.current_time() + deadline_s
                    try:
                        if impl.is_async:
                            result = await impl.function(*args)
                        else:
                            result = await trio.to_thread.run_sync(impl.function, *args, abandon_on_cancel=True)
                    except Exception as exc:
                        self._raised(impl, hook_name, exc)
                        self._failed(results, firstresult, default)
                        continue
                    if result is not None:
                        results.append(result)
                        if firstresult:
                            return result
            if scope.cancelled_caught:
                self._overrun(impls[i - 1].plugin_name, hook_name, deadline_s, deadline_s)
                self._failed(results, firstresult, default)
        return self._finish(results, firstresult, default)

    async def acall_many(self, hook_name: str, calls: list[dict[str, Any]], *,
                         deadline_s: float = DEFAULT_DEADLINE_S, default: Any = None) -> list[Any]:
        """Call ``hook_name`` once with each keyword mapping of ``calls``; return each call's answer, as ``acall``
        would give it. Each implementation sees the calls in order (implementation by implementation, not call by
        call). An ``async def`` implementation is awaited for each call under ``deadline_s``. A sync one runs the
        batch in one worker thread: a call that raises is a fault, one that takes longer than ``deadline_s`` an
        overrun (result dropped), and the thread is abandoned once ``deadline_s`` per call has passed in all: the
        calls it has not finished then are overruns and it starts no more of them."""
        impls, firstresult = self._impls(hook_name)
        results: list[list[Any]] = [[] for _ in calls]
        for impl in impls:
            todo = [i for i, r in enumerate(results) if not (firstresult and r)]
            if not todo:
                break
            if impl.is_async:
                outcomes = [await self._acall_one(impl, hook_name, calls[i], deadline_s) for i in todo]
            else:
                outcomes = await self._sync_batch(impl, hook_name, [calls[i] for i in todo], deadline_s)
            for i, (ok, result) in zip(todo, outcomes, strict=True):
                if not ok:
                    self._failed(results[i], firstresult, default)
                elif result is not None:
                    results[i].append(result)
        return [self._finish(r, firstresult, default) for r in results]

    async def _acall_one(self, impl: _Impl, hook_name: str, kwargs: dict[str, Any], deadline_s: float
                         ) -> tuple[bool, Any]:
        with trio.move_on_after(deadline_s) as scope:
            try:
                return True, await impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception as exc:
                self._raised(impl, hook_name, exc)
                return False, None
        assert scope.cancelled_caught
        self._overrun(impl.plugin_name, hook_name, deadline_s, deadline_s)
        return False, None

    async def _sync_batch(self, impl: _Impl, hook_name: str, calls: list[dict[str, Any]], deadline_s: float
                          ) -> list[tuple[bool, Any]]:
        abandoned = threading.Event()
        done: list[tuple[BaseException | None, Any, float]] = []  # (exception, result, elapsed) per finished call

        def work() -> None:
            for kwargs in calls:
                if abandoned.is_set():
                    return
                start = self.timer()
                try:
                    result = impl.function(*[kwargs[arg] for arg in impl.argnames])
                    if inspect.iscoroutine(result):
                        result = _finish_without_awaiting(result)
                except Exception as exc:
                    done.append((exc, None, 0.0))
                    continue
                done.append((None, result, self.timer() - start))

        with trio.move_on_after(deadline_s * len(calls)):
            await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        abandoned.set()
        finished = done[:]  # an abandoned thread may still append the call it was in; that one is late
        outcomes: list[tuple[bool, Any]] = []
        for exc, result, elapsed in finished:
            if exc is not None:
                self._raised(impl, hook_name, exc)
                outcomes.append((False, None))
            elif elapsed > deadline_s:
                self._overrun(impl.plugin_name, hook_name, elapsed, deadline_s)
                outcomes.append((False, None))
            else:
                outcomes.append((True, result))
        for _ in range(len(calls) - len(finished)):
            self._overrun(impl.plugin_name, hook_name, deadline_s, deadline_s)
            outcomes.append((False, None))
        return outcomes

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


class _Impl:
    """What calling one pluggy implementation needs, looked up once."""

    __slots__ = ("function", "argnames", "plugin_name", "is_async")

    def __init__(self, impl: pluggy.HookImpl) -> None:
        self.function: Callable[..., Any] = impl.function
        self.argnames = impl.argnames
        self.plugin_name = impl.plugin_name
        self.is_async = inspect.iscoroutinefunction(impl.function)


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
