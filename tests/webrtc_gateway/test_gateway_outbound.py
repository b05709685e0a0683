"""Outbound calls to web callers: a campaign's leads numbered ``webrtc:ADDRESS`` ring the browser registered as
that address; answered, the call is queued for the campaign's agents like any dialled person; unanswered, the
dialer hears ``no-answer``; a preview lead is dialled when the agent chooses to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from engine.dialer_events import LeadsAdded, LeadUpdated, UpsertCampaign
from engine.model import CampaignConfig
from tests.admin_api.wsclient import WsClient
from tests.webrtc_gateway.peers import AsyncioThread, Peer
from tests.webrtc_gateway.server import AGENT_HZ, CALLER_HZ, TIMEOUT_S, Gw, running_gateway


class Updates:
    """The dialer's lead updates, as the store's writer sees them."""

    accepts = (LeadUpdated,)

    def __init__(self) -> None:
        self.seen: list[LeadUpdated] = []

    def handle(self, action: Any, now: float) -> None:
        self.seen.append(action)

    async def outcome(self, lead: str) -> str:
        while not (found := [u for u in self.seen if u.lead_id == lead]):
            await trio.sleep(0.05)
        return found[-1].outcome


async def _registered(gw: Gw, address: str) -> WsClient:
    ws = await gw.socket("/webrtc/ws/caller")
    await ws.expect("hello")
    await ws.send({"type": "register", "address": address})
    await ws.expect("registered")
    return ws


async def _answer(gw: Gw, ws: WsClient, tone_hz: float) -> tuple[Peer, str]:
    incoming = await ws.next("incoming")
    peer = await gw.peer(tone_hz)
    await ws.send({"type": "answer-call", "call_id": incoming["call_id"],
                   "sdp": await gw.thread.call(peer.answer(incoming["sdp"]))})
    await ws.next("ack", of="answer-call")
    await gw.thread.call(peer.connected())
    return peer, incoming["call_id"]


async def _campaign(gw: Gw, mode: str, leads: list[tuple[str, str, int]]) -> None:
    await gw.runtime.submit(UpsertCampaign(CampaignConfig("c1", "support", mode=mode, ring_timeout_s=1.5,
                                                          calling_hours=(0, 24 * 60), min_interval_s=0.0)))
    await gw.runtime.submit(LeadsAdded("c1", tuple(
        {"id": lead, "campaign": "c1", "phone": number, "timezones": ["UTC"], "priority": priority}
        for lead, number, priority in leads)))


async def test_a_campaign_rings_web_callers_and_connects_the_one_who_answers(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        updates = Updates()
        gw.runtime.add_sink(updates)
        with trio.fail_after(TIMEOUT_S):
            agent_ws, agent, _ = await gw.agent("a1", AGENT_HZ)
            silent = await _registered(gw, "bob")
            ada = await _registered(gw, "ada")
            await _campaign(gw, "progressive", [("l-bob", "webrtc:bob", 9), ("l-ada", "webrtc:ada", 5),
                                                ("l-nobody", "webrtc:nobody", 1)])
            await silent.next("incoming")  # bob first (the higher priority), who never answers
            assert await updates.outcome("l-bob") == "no-answer"
            assert (await silent.next("incoming-cancelled"))["reason"] == "no-answer"
            caller, call_id = await _answer(gw, ada, CALLER_HZ)
            offer = await agent_ws.next("offer-contact", contact_id=call_id)
            assert offer["lead"]["id"] == "l-ada" and offer["lead"]["campaign"] == "c1"
            await agent_ws.send({"type": "accept", "contact_id": call_id})
            await agent_ws.next("connected", contact_id=call_id)
            await gw.until_hears(caller, {AGENT_HZ})
            await gw.until_hears(agent, {CALLER_HZ})
            await agent_ws.send({"type": "hangup", "contact_id": call_id})
            await ada.next("ended")
            await agent_ws.send({"type": "wrap-up", "contact_id": call_id, "disposition": "resolved",
                                 "callback": {"at": gw.runtime.now() + 3600}})
            await agent_ws.next("ack", of="wrap-up")
            assert await updates.outcome("l-nobody") == "failed"  # nobody registered: nothing to ring


async def test_a_preview_lead_is_dialled_when_the_agent_chooses(tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            agent_ws, agent, _ = await gw.agent("a1", AGENT_HZ)
            ada = await _registered(gw, "ada")
            await _campaign(gw, "preview", [("l-ada", "webrtc:ada", 5)])
            offer = await agent_ws.next("offer-contact")
            assert offer["lead"]["preview"] is True and offer["lead"]["number"] == "webrtc:ada"
            await agent_ws.send({"type": "preview", "contact_id": offer["contact_id"], "dial": True})
            await agent_ws.next("dialing", contact_id=offer["contact_id"])
            caller, call_id = await _answer(gw, ada, CALLER_HZ)
            assert call_id == offer["contact_id"]
            await agent_ws.next("connected", contact_id=call_id)
            await gw.until_hears(caller, {AGENT_HZ})
            await gw.until_hears(agent, {CALLER_HZ})
