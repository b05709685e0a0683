"""The built-in CRM through a real PluginManager, the screen pop, and the HTTP adapter against a real server."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trio

from engine.errors import ConfigError
from engine.events import ContactRecord
from engine.store import AsyncStore, SqlStore, open_store
from engine.tomlfile import TomlFile
from plugins import hookimpl
from plugins.builtin.crm.http import HttpCrm, register_if_configured
from plugins.builtin.crm.screen_pop import merge_entries, screen_pop
from plugins.manager import PluginManager


def _record(contact_id: str, channel: str, customer: str, arrived: float, disposition: str = "") -> ContactRecord:
    return ContactRecord(contact_id, channel, customer, "support", "a1", arrived, arrived + 5.0, arrived + 60.0,
                         "answered", disposition, "", (), {"lang": "en"})


@pytest.fixture
def store(store_target: str) -> Iterator[SqlStore]:
    """A fresh store at a fixed time, on each backend."""
    s = open_store(store_target, clock=lambda: 500.0)
    yield s
    s.close()


@pytest.fixture
def crm(store: SqlStore) -> PluginManager:
    """The built-ins (crm, tickets, sim) configured with the store."""
    manager = PluginManager({"store": store, "plugins": {}}, autoload=False)
    manager.configure()
    assert manager.faults == {}
    return manager


def test_unconfigured_crm_knows_nobody() -> None:
    manager = PluginManager(autoload=False)
    assert manager.call("crm_lookup", customer="+15550100") is None
    assert manager.call("crm_history", customer="+15550100") == []
    manager.call("crm_write_back", contact_record=_record("c1", "voice", "+15550100", 1.0))
    assert manager.faults == {}


def test_voice_and_chat_of_one_customer_make_one_history(crm: PluginManager, store: SqlStore) -> None:
    crm.call("crm_write_back", contact_record=_record("c1", "voice", "+1 555 0100", 100.0, "sale"))
    record = crm.call("crm_lookup", customer="+15550100")
    assert record is not None and record["source"] == "crm"
    assert record["identities"] == [{"kind": "phone", "value": "+15550100"}]
    store.link_identity(record["customer_id"], "chat", "web-42")
    crm.call("crm_write_back", contact_record=_record("c2", "chat", "web-42", 200.0, "info"))
    crm.call("crm_write_back", contact_record=_record("c2", "chat", "web-42", 200.0, "info"))  # idempotent
    crm.call("crm_write_back", contact_record=_record("c3", "email", "ADA@example.com", 300.0))  # someone new
    by_phone = crm.call("crm_history", customer="+15550100")
    by_chat = crm.call("crm_history", customer="chat:web-42")
    assert len(by_phone) == 1 and by_phone == by_chat
    assert [(e["contact_id"], e["channel"], e["disposition"]) for e in by_phone[0]] == [
        ("c2", "chat", "info"), ("c1", "voice", "sale")]
    assert by_phone[0][0]["data"] == {"lang": "en"}
    assert crm.call("crm_lookup", customer="ada@example.com")["customer_id"] != record["customer_id"]
    assert crm.call("crm_lookup", customer="nobody@example.com") is None
    assert crm.call("crm_lookup", customer="") is None
    assert crm.faults == {}


class OtherCrm:
    """A second CRM that knows some of the same contacts, and one with a date string."""

    @hookimpl
    def crm_history(self, customer: str) -> list[dict[str, Any]]:
        return [{"contact_id": "c1", "channel": "voice", "arrived": 100.0, "source": "other"},
                {"subject": "letter", "date": "1970-01-01T00:02:30Z", "source": "other"},
                "not a mapping"]  # type: ignore[list-item]


async def test_screen_pop_has_customer_history_and_open_tickets(crm: PluginManager, store: SqlStore) -> None:
    crm.register(OtherCrm(), "other")
    crm.call("crm_write_back", contact_record=_record("c1", "voice", "+15550100", 100.0))
    crm.call("crm_write_back", contact_record=_record("c2", "voice", "+15550100", 200.0))
    made = await crm.acall("ticket_create", contact=_record("c2", "voice", "+15550100", 200.0),
                           subject="Router broken", department=None, note="")
    done = await crm.acall("ticket_create", contact=_record("c1", "voice", "+15550100", 100.0),
                           subject="Old issue", department=None, note="")
    await crm.acall("ticket_update", reference=done["reference"], status="resolved", assignee=None, note="",
                    who="a1")
    pop = await screen_pop(crm, "+1 555 0100")
    assert pop["query"] == "+1 555 0100"
    assert pop["customer"]["name"] == "" and pop["customer"]["source"] == "crm"
    # c1 is known to both CRMs: the first answer in call order (the last registered plugin) is kept
    assert [(e.get("contact_id"), e["source"]) for e in pop["history"]] == [
        ("c2", "crm"), (None, "other"), ("c1", "other")]
    assert [t["reference"] for t in pop["tickets"]] == [made["reference"]]
    assert crm.faults == {}
    unknown = await screen_pop(crm, "+19990000")
    assert unknown["customer"] is None and unknown["tickets"] == [] and len(unknown["history"]) == 2


def test_merge_entries_flattens_dedups_and_sorts() -> None:
    merged = merge_entries([[{"contact_id": "a", "arrived": 1}, {"x": 1}], [{"contact_id": "a", "arrived": 1},
                            {"contact_id": "b", "arrived": 5}, {"x": 1, "source": "y"}], None])
    assert merged == [{"contact_id": "b", "arrived": 5}, {"contact_id": "a", "arrived": 1}, {"x": 1}]


async def test_async_store_in_config_is_unwrapped(store: SqlStore) -> None:
    manager = PluginManager({"store": AsyncStore(store)}, autoload=False)
    manager.configure()
    await manager.acall("crm_write_back", contact_record=_record("c1", "email", "ada@example.com", 1.0))
    assert (await manager.acall("crm_lookup", customer="ada@example.com"))["customer_id"] == 1


def test_bad_crm_section_is_named_and_logged(caplog: pytest.LogCaptureFixture, store: SqlStore) -> None:
    toml = TomlFile.parse("[plugins.crm]\nhistory_limit = 0\n", "center.toml")
    manager = PluginManager({**toml.data, "store": store, "config_file": toml}, autoload=False)
    with caplog.at_level(logging.ERROR):
        manager.configure()
    assert "center.toml:2: plugins.crm.history_limit: must be > 0, got 0" in caplog.text
    assert manager.faults == {"crm": 1}


# ---------------------------------------------------------------------------------------------- HTTP CRM ----

class Server:
    """A real HTTP server on 127.0.0.1: ``answers[path] = (status, body)``; ``"stall"`` never answers until the
    test ends. ``hits`` counts requests per path, ``seen_headers`` keeps the last request's headers."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes] | str] = {}
        self.hits: dict[str, int] = {}
        self.seen_headers: dict[str, str] = {}
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                owner.seen_headers = dict(self.headers)
                answer = owner.answers.get(self.path, (404, b'{"error": "not found"}'))
                if answer == "stall":
                    owner.release.wait(10)
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/customers/{{customer}}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


