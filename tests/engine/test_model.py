"""The records' ``to_dict`` give exactly what ``dataclasses.asdict`` gives (snapshots and the API rely on it)."""

from __future__ import annotations

from dataclasses import asdict

from engine.model import AgentConfig, RoutingStep


def test_agent_config_to_dict_is_asdict() -> None:
    for agent in (AgentConfig("a1"), AgentConfig("a2", "Ada", {"support": 5, "sales": 1}, {"voice": 1, "chat": 3},
                                                   ("north", "night"))):
        assert agent.to_dict() == asdict(agent)
        assert [type(v) for v in agent.to_dict().values()] == [type(v) for v in asdict(agent).values()]
        assert AgentConfig.from_dict(agent.to_dict()) == agent


def test_routing_step_to_dict_is_asdict() -> None:
    for step in (RoutingStep("q"), RoutingStep("q", {"support": 3}, ("a1", "a2"), 2, 30.0)):
        assert step.to_dict() == asdict(step)
        assert [type(v) for v in step.to_dict().values()] == [type(v) for v in asdict(step).values()]
        assert RoutingStep.from_dict(step.to_dict()) == step


def test_cdr_to_dict_is_asdict_with_named_history() -> None:
    from engine.store.access_records import Cdr

    cdr = Cdr("c1", "voice", "+1", "q", "a1", 1.0, 2.0, 3.0, "answered", "resolved", "note",
              ((1.0, "queued", "q", ""), (2.0, "connected", "q", "a1")), {"ticket": {"id": 7, "tags": ["x"]}}, 4.0,
              ("a1",))
    expected = asdict(cdr)
    expected["history"] = [{"at": s[0], "state": s[1], "queue": s[2], "agent_id": s[3]} for s in cdr.history]
    expected["agents"] = list(cdr.agents)
    assert cdr.to_dict() == expected and list(cdr.to_dict()) == list(expected)
    assert cdr.to_dict()["data"] is not cdr.data
