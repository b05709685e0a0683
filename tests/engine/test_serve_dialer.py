"""The dialer inside ``switchboard serve``'s engine: a campaign submitted to the journaled runtime is dialled
under the compliance rules (every decision audited in the store) and its lead updates reach the store."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from engine.center import Center
from engine.dialer_events import LeadsAdded, UpsertCampaign
from engine.events import AgentLogin, AgentReady
from engine.leads import parse_leads
from engine.model import CampaignConfig
from engine.runtime import Runtime, TrioClock
from engine.serve import _attach_dialer_sinks, open_engine
from engine.sim.outbound import SHIFT_START
from plugins.host import PluginHost

LEADS = """phone,priority,name
+442079460000,1,Ann
+442079460001,5,Bob
"""


async def test_serve_dials_a_campaign_under_audited_compliance_and_writes_leads(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    from engine.config import demo_config

    host = PluginHost.open(tmp_path, None, autoload=False)
    try:
        store = host.store
        store.import_leads("c1", parse_leads(LEADS, "c1"))
        store.dnc_add("+442079460001", reason="asked not to be called")
        center, journal, _, recovered = open_engine(tmp_path, demo_config(), "never")
        assert isinstance(center, Center) and not recovered
        runtime = Runtime(center, journal, TrioClock(SHIFT_START), snapshot_every=10**9)
        host.attach(runtime)
        compliance = _attach_dialer_sinks(runtime, host)
        agent = next(a.id for a in center.config_now().agents if a.skills.get("sales"))
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await compliance.resume(runtime.acd)
            await runtime.submit(AgentLogin(agent))
            await runtime.submit(AgentReady(agent))
            await runtime.submit(UpsertCampaign(CampaignConfig("c1", "sales", mode="progressive")))
            await runtime.submit(LeadsAdded("c1", tuple(lead.to_dict() for lead in store.leads("c1"))))
            # The rules run in a worker thread, during which MockClock's autojump moves virtual time on: wait for
            # the answers themselves (bounded in virtual time), not for a number of seconds.
            with trio.fail_after(3600):
                while compliance.answered < 2:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()

        audit = {row["number"]: row for row in store.compliance_audit(campaign="c1")}
        assert audit["+442079460001"]["allowed"] is False and audit["+442079460001"]["rule"] == "dnc"
        assert audit["+442079460000"]["allowed"] is True
        assert store.lead_status("c1", "442079460001") == "dnc"  # the refusal reached the store
        calls = center.dialer.calls_in_progress()
        assert [lead for _, lead, phase in calls.values() if phase == "ringing"] == ["442079460000"]
        assert compliance.answered == 2
    finally:
        host.close()