ADA = {"id": "C17", "name": "Ada", "tier": "gold",
       "history": [{"contact_id": "x1", "arrived": 50.0, "channel": "email"}]}


def _http_manager(server: Server, clock: FakeClock, **section: Any) -> tuple[PluginManager, HttpCrm]:
    config = {"plugins": {"crm-http": {"url": server.url, "cache_ttl_s": 30, **section}}}
    manager = PluginManager(config, autoload=False, builtins=False)
    plugin = register_if_configured(manager, config, clock=clock)
    assert plugin is not None
    return manager, plugin


async def test_http_crm_success_and_cache(server: Server) -> None:
    server.answers["/customers/%2B15550100"] = (200, json.dumps(ADA).encode())
    clock = FakeClock()
    manager, plugin = _http_manager(server, clock, headers={"Authorization": "Bearer t0k"})
    record = await manager.acall("crm_lookup", customer="+15550100")
    assert record == {"id": "C17", "name": "Ada", "tier": "gold", "source": "crm-http"}
    assert server.seen_headers["Authorization"] == "Bearer t0k"
    history = await manager.acall("crm_history", customer="+15550100")
    assert history == [[{"contact_id": "x1", "arrived": 50.0, "channel": "email", "source": "crm-http"}]]
    assert server.hits == {"/customers/%2B15550100": 1}  # the history came from the cache
    clock.now = 29.0
    await manager.acall("crm_lookup", customer="+15550100")
    assert server.hits["/customers/%2B15550100"] == 1
    clock.now = 31.0  # expired
    assert (await manager.acall("crm_lookup", customer="+15550100"))["name"] == "Ada"
    assert server.hits["/customers/%2B15550100"] == 2
    assert plugin.requests == 2


