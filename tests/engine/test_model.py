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
