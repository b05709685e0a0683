"""The phone pages are served (``/agent``, ``/call``) with their scripts, no build step and nothing from another
origin; ``GET /v1/dispositions`` gives the wrap-up codes to anyone signed in. What the pages do is tested in
Chromium (``tests/webrtc_gateway/test_e2e_browser.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from admin_api.app import STATIC
from tests.admin_api.server import running_api
from tests.admin_api.test_chat_ws import http_get

TIMEOUT_S = 30.0


async def test_the_agent_desktop_and_the_web_caller_are_served(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            pages = {path: await http_get(api.port, path) for path in ("/agent", "/call")}
            scripts = {}
            for page in pages.values():
                for src in re.findall(rb'src="(/static/[^"]+)"', page):
                    scripts[src.decode()] = await http_get(api.port, src.decode())
    assert all(page.startswith(b"HTTP/1.1 200") for page in pages.values())
    assert set(scripts) == {"/static/phone.js", "/static/chat-panel.js", "/static/agent.js", "/static/call.js"}
    assert all(body.startswith(b"HTTP/1.1 200") for body in scripts.values())
    assert b"/webrtc/ws/agent/" in scripts["/static/agent.js"] and b"/webrtc/ws/caller" in scripts["/static/call.js"]


def test_the_pages_load_nothing_from_elsewhere() -> None:
    """No CDN, no remote font, no module bundle: every page references files of its own origin only."""
    for path in sorted(STATIC.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), path.name
    for path in sorted(STATIC.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(import\s|fetch\(|new WebSocket\()["'`]https?://""", text), path.name


async def test_dispositions_for_anyone_signed_in(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        with trio.fail_after(TIMEOUT_S):
            mine = await api.as_("agent").get("/v1/dispositions")
            nobody = await api.as_(None).get("/v1/dispositions")
    assert mine.status == 200
    assert mine.json() == {"dispositions": ["resolved", "follow-up", "escalated", "no-disposition"]}
    assert nobody.status == 401
