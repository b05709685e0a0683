"""Live operations over the real server on loopback: ``GET /v1/stats`` and ``/metrics`` cut by role, the
``/v1/stream`` WebSocket (auth, role filtering, a change in the next frame, agent events, a client that never
reads), and the ``/wallboard`` page."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import trio

from admin_api.metrics import CONTENT_TYPE
from engine.events import ContactArrived
from tests.admin_api.server import Api, running_api
from tests.admin_api.wsclient import WsClient

TIMEOUT_S = 10.0  # a safety net on the real clock; a passing test takes a fraction of that
SAMPLE = re.compile(r'^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-z_][a-z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_exposition(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A strict reader of the text format 0.0.4: every sample's family has HELP and TYPE before it."""
    assert text.endswith("\n")
    typed: dict[str, str] = {}
    helped: set[str] = set()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("gauge", "counter") and name not in typed, line
            typed[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            assert name in typed and name in helped, line
            pairs = frozenset(LABEL.findall(labels or ""))
            assert (name, pairs) not in samples, f"duplicate {line}"
            samples[(name, pairs)] = float(value)
    return samples


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[("switchboard_" + name, frozenset(labels.items()))]


async def open_stream(api: Api, role: str) -> WsClient:
    socket = await WsClient.open(api.port, "/v1/stream")
    await socket.send({"type": "auth", "token": api.tokens[role]})
    assert (await socket.expect("authenticated"))["principal"]["role"] == role
    return socket


async def snapshot_after(socket: WsClient, seq: int) -> dict[str, Any]:
    """The first snapshot frame that describes the engine at ``seq`` or later (agent events are kept aside)."""
    while True:
        frame = await socket.next("snapshot")
        if frame["seq"] >= seq:
            return frame


async def test_stats_are_cut_by_role(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            await api.runtime.submit(ContactArrived("c1", queue="sales"))
            replies = {role: await api.as_(role).get("/v1/stats") for role in ("admin", "supervisor", "agent")}
    stats = {role: reply.json() for role, reply in replies.items()}
    assert all(reply.status == 200 for reply in replies.values())
    assert sorted(stats["admin"]["agents"]) == ["a1", "a2", "a3"]
    assert sorted(stats["supervisor"]["agents"]) == ["a1", "a2"]
    assert list(stats["agent"]["agents"]) == ["a1"] and stats["agent"]["campaigns"] == {}
    for figures in stats.values():
        assert figures["queues"]["sales"]["waiting"] == 1 and figures["totals"]["offered"] == 1
        assert figures["period"]["kind"] == "day" and figures["seq"] >= 1


async def test_metrics_exposition(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            await api.runtime.submit(ContactArrived("c1", queue="sales"))
            await api.runtime.submit(ContactArrived("c2", queue="sales"))
            reply = await api.client.get("/metrics")
            supervisor = await api.as_("supervisor").get("/metrics")
            accepted = api.runtime.accepted
    assert reply.status == 200 and reply.headers["content-type"] == CONTENT_TYPE
    samples = parse_exposition(reply.body.decode())
    assert sample(samples, "queue_waiting", queue="sales") == 2
    assert sample(samples, "queue_offered_today", queue="sales") == 2
    assert sample(samples, "queue_longest_wait_seconds", queue="sales") >= 0
    assert math.isnan(sample(samples, "queue_service_level_ratio", queue="sales"))  # nobody's wait is over
    assert sample(samples, "queue_service_level_target_ratio", queue="sales") == 0.8
    assert sample(samples, "agents", state="logged-out") == 3
    assert sample(samples, "agent_state", agent="a3", state="logged-out") == 1
    assert sample(samples, "agent_state", agent="a3", state="available") == 0
    assert sample(samples, "events_accepted_total") == accepted == sample(samples, "events_seq")
    assert sample(samples, "events_refused_total") == 0 and sample(samples, "sink_errors_total") == 0
    cut = parse_exposition(supervisor.body.decode())
    assert {dict(labels)["agent"] for name, labels in cut if name == "switchboard_agent_time_in_state_seconds"} \
        == {"a1", "a2"}


async def test_the_stream_authenticates_and_cuts_by_role(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            views = {}
            for role in ("admin", "supervisor", "agent"):
                async with await open_stream(api, role) as socket:
                    views[role] = await socket.next("snapshot")
            async with await WsClient.open(api.port, "/v1/stream") as anonymous:
                await anonymous.send({"type": "hello"})
                refused = await anonymous.expect("error")
    assert sorted(views["admin"]["agents"]) == ["a1", "a2", "a3"] and "campaigns" in views["admin"]
    assert sorted(views["supervisor"]["agents"]) == ["a1", "a2"]
    assert list(views["agent"]["agents"]) == ["a1"] and views["agent"]["campaigns"] == {}
    assert views["agent"]["queues"].keys() == views["admin"]["queues"].keys()
    assert set(views["admin"]["agents"]["a1"]) == {"name", "teams", "state", "reason", "since"}
    assert refused["code"] == "unauthenticated"


async def test_a_contact_shows_in_the_next_frame_under_a_second(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            async with await open_stream(api, "supervisor") as socket:
                first = await socket.next("snapshot")
                assert first["queues"]["support"]["waiting"] == 0
                await api.runtime.submit(ContactArrived("c1", queue="support"))
                submitted, seq = api.engine.now(), api.runtime.seq
                frame = await snapshot_after(socket, seq)
                received = api.engine.now()
    assert frame["queues"]["support"]["waiting"] == 1 and frame["queues"]["support"]["offered"] == 1
    assert submitted <= frame["at"] and received - submitted < 1.0  # the stream is less than a second behind


async def test_agent_events_reach_those_who_may_see_them(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            async with await open_stream(api, "supervisor") as supervisor, \
                    await open_stream(api, "agent") as agent:
                await supervisor.next("snapshot")
                await agent.next("snapshot")
                reply = await api.as_("supervisor").put("/v1/agents/a2/state", json={"state": "available"})
                assert reply.status == 200
                seq = api.runtime.seq
                event = await supervisor.next("agents")
                seen = await snapshot_after(agent, seq)
                assert not [f for f in agent.stash if f["type"] == "agents"]  # a2 is not a1's business
    changes = {c["agent_id"]: c for c in event["changes"]}
    assert changes["a2"]["state"] == "available" and event["seq"] >= seq
    assert list(seen["agents"]) == ["a1"]


async def test_a_client_that_never_reads_holds_nobody_up(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            stuck = await open_stream(api, "admin")  # authenticated, then never read again
            async with await open_stream(api, "admin") as reader:
                await reader.next("snapshot")
                for n in range(20):
                    await api.runtime.submit(ContactArrived(f"c{n}", queue="billing"))
                    await trio.sleep(0.05)
                frame = await snapshot_after(reader, api.runtime.seq)
            await stuck.stream.aclose()  # gone without a close frame
    assert frame["queues"]["billing"]["waiting"] == 20


async def test_the_wallboard_page_and_its_files_are_served(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            page = await api.as_(None).get("/wallboard")
            script = await api.as_(None).get("/static/wallboard.js")
            style = await api.as_(None).get("/static/wallboard.css")
    assert page.status == 200 and b"/static/wallboard.js" in page.body and b"/static/wallboard.css" in page.body
    assert script.status == 200 and b"/v1/stream" in script.body
    assert style.status == 200
