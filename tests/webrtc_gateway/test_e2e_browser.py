"""End to end in real headless Chromium: the web caller (/call) and the agent desktop (/agent) in two browser
contexts, ``switchboard serve`` with the WebRTC gateway between them, media on loopback.

The caller presses digits through a two-level IVR (RFC 4733 from RTCDTMFSender), waits in the queue hearing hold
music, the agent signs in, becomes available, sees the offer ring with the IVR path and answers; a tone sent by
each side (WebAudio oscillators: 450 Hz from the caller, 1400 Hz from the agent) is heard by the other; the agent
reloads the page mid-call and the call goes on (both tones heard again); the recording holds both tones. Then
the agent hangs up and wraps up from the keyboard, and the contact's record has the disposition and the notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.store import SqliteStore
from engine.store.base import Interaction
from tests.webrtc_gateway.browser import (
    PASSWORD,
    Center,
    chromium,
    needs_chromium,
    open_page,
    running_center,
    sign_in,
    tones_in,
    wait_hears,
    wait_hears_each,
    wait_hears_music,
    wait_hears_sound,
    wait_lacks,
    wait_not_hears,
    wait_silence,
)

pytestmark = needs_chromium

NUMBER = "+15550100"
CALLER_HZ = 450.0
AGENT_HZ = 1400.0
OTHER_AGENT_HZ = 1700.0
SUPERVISOR_HZ = 2500.0
"""The tones each side sends: apart from each other and from the hold music's notes and their octaves."""

IVR = """\
entry = "main"
default_language = "en"

[menus.main]
prompt = "main-menu-en"
timeout_s = 10
options = { 1 = { menu = "support" }, 3 = { queue = "sales" } }

[menus.support]
prompt = "support-menu-en"
timeout_s = 10
options = { 2 = { queue = "support" } }
"""


def config(tmp_path: Path, extra: str = "", announce_every_s: float = 60) -> str:
    return f"""\
skills = ["support", "sales"]
{extra}

[[agents]]
id = "a1"
name = "Ann"
teams = ["east"]
optional_queues = ["sales"]
skills = {{ support = 5, sales = 5 }}
capacity = {{ voice = 1, chat = 2 }}

[[agents]]
id = "a2"
name = "Bob"
skills = {{ support = 5 }}

[[agents]]
id = "a3"
name = "Cy"
skills = {{ sales = 5 }}

[[queues]]
id = "support"
skills = {{ support = 1 }}
ring_timeout_s = 30
announce_every_s = {announce_every_s}

[[queues]]
id = "sales"
skills = {{ sales = 1 }}

[[queues]]
id = "chat"
channel = "chat"
skills = {{ support = 1 }}

[plugins.ivr]
menus = "{tmp_path / 'ivr.toml'}"

[plugins.webrtc]
workers = 1
loopback = true
record = true
grace_s = 30
"""


def caller_calls(page, expect, number: str = "") -> None:  # type: ignore[no-untyped-def]
    """The caller calls, hears the first menu and presses 1 (submenu) then 2 (the support queue)."""
    page.fill("#call-form input[name=caller]", number)
    page.click("#call")
    expect(page.locator("body")).to_have_attribute("data-call", "in-call")
    wait_hears_sound(page)  # the main menu's prompt
    page.click('#keypad [data-digit="1"]')
    page.click('#keypad [data-digit="2"]')
    expect(page.locator("#dialed")).to_have_text("12")


def agent_ready(center: Center, browser, expect, user: str, hz: float):  # type: ignore[no-untyped-def]
    """An agent's desktop signed in, its line up, available; the page."""
    agent = open_page(browser, f"{center.url}/agent?testTone={hz:g}", center.errors)
    sign_in(agent, user)
    expect(agent.locator("#line-status")).to_have_text("line up")
    agent.keyboard.press("r")  # available
    expect(agent.locator("#state-text")).to_have_text(re.compile("available|reserved"))
    return agent


