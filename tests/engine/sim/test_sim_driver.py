"""The simulator driving the real ACD: exact virtual-time behaviour, determinism, the ``simulate`` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from engine.acd import Acd
from engine.errors import SwitchboardError
from engine.events import Action, ContactRecord, ContactStateChanged
from engine.model import AgentConfig, CenterConfig, QueueConfig
from engine.sim import command
from engine.sim.channel import SimulatedChannel
from engine.sim.command import InboundSetup, run_inbound
from engine.sim.distributions import Distribution
from engine.sim.driver import Driver
from engine.stats import Stats

SCENARIOS = Path(__file__).resolve().parents[3] / "benchmarks" / "scenarios"


def center(agents: int = 1, wrap_up_s: float = 0.0) -> CenterConfig:
    return CenterConfig(
        skills=("s",),
        agents=tuple(AgentConfig(id=f"a{i + 1}", skills={"s": 1}, capacity={"voice": 1}) for i in range(agents)),
        queues=(QueueConfig(id="q", skills={"s": 1}, wrap_up_s=wrap_up_s, ring_timeout_s=10_000.0),),
    )


class Log:
    def __init__(self) -> None:
        self.actions: list[Action] = []

    def __call__(self, action: Action) -> None:
        self.actions.append(action)

    def records(self) -> dict[str, ContactRecord]:
        return {a.contact_id: a for a in self.actions if isinstance(a, ContactRecord)}

    def states(self, cid: str) -> list[tuple[float, str]]:
        return [(a.at, a.state) for a in self.actions if isinstance(a, ContactStateChanged) and a.contact_id == cid]


def run_scheduled(arrivals: list[tuple[float, str]], *, agents: int = 1, wrap_up_s: float = 0.0,
                  **channel_kw: object) -> tuple[Log, Stats, float]:
    log, stats = Log(), Stats()
    channel_kw.setdefault("talk", Distribution.fixed(100.0))
    channel = SimulatedChannel(agents=[f"a{i + 1}" for i in range(agents)], scheduled=arrivals,
                               **channel_kw)  # type: ignore[arg-type]
    driver = Driver(Acd(center(agents, wrap_up_s)), channel, [log, stats.observe])
    end = driver.run()
    return log, stats, end


def test_patience_abandons_only_callers_still_waiting() -> None:
    # One agent, talk 100 s, patience 10 s: c1 served at once, c2 (t=5) gives up at 15, c3 (t=85) at 95,
    # c4 arrives at 150 when the agent is free again.
    log, stats, end = run_scheduled([(0.0, "q"), (5.0, "q"), (85.0, "q"), (150.0, "q")],
                                    patience=Distribution.fixed(10.0))
    records = log.records()
    assert [(records[c].outcome, records[c].answered) for c in ("c1", "c2", "c3", "c4")] == [
        ("answered", 0.0), ("abandoned", None), ("abandoned", None), ("answered", 150.0)]
    assert records["c2"].ended == 15.0 and records["c3"].ended == 95.0
    assert end == 250.0
    snap = stats.snapshot(end)
    assert (snap["offered"], snap["answered"], snap["abandoned"]) == (4, 2, 2)
    assert snap["p_wait"] == 0.5 and snap["asa_s"] == 0.0


def test_patience_timer_is_dropped_once_connected() -> None:
    # Patience 200 s: c2 waits 95 s and is answered at 100; its patience (205) must not hang it up mid-call.
    log, stats, end = run_scheduled([(0.0, "q"), (5.0, "q")], patience=Distribution.fixed(200.0))
    records = log.records()
    assert records["c2"].outcome == "answered" and records["c2"].answered == 100.0 and records["c2"].ended == 200.0
    assert stats.snapshot(end)["asa_s"] == pytest.approx(95.0 / 2)


def test_answer_delay_counts_as_waiting() -> None:
    log, stats, _ = run_scheduled([(0.0, "q")], answer=Distribution.fixed(3.0))
    assert log.states("c1")[:3] == [(0.0, "queued"), (0.0, "offered"), (3.0, "connected")]
    snap = stats.snapshot(200.0)
    assert snap["p_wait"] == 1.0 and snap["asa_s"] == 3.0


def test_abandon_while_ringing_withdraws_the_offer() -> None:
    log, _, _ = run_scheduled([(0.0, "q")], answer=Distribution.fixed(30.0), patience=Distribution.fixed(10.0))
    assert log.records()["c1"].outcome == "abandoned"
    assert [s for _, s in log.states("c1")] == ["queued", "offered", "abandoned"]


def test_simulated_agents_end_their_wrap_up() -> None:
    # The queue allows a long wrap-up; the simulated agent finishes after 20 s, then takes c2.
    log, stats, _ = run_scheduled([(0.0, "q"), (1.0, "q")], wrap_up_s=500.0, wrap=Distribution.fixed(20.0))
    records = log.records()
    assert records["c2"].answered == 120.0
    assert stats.snapshot(400.0)["aht_s"] == pytest.approx(120.0)


def test_queue_wrap_timer_when_agents_do_not_end_it() -> None:
    log, _, _ = run_scheduled([(0.0, "q"), (1.0, "q")], wrap_up_s=30.0)
    assert log.records()["c2"].answered == 130.0


def test_until_stops_the_clock() -> None:
    channel = SimulatedChannel(agents=["a1"], talk=Distribution.fixed(100.0), scheduled=[(0.0, "q"), (500.0, "q")])
    driver = Driver(Acd(center()), channel)
    assert driver.run(until=300.0) == 300.0
    assert driver.pending == 1  # c2's arrival is still to come
    assert driver.run() == 600.0


def test_phases_change_the_arrival_rate() -> None:
    log = Log()
    channel = SimulatedChannel(agents=["a1", "a2"], talk=Distribution.fixed(1.0), arrival_rates={"q": 0.01},
                               phases=[(36_000.0, {"arrival_rates": {"q": 0.1}})], arrivals_until=72_000.0, seed=5)
    Driver(Acd(center(2)), channel, [log]).run()
    arrived = [r.arrived for r in log.records().values()]
    before = sum(1 for t in arrived if t < 36_000)
    after = len(arrived) - before
    # Poisson counts with means 360 and 3600: within 5 standard deviations.
    assert abs(before - 360) < 5 * 360 ** 0.5
    assert abs(after - 3600) < 5 * 3600 ** 0.5
    assert max(arrived) < 72_000


SETUP = dict(agents=20, arrival_rate=0.1, talk=Distribution.exponential(180.0),
             patience=Distribution.exponential(120.0), hours=4.0, warmup_hours=0.5)


def _without_wall(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "wall_s"}


def test_same_seed_same_output() -> None:
    a = run_inbound(InboundSetup(seed=42, **SETUP))  # type: ignore[arg-type]
    b = run_inbound(InboundSetup(seed=42, **SETUP))  # type: ignore[arg-type]
    c = run_inbound(InboundSetup(seed=43, **SETUP))  # type: ignore[arg-type]
    assert json.dumps(_without_wall(a), sort_keys=True) == json.dumps(_without_wall(b), sort_keys=True)
    assert _without_wall(a) != _without_wall(c)
    assert a["offered"] == a["answered"] + a["abandoned"]
    assert a["abandoned"] > 0


def test_no_abandonment_without_patience() -> None:
    result = run_inbound(InboundSetup(agents=10, arrival_rate=0.05, talk=Distribution.exponential(180.0),
                                      hours=5.0, seed=3))
    assert result["abandoned"] == 0 and result["offered"] == result["answered"] > 0


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--agents", "12", "--arrival-rate", "0.05", "--aht", "180", "--patience", "300", "--hours", "3",
            "--seed", "7", "--warmup-hours", "0.5", "--json"]
    assert command.run(_args(argv)) == 0
    first = json.loads(capsys.readouterr().out)
    for key in ("offered", "answered", "abandoned", "p_wait", "service_level_20s", "asa_s", "occupancy", "aht_s",
                "abandon_rate", "simulated_hours", "wall_s"):
        assert key in first
    assert first["simulated_hours"] == 3.0 and first["agents"] == 12
    assert command.run(_args(argv)) == 0
    second = json.loads(capsys.readouterr().out)
    assert _without_wall(first) == _without_wall(second)


def test_command_from_a_scenario_case(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--scenario", str(SCENARIOS / "inbound-erlang.toml"), "--case", "small-5", "--hours", "2", "--json"]
    assert command.run(_args(argv)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == 5 and out["arrival_rate"] == pytest.approx(1 / 60)
    # flags win over the scenario
    assert command.run(_args([*argv, "--agents", "7"])) == 0
    assert json.loads(capsys.readouterr().out)["agents"] == 7


def test_command_from_a_scenario_with_phases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inbound.toml"
    path.write_text(
        '[scenario]\nname = "day"\nagents = 6\nshift_hours = 2\nseed = 3\n'
        '[inbound]\narrival_rate = 0.01\n'
        '[timing]\ntalk_s = { dist = "lognormal", mean = 200.0, sd = 80.0 }\nwrap_s = 10.0\n'
        'patience_s = { dist = "exponential", mean = 90.0 }\n'
        '[[phase]]\nat_hour = 1.0\narrival_rate = 0.03\n')
    assert command.run(_args(["--scenario", str(path), "--json"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "day" and out["agents"] == 6 and out["seed"] == 3
    assert out["offered"] == out["answered"] + out["abandoned"]
    assert out["aht_s"] == pytest.approx(210.0, rel=0.3)


@pytest.mark.parametrize(("argv", "flag"), [
    (["--arrival-rate", "0.1", "--aht", "180", "--hours", "1"], "--agents"),
    (["--agents", "0", "--arrival-rate", "0.1", "--aht", "180", "--hours", "1"], "--agents"),
    (["--agents", "3", "--aht", "180", "--hours", "1"], "--arrival-rate"),
    (["--agents", "3", "--arrival-rate", "-0.1", "--aht", "180", "--hours", "1"], "--arrival-rate"),
    (["--agents", "3", "--arrival-rate", "0.1", "--hours", "1"], "--aht"),
    (["--agents", "3", "--arrival-rate", "0.1", "--aht", "0", "--hours", "1"], "--aht"),
    (["--agents", "3", "--arrival-rate", "0.1", "--aht", "180"], "--hours"),
    (["--agents", "3", "--arrival-rate", "0.1", "--aht", "180", "--hours", "1", "--patience", "0"], "--patience"),
    (["--agents", "3", "--arrival-rate", "0.1", "--aht", "180", "--hours", "1", "--warmup-hours", "2"],
     "--warmup-hours"),
    (["--agents", "3", "--arrival-rate", "0.1", "--aht", "180", "--hours", "1", "--case", "x"], "--case"),
])
def test_command_bad_input_names_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(SwitchboardError, match=flag):
        command.run(_args(argv))


def test_cli_simulate_inbound(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    assert main(["simulate", "inbound", "--agents", "5", "--arrival-rate", "0.02", "--aht", "180", "--hours", "1",
                 "--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agents"] == 5
    assert main(["simulate", "inbound", "--agents", "5", "--arrival-rate", "0.02", "--aht", "180"]) == 2
    assert "--hours" in capsys.readouterr().err


def test_command_table_for_humans(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.run(_args(["--agents", "3", "--arrival-rate", "0.01", "--aht", "100", "--hours", "1"])) == 0
    text = capsys.readouterr().out
    assert "P(wait)" in text and "occupancy" in text
