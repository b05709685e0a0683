"""A third-party compliance rule, loaded through its entry point, is enforced on the dialer's dials and audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.acd import Acd
from engine.center import Center
from engine.dialer import Dialer
from engine.dialer_events import CheckCompliance, ComplianceVerdict, Dial, DialSkipped, LeadsAdded, UpsertCampaign
from engine.events import AgentLogin, AgentReady, Tick
from engine.model import AgentConfig, CampaignConfig, CenterConfig, Lead, QueueConfig
from engine.sim.outbound import SHIFT_START
from plugins.compliance_gate import ComplianceGate
from plugins.manager import AUTOLOAD_ENV, PluginManager


def test_entry_point_rule_refuses_and_is_audited(example_installed: Path, monkeypatch: pytest.MonkeyPatch,
                                                 store) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    monkeypatch.syspath_prepend(str(example_installed))
    manager = PluginManager({"plugins": {"example": {"refuse_prefixes": ["+4420794600"]}}, "store": store})
    manager.configure()
    assert "example" in {p["name"] for p in manager.list_plugins()}
    gate = ComplianceGate(manager, store)
    config = CenterConfig(skills=("sales",), agents=(AgentConfig("a1", skills={"sales": 5}),),
                          queues=(QueueConfig("out", skills={"sales": 1}),))
    center = Center(Acd(config), Dialer(config))
    t = SHIFT_START
    center.feed(UpsertCampaign(CampaignConfig("c", "out", mode="progressive")), t)
    center.feed(LeadsAdded("c", (Lead("L1", "c", "+442079460001", ("Europe/London",)).to_dict(),
                                 Lead("L2", "c", "+442079461234", ("Europe/London",)).to_dict())), t)
    center.feed(AgentLogin("a1"), t)
    center.feed(AgentReady("a1"), t)
    dialled, skipped = [], []
    for step in range(1, 4):
        for check in [a for a in center.feed(Tick(), t + step) if isinstance(a, CheckCompliance)]:
            verdict = gate.check(check.request)
            actions = center.feed(ComplianceVerdict(check.call_id, verdict.allowed, verdict.reason, verdict.rule),
                                  t + step)
            dialled += [a.lead_id for a in actions if isinstance(a, Dial)]
            skipped += [a for a in actions if isinstance(a, DialSkipped)]
    assert dialled == ["L2"]
    assert [s.rule for s in skipped] == ["example-prefix"] and "+4420794600" in skipped[0].reason
    audit = store.compliance_audit(campaign="c")
    by_lead = {row["lead"]: row for row in audit}
    assert not by_lead["L1"]["allowed"] and by_lead["L1"]["rule"] == "example-prefix"
    assert by_lead["L2"]["allowed"]