def agent_answers(center: Center, browser, expect, user: str, hz: float):  # type: ignore[no-untyped-def]
    """An agent's desktop signed in, available, answering the call that rings; the page."""
    agent = agent_ready(center, browser, expect, user, hz)
    expect(agent.locator("body")).to_have_attribute("data-phone", "ringing")
    agent.keyboard.press("a")  # answer
    expect(agent.locator("body")).to_have_attribute("data-phone", "connected")
    return agent


@dataclass
class Scene:
    """A web caller talking to Ann (agent a1) in Chromium, Bob (a2) able to sign in."""

    center: Center
    browser: Any
    expect: Any
    caller: Any
    ann: Any


@contextmanager
def answered_call(tmp_path: Path, extra_config: str = "") -> Iterator[Scene]:
    """The caller through the IVR to the support queue, Ann answers, each hears the other's tone."""
    from playwright.sync_api import expect

    with running_center(tmp_path, config(tmp_path, extra_config), {"ivr.toml": IVR},
                        users={"ann": "a1", "bob": "a2"}) as center, chromium() as browser:
        caller = open_page(browser, f"{center.url}/call?testTone={CALLER_HZ:g}", center.errors)
        caller_calls(caller, expect)
        ann = agent_answers(center, browser, expect, "ann", AGENT_HZ)
        wait_hears(caller, AGENT_HZ)
        wait_hears(ann, CALLER_HZ)
        yield Scene(center, browser, expect, caller, ann)
    assert center.errors == []


