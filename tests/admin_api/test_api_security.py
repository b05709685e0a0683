"""Every route: an anonymous caller gets 401, a caller of the wrong role 403; every route is declared (so
documented and guarded) or is one of the few public pages."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from admin_api.api import ENDPOINTS, SOCKETS, Endpoint
from admin_api.auth import ROLES
from admin_api.resources import blueprints
from tests.admin_api.server import running_api
from tests.admin_api.wsclient import WsClient

TIMEOUT_S = 30.0
PUBLIC_UNDECLARED = {"/healthz", "/docs", "/static/<path:filename>", "/chat/", "/chat/agent",
                     "/chat/ws/customer", "/wallboard", "/webrtc/ws/caller", "/agent", "/call"}
"""Routes outside ``ENDPOINTS``: health, static pages and files, the customer's chat socket and the web caller's
socket (customers are anonymous). Sockets that carry data for staff authenticate on their first frame (tested
with them)."""


def _concrete(endpoint: Endpoint) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", lambda m: "1" if m.group(0).startswith("<int:") else "x",
                  endpoint.path)


async def test_every_route_refuses_anonymous_and_wrong_roles(tmp_path: Path) -> None:
    blueprints()  # imports every resource module, so ENDPOINTS holds every route whichever test runs first
    guarded = [e for e in ENDPOINTS if not e.public]
    assert len(guarded) > 30
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            for endpoint in guarded:
                path = _concrete(endpoint)
                anonymous = await api.as_(None).request(endpoint.method, path)
                assert anonymous.status == 401, (endpoint.method, path, anonymous.body)
                assert anonymous.json()["code"] == "unauthenticated"
                assert anonymous.headers["www-authenticate"].startswith("Bearer")
                bogus = await api.as_(None).request(endpoint.method, path, token="sb_not-a-token")
                assert bogus.status == 401, (endpoint.method, path)
                for role in sorted(set(ROLES) - endpoint.roles):
                    refused = await api.as_(role).request(endpoint.method, path)
                    assert refused.status == 403, (role, endpoint.method, path, refused.body)
                    assert refused.json()["code"] == "forbidden"


async def test_every_served_route_is_declared_or_public(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        app_rules = set()
        from admin_api import create_app

        app = create_app(api.engine)
        for rule in app.url_map.iter_rules():
            app_rules.add(rule.rule)
    declared = {e.path for e in ENDPOINTS} | set(SOCKETS)
    assert app_rules - declared - PUBLIC_UNDECLARED == set()


async def _refusal(port: int, path: str, first: dict[str, object]) -> tuple[dict[str, object], str]:
    """The error frame and the close a socket answers ``first`` with."""
    socket = await WsClient.open(port, path)
    try:
        await socket.send(first)
        frame = await socket.expect("error")
        try:
            extra = await socket.receive()
            raise AssertionError(f"{path}: a frame after the refusal: {extra}")
        except ConnectionError as closed:
            return frame, str(closed)
    finally:
        await socket.close()


async def test_every_socket_refuses_anonymous_and_wrong_roles(tmp_path: Path) -> None:
    blueprints()  # declares every socket, whichever test runs first
    assert "/v1/stream" in SOCKETS
    async with running_api(tmp_path) as api:
        assert {"/webrtc/ws/agent/<agent_id>", "/webrtc/ws/supervisor"} <= set(SOCKETS)  # the gateway's, too
        with trio.fail_after(TIMEOUT_S):
            for path, roles in SOCKETS.items():
                concrete = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "x", path)
                for first in ({"type": "hello"}, {"type": "auth"}, {"type": "auth", "token": "sb_not-a-token"}):
                    frame, closed = await _refusal(api.port, concrete, first)
                    assert frame["code"] == "unauthenticated", (path, first, frame)
                    assert "4401" in closed, (path, closed)
                for role in sorted(set(ROLES) - roles):
                    frame, closed = await _refusal(api.port, concrete, {"type": "auth", "token": api.tokens[role]})
                    assert frame["code"] == "forbidden" and "4403" in closed, (path, role, frame)
