"""The wallboard in a real headless Chromium (Debian's, driven by Playwright): a supervisor logs in, sees the
figures change live when a contact arrives, sees a queue below its service-level target highlighted, sets an
agent's state and moves an agent between queues from the page, and the engine shows it; an agent pasting its
token sees the queues and itself only.

Playwright's sync API runs in a worker thread (``trio.to_thread``); the server under test is the real one in this
test's trio loop, which the browser script reaches back into with ``trio.from_thread.run`` to make contacts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from admin_api.security import hash_password
from engine.events import AgentLogin, AgentReady, ContactArrived, CustomerHungUp
from tests.admin_api.server import PASSWORD, Api, running_api

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 8_000

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed "
                                "(make test installs it: scripts/system-deps.sh)")


def submit(api: Api, event: Any) -> None:
    """From the browser's thread: submit an engine event in the test's trio loop."""
    trio.from_thread.run(api.runtime.submit, event)


def browse(api: Api) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    base = f"http://127.0.0.1:{api.port}"
    seen: dict[str, Any] = {"errors": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=TIMEOUT_MS * 2)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            page.goto(base + "/wallboard")
            page.fill("#login-form input[name=username]", "sue")
            page.fill("#login-form input[name=password]", PASSWORD)
            page.click("#login-form button[type=submit]")
            expect(page.locator("#status")).to_have_text("live")
            billing = page.locator('tr[data-queue="billing"]')
            expect(billing.locator("td.waiting")).to_have_text("0")
            expect(page.locator('tr[data-agent="a2"] td.state')).to_have_text("available")
            seen["agents"] = page.locator("#agents tbody tr").evaluate_all("rows => rows.map(r => r.dataset.agent)")

            submit(api, ContactArrived("c1", queue="billing"))  # nobody serves billing now: it waits
            expect(billing.locator("td.waiting")).to_have_text("1")
            expect(billing.locator("td.offered")).to_have_text("1")
            expect(billing).not_to_have_class("below")
            submit(api, ContactArrived("c2", queue="billing"))
            submit(api, CustomerHungUp("c2"))  # abandoned: the service level is 0 %, below the 80 % target
            expect(billing.locator("td.sl")).to_have_text("0.0%")
            expect(billing).to_have_class("below")

            a2 = page.locator('tr[data-agent="a2"]')
            a2.locator("select[name=state]").select_option("not-ready")
            a2.locator("input[name=reason]").fill("coaching")
            a2.locator("form.set-state button[type=submit]").click()
            expect(a2.locator("td.state")).to_have_text("not-ready")
            expect(a2.locator("td.reason")).to_have_text("coaching")

            a2.locator("button.move").click()
            page.check('#move-queues input[value="billing"]')
            page.click("#move-confirm")
            expect(page.locator("#action-result")).to_contain_text("a2 serves")
            expect(billing.locator("td.agents")).to_have_text("0 / 1")  # a2 (not ready) staffs billing now

            agent = browser.new_page()
            agent.set_default_timeout(TIMEOUT_MS)
            agent.goto(base + "/wallboard")
            agent.fill("#token-form input[name=token]", api.tokens["agent"])
            agent.click("#token-form button[type=submit]")
            expect(agent.locator('tr[data-queue="billing"] td.waiting')).to_have_text("1")
            seen["agent_view"] = agent.locator("#agents tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.agent)")
            seen["agent_campaigns_hidden"] = agent.locator("#campaigns-section").is_hidden()
            seen["agent_actions_hidden"] = agent.locator('tr[data-agent="a1"] td.actions').is_hidden()
        finally:
            browser.close()
    return seen


async def test_the_wallboard_live_in_chromium(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        await trio.to_thread.run_sync(lambda: api.store.create_user(
            "sue", "supervisor", password_hash=hash_password(PASSWORD), teams=["east"]))
        for agent in ("a1", "a2"):
            await api.runtime.submit(AgentLogin(agent))
            await api.runtime.submit(AgentReady(agent))
        with trio.fail_after(60):  # the browser's own timeouts end it well before
            seen = await trio.to_thread.run_sync(browse, api)
        state = api.runtime.acd.agent_state("a2")
        skills = api.runtime.acd.agents["a2"].config.skills
    assert seen["errors"] == []
    assert seen["agents"] == ["a1", "a2"]  # the supervisor's team only
    assert state[:2] == ("not-ready", "coaching")
    assert "billing" in skills
    assert seen["agent_view"] == ["a1"] and seen["agent_campaigns_hidden"] and seen["agent_actions_hidden"]