def test_a_web_call_through_the_ivr_to_the_agent_survives_a_reload(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with running_center(tmp_path, config(tmp_path, announce_every_s=4), {"ivr.toml": IVR}, users={"ann": "a1"},
                        seed=known_customer) as center, chromium() as browser:
        run_the_call(center, browser, expect)
    assert center.errors == []


def known_customer(store: SqliteStore) -> None:
    """Ada, known to the CRM by her number, with an earlier call and an open ticket: her screen pop."""
    ada = store.find_or_create_customer("phone", NUMBER, "Ada Lovelace", {"tier": "gold"})
    store.record_interaction(Interaction("earlier-1", ada.id, "voice", "billing", "a2", arrived=1_700_000_000.0,
                                         outcome="answered", disposition="resolved", notes="asked about an invoice"))
    store.create_ticket(ada.id, "billing", "Refund pending")


def run_the_call(center: Center, browser, expect) -> None:  # type: ignore[no-untyped-def]
    caller = open_page(browser, f"{center.url}/call?testTone={CALLER_HZ:g}", center.errors)
    caller_calls(caller, expect, NUMBER)
    waiting = center.wait_api("/v1/queues/support/contacts", until=lambda page: page["items"])["items"]
    assert [c["channel"] for c in waiting] == ["voice"]  # through the IVR, waiting in the queue
    wait_hears_music(caller)
    expect(caller.locator("#status-lines")).to_contain_text("number 1 in line")  # the position announcement

    agent = agent_ready(center, browser, expect, "ann", AGENT_HZ)
    expect(agent.locator("body")).to_have_attribute("data-phone", "ringing")
    expect(agent.locator("#offer-queue")).to_have_text("support")
    expect(agent.locator("#ivr-path li")).to_have_count(2)
    expect(agent.locator("#customer")).to_contain_text("Ada Lovelace")
    expect(agent.locator("#customer")).to_contain_text("gold")
    expect(agent.locator("#tickets")).to_contain_text("Refund pending")
    expect(agent.locator("#history")).to_contain_text("asked about an invoice")
    contact_id = agent.locator("#offer-contact").inner_text()
    assert contact_id == waiting[0]["contact_id"]
    agent.keyboard.press("a")  # answer
    expect(agent.locator("body")).to_have_attribute("data-phone", "connected")

    wait_hears(agent, CALLER_HZ, for_s=1.5)  # long enough to be found in the recording
    wait_hears(caller, AGENT_HZ)

    agent.reload()  # mid-call: the session and the call are resumed, the line moves to the new page
    expect(agent.locator("body")).to_have_attribute("data-phone", "connected")
    expect(agent.locator("#call-contact")).to_have_text(contact_id)
    expect(agent.locator("#line-status")).to_have_text("line up")
    if agent.evaluate("() => window.switchboardAudio.blocked()"):
        agent.click("#enable-audio")  # a reloaded page's audio may wait for a click
    wait_hears(agent, CALLER_HZ, for_s=1.5)
    wait_hears(caller, AGENT_HZ)
    expect(caller.locator("body")).to_have_attribute("data-call", "in-call")

    agent.keyboard.press("x")  # hang up
    expect(agent.locator("body")).to_have_attribute("data-phone", "wrap-up")
    agent.select_option("#disposition", "resolved")
    agent.fill("#notes", "called about the outage")
    agent.keyboard.press("Control+Enter")
    expect(agent.locator("body")).to_have_attribute("data-phone", "idle")
    expect(caller.locator("body")).to_have_attribute("data-call", "ended")

    record = center.wait_api(f"/v1/cdrs/{contact_id}")
    assert record["disposition"] == "resolved" and record["notes"] == "called about the outage"
    assert record["data"]["ivr"]["path"] == ["main", "support"] and record["data"]["ivr"]["digits"] == ["1", "2"]
    # One recording segment per bridge: before the reload, and after it on the new page's line.
    segments = [Path(p) for p in record["data"]["recordings"]]
    assert record["data"]["recording"] == str(segments[0])
    assert [p.name for p in segments] == [f"{contact_id}.wav", f"{contact_id}-2.wav"]
    for segment in segments:
        heard = tones_in(segment, [CALLER_HZ, AGENT_HZ])
        assert heard[CALLER_HZ] > 0.3 and heard[AGENT_HZ] > 0.3, (segment.name, heard)


def test_mute_hold_and_a_blind_transfer_from_the_desktop(tmp_path: Path) -> None:
    """Mute: the caller hears silence; hold: the caller hears music and the agent nothing; a blind transfer to
    another agent: the caller talks to them, the first agent wraps up."""
    with answered_call(tmp_path) as scene:
        center, expect, caller, ann = scene.center, scene.expect, scene.caller, scene.ann
        ann.keyboard.press("m")
        expect(ann.locator("#mute")).to_have_attribute("aria-pressed", "true")
        wait_silence(caller)
        wait_hears(ann, CALLER_HZ)  # muted: the agent still hears the caller
        ann.keyboard.press("m")
        wait_hears(caller, AGENT_HZ)

        ann.keyboard.press("h")
        expect(ann.locator("#call-flags")).to_have_text("on hold")
        wait_not_hears(caller, AGENT_HZ)
        wait_hears_sound(caller)  # the hold music
        wait_silence(ann)
        ann.keyboard.press("h")
        wait_hears(caller, AGENT_HZ)
        wait_hears(ann, CALLER_HZ)

        bob = agent_ready(center, scene.browser, expect, "bob", OTHER_AGENT_HZ)
        ann.keyboard.press("t")
        ann.check('#transfer-form input[name=to][value=agent]')
        ann.fill("#transfer-agent", "a2")
        ann.click("#transfer-go")
        expect(ann.locator("body")).to_have_attribute("data-phone", "wrap-up")
        expect(bob.locator("body")).to_have_attribute("data-phone", "ringing")
        bob.keyboard.press("a")
        expect(bob.locator("body")).to_have_attribute("data-phone", "connected")
        wait_hears(caller, OTHER_AGENT_HZ)
        wait_hears(bob, CALLER_HZ)
        ann.select_option("#disposition", "escalated")
        ann.click("#wrapup-done")
        expect(ann.locator("body")).to_have_attribute("data-phone", "idle")


def test_a_supervisor_listens_whispers_and_barges_from_the_wallboard(tmp_path: Path) -> None:
    """From the wallboard, a supervisor of Ann's team joins her call: listening it hears both sides and neither
    hears it; whispering, Ann hears it and the caller does not; barging, both do; stopping, neither does."""
    with answered_call(tmp_path) as scene:
        center, expect, caller, ann = scene.center, scene.expect, scene.caller, scene.ann
        center.api("POST", "/v1/users", {"name": "sue", "role": "supervisor", "password": PASSWORD,
                                         "teams": ["east"]})
        board = open_page(scene.browser, f"{center.url}/wallboard?testTone={SUPERVISOR_HZ:g}", center.errors)
        sign_in(board, "sue")
        row = board.locator('tr[data-agent="a1"]')
        expect(row.locator("td.state")).to_have_text("on-contact")
        row.locator('.supervise button[data-mode="listen"]').click()
        expect(board.locator("#supervision-state")).to_have_text("listen")
        wait_hears_each(board, [CALLER_HZ, AGENT_HZ])
        wait_lacks(ann, SUPERVISOR_HZ)
        wait_lacks(caller, SUPERVISOR_HZ)

        board.click('#supervision button[data-mode="whisper"]')
        expect(board.locator("#supervision-state")).to_have_text("whisper")
        wait_hears_each(ann, [CALLER_HZ, SUPERVISOR_HZ])
        wait_lacks(caller, SUPERVISOR_HZ)
        wait_hears(caller, AGENT_HZ)

        board.click('#supervision button[data-mode="barge"]')
        expect(board.locator("#supervision-state")).to_have_text("barge")
        wait_hears_each(caller, [AGENT_HZ, SUPERVISOR_HZ])
        wait_hears_each(ann, [CALLER_HZ, SUPERVISOR_HZ])

        board.click("#supervision-stop")
        expect(board.locator("#supervision")).to_be_hidden()
        wait_lacks(caller, SUPERVISOR_HZ)
        wait_lacks(ann, SUPERVISOR_HZ)
        wait_hears(caller, AGENT_HZ)


CHATS_BESIDE_CALLS = """
[channels]
voice = false   # not exclusive: chats are offered to an agent on a call
chat = false
"""


def test_a_chat_beside_a_call_in_the_desktop(tmp_path: Path) -> None:
    """On a call, the agent takes a chat in the same desktop, writes, ends and wraps it up; the call goes on."""
    with answered_call(tmp_path, CHATS_BESIDE_CALLS) as scene:
        center, expect, caller, ann = scene.center, scene.expect, scene.caller, scene.ann
        customer = open_page(scene.browser, f"{center.url}/chat/", center.errors)
        customer.fill("#join input[name=name]", "Ada")
        customer.fill("#join input[name=customer]", "ada@example.com")
        customer.click("#join button")
        ann.locator("#chat-offers button.accept").click()
        conversation = ann.locator("#chat-conversations .conversation")
        expect(conversation).to_have_count(1)
        conversation.locator(".say input").fill("Hello Ada, one moment please")
        conversation.locator(".say button").click()
        expect(customer.locator("#lines li.agent")).to_have_text("Hello Ada, one moment please")
        customer.fill("#say input[name=text]", "Thanks!")
        customer.click("#say button:not([type=button])")
        expect(conversation.locator("li.customer")).to_have_text("Thanks!")
        conversation.locator(".end").click()
        conversation.locator(".wrap select").select_option("resolved")
        conversation.locator(".wrap button").click()
        expect(conversation).to_have_count(0)

        expect(ann.locator("body")).to_have_attribute("data-phone", "connected")
        wait_hears(caller, AGENT_HZ)
        wait_hears(ann, CALLER_HZ)
        ann.keyboard.press("x")
        expect(ann.locator("body")).to_have_attribute("data-phone", "wrap-up")


def consult(ann, bob, expect) -> None:  # type: ignore[no-untyped-def]
    """Ann asks Bob to consult; Bob talks; they hear each other."""
    ann.keyboard.press("t")
    ann.check("#transfer-form input[name=to][value=agent]")
    ann.fill("#transfer-agent", "a2")
    ann.check("#transfer-consult")
    ann.click("#transfer-go")
    expect(bob.locator("#consult-offer")).to_be_visible()
    bob.click("#consult-accept")
    expect(ann.locator("#consult")).to_be_visible()
    wait_hears(ann, OTHER_AGENT_HZ)
    wait_hears(bob, AGENT_HZ)


def test_a_consultative_transfer_cancelled_then_completed(tmp_path: Path) -> None:
    """The caller hears music while Ann consults Bob; cancelled, Ann has the caller back; completed, Bob has the
    caller and Ann wraps up."""
    with answered_call(tmp_path) as scene:
        center, expect, caller, ann = scene.center, scene.expect, scene.caller, scene.ann
        bob = agent_ready(center, scene.browser, expect, "bob", OTHER_AGENT_HZ)
        expect(bob.locator("#state-text")).to_have_text("available")

        consult(ann, bob, expect)
        wait_hears_sound(caller)
        wait_not_hears(caller, AGENT_HZ)  # the caller hears music, not the agents
        ann.click("#consult-cancel")
        expect(ann.locator("#consult")).to_be_hidden()
        wait_hears(caller, AGENT_HZ)
        wait_hears(ann, CALLER_HZ)
        expect(bob.locator("#consult-offer")).to_be_hidden()

        expect(bob.locator("#state-text")).to_have_text("available")
        consult(ann, bob, expect)
        ann.click("#consult-complete")
        expect(ann.locator("body")).to_have_attribute("data-phone", "wrap-up")
        expect(bob.locator("body")).to_have_attribute("data-phone", "connected")
        wait_hears(caller, OTHER_AGENT_HZ)
        wait_hears(bob, CALLER_HZ)


def test_decline_state_with_a_reason_and_queues_from_the_desktop(tmp_path: Path) -> None:
    """An agent declines a call (it goes back to the queue), goes not ready for lunch, leaves and rejoins its
    optional queue (the queues its supervisor assigns cannot be unticked), becomes available again, gets the call
    back and transfers it to another queue, where the caller waits with music."""
    from playwright.sync_api import expect

    with running_center(tmp_path, config(tmp_path), {"ivr.toml": IVR}, users={"ann": "a1"}) as center, \
            chromium() as browser:
        caller = open_page(browser, f"{center.url}/call?testTone={CALLER_HZ:g}", center.errors)
        caller_calls(caller, expect)
        ann = open_page(browser, f"{center.url}/agent?testTone={AGENT_HZ:g}", center.errors)
        sign_in(ann, "ann")
        expect(ann.locator("#line-status")).to_have_text("line up")
        expect(ann.locator('#queues li[data-queue="support"] input')).to_be_checked()
        expect(ann.locator('#queues li[data-queue="support"] .waiting')).to_have_text("1 waiting")
        ann.keyboard.press("r")
        expect(ann.locator("body")).to_have_attribute("data-phone", "ringing")
        ann.keyboard.press("d")
        expect(ann.locator("body")).to_have_attribute("data-phone", "idle")

        ann.select_option("#reason", "lunch")
        ann.keyboard.press("n")
        expect(ann.locator("#state-text")).to_have_text("not-ready")
        expect(ann.locator("#state-reason")).to_have_text("(lunch)")
        expect(ann.locator('#queues li[data-queue="support"] input')).to_be_disabled()  # assigned
        ann.uncheck('#queues li[data-queue="sales"] input')
        ann.click("#queues-save")
        expect(ann.locator("#queues-note")).to_have_text("You serve chat, support.")
        assert center.api("GET", "/v1/agents/a1/queues")["queues"] == ["chat", "support"]
        ann.check('#queues li[data-queue="sales"] input')
        ann.click("#queues-save")
        expect(ann.locator("#queues-note")).to_have_text("You serve chat, sales, support.")

        ann.keyboard.press("r")
        expect(ann.locator("#state-text")).to_have_text(re.compile("available|reserved"))
        expect(ann.locator("body")).to_have_attribute("data-phone", "ringing")
        ann.keyboard.press("a")
        expect(ann.locator("body")).to_have_attribute("data-phone", "connected")
        wait_hears(caller, AGENT_HZ)

        ann.keyboard.press("t")
        ann.select_option("#transfer-queue", "sales")
        ann.click("#transfer-go")
        expect(ann.locator("body")).to_have_attribute("data-phone", "wrap-up")
        center.wait_api("/v1/queues/sales/contacts", until=lambda page: page["items"])
        wait_hears_music(caller)
    assert center.errors == []
