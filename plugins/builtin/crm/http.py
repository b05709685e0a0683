"""``HttpCrm`` (plugin ``"crm-http"``): the screen-pop record and history from an external CRM's JSON endpoint.

Not a default built-in: ``register_if_configured(manager, config)`` registers it when the configuration has a
``[plugins.crm-http]`` section::

    [plugins.crm-http]
    url = "https://crm.example.com/api/customers/{customer}"   # required; {customer} is URL-quoted
    timeout_s = 2.0          # per request (connect and each read)
    cache_ttl_s = 60.0       # answers, found or not found, are kept this long (0: no cache)
    headers = { Authorization = "Bearer ..." }

The endpoint answers ``GET`` with a JSON object (the customer record; its optional ``history`` key, a list of
objects, is what ``crm_history`` returns) or 404 / ``null`` when the customer is unknown. Found and not-found
answers are cached for ``cache_ttl_s`` (on the injectable ``clock``); failures (timeout, connection refused,
other HTTP status, a body that is not a JSON object) are logged on one line and answered with ``None``, not
cached, so the next contact tries again. The request blocks: the engine calls CRM hooks through
``PluginManager.acall``, which runs it in a worker thread under the hook's deadline.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from plugins import hookimpl
from plugins.builtin.crm.section import (
    REQUIRED,
    Key,
    config_error,
    not_negative,
    plugin_section,
    positive,
    validate_section,
)

log = logging.getLogger("switchboard.crm.http")

NAME = "crm-http"


def _url_problem(url: str) -> str | None:
    if not url.startswith(("http://", "https://")):
        return f"expected an http:// or https:// URL, got {url!r}"
    if "{customer}" not in url:
        return f"the URL has no {{customer}} placeholder: {url!r}"
    return None


KEYS = {
    "url": Key((str,), "a URL with a {customer} placeholder", REQUIRED, _url_problem),
    "timeout_s": Key((int, float), "a number of seconds", 2.0, positive),
    "cache_ttl_s": Key((int, float), "a number of seconds", 60.0, not_negative),
    "headers": Key((dict,), "a table of header names to strings", {}),
}


def validate(config: Any) -> dict[str, Any] | None:
    """The ``crm-http`` section with defaults, ``None`` when there is none; ``ConfigError`` naming file:line:key."""
    section, config_file = plugin_section(config, NAME)
    if section is None:
        return None
    settings = validate_section(section, KEYS, ("plugins", NAME), config_file)
    for header, value in settings["headers"].items():
        if not isinstance(value, str):
            raise config_error(config_file, ("plugins", NAME, "headers", header), f"expected a string, got {value!r}")
    return settings


class HttpCrm:
    """See the module docstring. ``clock`` (monotonic seconds) times the cache; ``requests`` counts GETs sent."""

    def __init__(self, url: str, *, timeout_s: float = 2.0, cache_ttl_s: float = 60.0,
                 headers: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.timeout_s = float(timeout_s)
        self.cache_ttl_s = float(cache_ttl_s)
        self.headers = dict(headers or {})
        self.clock = clock
        self.requests = 0
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Any, *, clock: Callable[[], float] = time.monotonic) -> HttpCrm | None:
        settings = validate(config)
        if settings is None:
            return None
        return cls(settings["url"], timeout_s=settings["timeout_s"], cache_ttl_s=settings["cache_ttl_s"],
                   headers=settings["headers"], clock=clock)

    # ------------------------------------------------------------------------------------------------ I/O ----

    def fetch(self, customer: str) -> dict[str, Any] | None:
        """The endpoint's object for ``customer`` (cached), or ``None`` (unknown, or the request failed)."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(customer)
            if hit is not None and hit[0] > now:
                return hit[1]
        found, cacheable = self._get(customer)
        if cacheable and self.cache_ttl_s > 0:
            with self._lock:
                self._cache[customer] = (self.clock() + self.cache_ttl_s, found)
        return found

    def _get(self, customer: str) -> tuple[dict[str, Any] | None, bool]:
        """``(answer, cacheable)``: failures are not cacheable."""
        url = self.url.replace("{customer}", urllib.parse.quote(customer, safe=""))
        request = urllib.request.Request(url, headers={"Accept": "application/json", **self.headers})
        with self._lock:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None, True
            log.error("crm-http: GET %s: HTTP %d %s; no CRM record", url, exc.code, exc.reason)
            return None, False
        except TimeoutError:
            log.error("crm-http: GET %s: timed out after %.3g s; no CRM record", url, self.timeout_s)
            return None, False
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                log.error("crm-http: GET %s: timed out after %.3g s; no CRM record", url, self.timeout_s)
            else:
                log.error("crm-http: GET %s: %s; no CRM record", url, reason)
            return None, False
        try:
            data = json.loads(body)
        except ValueError as exc:
            log.error("crm-http: GET %s: the body is not JSON (%s); no CRM record", url, exc)
            return None, False
        if data is None:
            return None, True
        if not isinstance(data, dict):
            log.error("crm-http: GET %s: expected a JSON object, got %s; no CRM record", url, type(data).__name__)
            return None, False
        return data, True

    # ---------------------------------------------------------------------------------------------- hooks ----

    @hookimpl
    def crm_lookup(self, customer: str) -> dict[str, Any] | None:
        found = self.fetch(customer)
        if found is None:
            return None
        return {**{k: v for k, v in found.items() if k != "history"}, "source": NAME}

    @hookimpl
    def crm_history(self, customer: str) -> list[dict[str, Any]] | None:
        found = self.fetch(customer)
        history = found.get("history") if found else None
        if not isinstance(history, list):
            return None
        return [{**entry, "source": NAME} for entry in history if isinstance(entry, dict)]


def register_if_configured(manager: Any, config: Any, *, clock: Callable[[], float] = time.monotonic
                           ) -> HttpCrm | None:
    """Register an ``HttpCrm`` as ``"crm-http"`` in ``manager`` (a ``plugins.manager.PluginManager``) when
    ``config`` has a ``[plugins.crm-http]`` section; return it (``None`` when not configured). Call it at startup,
    before ``manager.configure()``; a bad section is a ``ConfigError`` naming file:line:key."""
    plugin = HttpCrm.from_config(config, clock=clock)
    if plugin is not None:
        manager.register(plugin, NAME, source="builtin")
    return plugin


__all__ = ["HttpCrm", "register_if_configured", "validate"]
