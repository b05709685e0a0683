"""Outbound end to end in real headless Chromium: a web caller page receives calls as ``ada``; a preview campaign's
lead ``webrtc:ada`` is offered on the agent desktop with its fields, the agent dials it from the keyboard, the
caller's page rings and answers, each hears the other's tone; at wrap-up the agent schedules a callback and the
dialer reschedules the lead for then.

The server runs in this test's trio loop (``tests.webrtc_gateway.server.running_gateway``: the engine, the admin
API with the gateway's sockets, real media workers), so the campaign and its lead are engine events submitted
here; Playwright's sync API runs in a worker thread and reaches back with ``trio.from_thread``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import trio

from admin_api.security import hash_password
from engine.dialer_events import LeadsAdded, LeadUpdated, UpsertCampaign
from engine.model import CampaignConfig
from tests.webrtc_gateway.browser import PASSWORD, chromium, needs_chromium, open_page, sign_in, wait_hears
from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import Gw, running_gateway

pytestmark = needs_chromium

CALLER_HZ = 450.0
AGENT_HZ = 1400.0


class LeadUpdates:
    """The dialer's lead updates (a runtime sink)."""

    accepts = (LeadUpdated,)

    def __init__(self) -> None:
        self.seen: list[LeadUpdated] = []

    def handle(self, action: Any, now: float) -> None:
        self.seen.append(action)


def submit(gw: Gw, *events: Any) -> None:
    for event in events:
        trio.from_thread.run(gw.runtime.submit, event)


def browse(gw: Gw, errors: list[str]) -> datetime:
    """The browsers' side; the callback time the agent chose."""
    from playwright.sync_api import expect

    url = f"http://127.0.0.1:{gw.port}"
    with chromium() as browser:
        caller = open_page(browser, f"{url}/call?testTone={CALLER_HZ:g}", errors)
        caller.click("#register-section summary")
        caller.fill("#register-form input[name=address]", "ada")
        caller.click("#register-form button")
        expect(caller.locator("#register-state")).to_have_text("Calls to ada ring here.")

        agent = open_page(browser, f"{url}/agent?testTone={AGENT_HZ:g}", errors)
        sign_in(agent, "ann")
        expect(agent.locator("#line-status")).to_have_text("line up")
        agent.keyboard.press("r")
        expect(agent.locator("#state-text")).to_have_text("available")
        submit(gw, UpsertCampaign(CampaignConfig("c1", "support", mode="preview", calling_hours=(0, 24 * 60),
                                                 min_interval_s=0.0)),
               LeadsAdded("c1", ({"id": "l-ada", "campaign": "c1", "phone": "webrtc:ada", "timezones": ["UTC"],
                                  "fields": {"name": "Ada Lovelace", "plan": "gold"}},)))

        expect(agent.locator("body")).to_have_attribute("data-phone", "ringing")
        expect(agent.locator("#offer-kind")).to_have_text("Preview: call this lead?")
        expect(agent.locator("#lead")).to_contain_text("Ada Lovelace")
        expect(agent.locator("#lead")).to_contain_text("webrtc:ada")
        expect(agent.locator("#dial")).to_be_visible()
        agent.keyboard.press("a")  # dial
        expect(agent.locator("#offer-kind")).to_have_text("Dialling webrtc:ada…")

        expect(caller.locator("body")).to_have_attribute("data-call", "ringing")
        caller.click("#answer-incoming")
        expect(caller.locator("body")).to_have_attribute("data-call", "in-call")
        expect(agent.locator("body")).to_have_attribute("data-phone", "connected")
        wait_hears(caller, AGENT_HZ)
        wait_hears(agent, CALLER_HZ)

        agent.keyboard.press("x")
        expect(agent.locator("body")).to_have_attribute("data-phone", "wrap-up")
        expect(caller.locator("body")).to_have_attribute("data-call", "ended")
        expect(agent.locator("#callback-box")).to_be_visible()  # a campaign's contact: a callback may be set
        when = (datetime.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
        agent.check("#callback")
        agent.fill("#callback-at", when.strftime("%Y-%m-%dT%H:%M"))
        agent.select_option("#disposition", "follow-up")
        agent.keyboard.press("Control+Enter")
        expect(agent.locator("body")).to_have_attribute("data-phone", "idle")
    return when


async def test_a_preview_lead_dialled_from_the_desktop_rings_the_web_caller(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        updates = LeadUpdates()
        gw.runtime.add_sink(updates)
        await trio.to_thread.run_sync(lambda: gw.store.create_user(
            "ann", "agent", password_hash=hash_password(PASSWORD), agent_id="a1"))
        errors: list[str] = []
        with trio.fail_after(60):  # the browser's own timeouts end it well before
            when = await trio.to_thread.run_sync(browse, gw, errors)
    assert errors == []
    scheduled = [u for u in updates.seen if u.lead_id == "l-ada" and u.outcome == "callback-scheduled"]
    assert len(scheduled) == 1
    assert abs(scheduled[0].next_attempt - time.mktime(when.timetuple())) < 1.0