async def test_http_crm_not_found_is_cached_too(server: Server) -> None:
    manager, plugin = _http_manager(server, FakeClock())
    assert await manager.acall("crm_lookup", customer="nobody") is None
    assert await manager.acall("crm_history", customer="nobody") == []
    assert server.hits == {"/customers/nobody": 1}
    server.answers["/customers/ghost"] = (200, b"null")
    assert await manager.acall("crm_lookup", customer="ghost") is None
    assert await manager.acall("crm_lookup", customer="ghost") is None
    assert server.hits["/customers/ghost"] == 1
    assert manager.faults == {}


@pytest.mark.parametrize("answer, logged", [
    ((200, b"<html>oops"), "the body is not JSON"),
    ((200, b"[1, 2]"), "expected a JSON object, got list"),
    ((500, b"{}"), "HTTP 500"),
])
async def test_http_crm_failures_are_none_logged_and_not_cached(server: Server, caplog: pytest.LogCaptureFixture,
                                                                 answer: tuple[int, bytes], logged: str) -> None:
    server.answers["/customers/ada"] = answer
    manager, _ = _http_manager(server, FakeClock())
    with caplog.at_level(logging.ERROR, logger="switchboard.crm.http"):
        assert await manager.acall("crm_lookup", customer="ada") is None
        assert await manager.acall("crm_lookup", customer="ada") is None
    assert logged in caplog.text and "/customers/ada" in caplog.text
    assert server.hits["/customers/ada"] == 2
    assert manager.faults == {}


async def test_http_crm_timeout_is_none_within_the_deadline(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    server.answers["/customers/slow"] = "stall"
    manager, _ = _http_manager(server, FakeClock(), timeout_s=0.2)
    start = trio.current_time()
    with caplog.at_level(logging.ERROR, logger="switchboard.crm.http"):
        assert await manager.acall("crm_lookup", customer="slow", deadline_s=2.0) is None
    assert trio.current_time() - start < 2.0
    assert "GET http://127.0.0.1" in caplog.text and "timed out after 0.2 s" in caplog.text
    assert manager.faults == {}  # the adapter answered None itself, in time


async def test_http_crm_slower_than_the_hook_deadline_is_abandoned(server: Server) -> None:
    server.answers["/customers/slow"] = "stall"
    manager, _ = _http_manager(server, FakeClock(), timeout_s=5.0)
    with trio.fail_after(2.0):
        assert await manager.acall("crm_lookup", customer="slow", deadline_s=0.1) is None
    assert manager.overruns == {"crm-http": 1}


def test_http_crm_is_registered_only_when_configured(tmp_path: Path) -> None:
    manager = PluginManager(autoload=False, builtins=False)
    assert register_if_configured(manager, {"plugins": {"crm": {}}}) is None
    assert register_if_configured(manager, {}) is None
    assert manager.list_plugins() == []


@pytest.mark.parametrize("body, message", [
    ('url = "http://crm/x/{customer}"\ntimeout_s = "soon"\n',
     "center.toml:4: plugins.crm-http.timeout_s: expected a number of seconds, got 'soon'"),
    ('url = "http://crm/x"\n', "center.toml:3: plugins.crm-http.url: the URL has no {customer} placeholder"),
    ('url = "http://crm/{customer}"\ncache_tll_s = 5\n', "center.toml:4: plugins.crm-http.cache_tll_s: unknown key"),
    ('timeout_s = 1\n', "center.toml:2: plugins.crm-http.url: missing"),
    ('url = "http://crm/{customer}"\nheaders = { X-Key = 5 }\n',
     "center.toml:4: plugins.crm-http.headers.X-Key: expected a string, got 5"),
])
def test_bad_http_crm_config_names_file_line_key(body: str, message: str) -> None:
    toml = TomlFile.parse("# CRM\n[plugins.crm-http]\n" + body, "center.toml")
    with pytest.raises(ConfigError) as caught:
        register_if_configured(PluginManager(autoload=False, builtins=False), {**toml.data, "config_file": toml})
    assert message in str(caught.value)
