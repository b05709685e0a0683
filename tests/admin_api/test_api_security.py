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

TIMEOUT_S = 30.0
PUBLIC_UNDECLARED = {"/healthz", "/docs", "/static/<path:filename>", "/chat/", "/chat/agent",
                     "/chat/ws/customer"}
"""Routes outside ``ENDPOINTS``: health, static pages and files, the customer's chat socket (customers are
anonymous). Sockets that carry data for staff authenticate on their first frame (tested with them)."""


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
