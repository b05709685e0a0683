"""engine.sim.scenario: the shared scenario files load, and bad ones are refused naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.sim.distributions import Distribution
from engine.sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[3]
OURS = ROOT / "benchmarks" / "scenarios"
SHARED = ROOT.parent / "shared" / "scenarios"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/scenarios beside the checkout")
def test_benchmark_scenarios_are_identical_copies_of_the_shared_ones() -> None:
    shared = sorted(p.name for p in SHARED.iterdir() if p.is_file())
    ours = sorted(p.name for p in OURS.iterdir() if p.is_file())
    assert shared == ours
    for name in shared:
        assert (OURS / name).read_bytes() == (SHARED / name).read_bytes(), name


@pytest.mark.parametrize("path", sorted(OURS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name


def test_outbound_standard_values() -> None:
    s = load_scenario(OURS / "outbound-standard.toml")
    assert (s.name, s.agents, s.shift_hours, s.seed) == ("outbound-standard", 50, 8.0, 1)
    assert s.abandon_target == 0.03 and s.abandon_grace_s == 2.0
    assert s.outcomes == {"human": 0.30, "machine": 0.15, "busy": 0.05}
    assert s.timing["ring_s"] == Distribution.lognormal(8.0, 4.0)
    assert s.timing["no_answer_timeout_s"] == Distribution.fixed(25.0)
    assert s.timing["wrap_s"] == Distribution.fixed(15.0)


def test_inbound_cases() -> None:
    s = load_scenario(OURS / "inbound-erlang.toml")
    classic = s.case("classic-11")
    assert (classic.agents, classic.aht_s, classic.model) == (11, 180.0, "erlang-c")
    assert classic.expected["p_wait"] == 0.682118
    assert s.case("abandon-100").patience_s == 180.0
    with pytest.raises(ConfigError, match=r"inbound-erlang.toml: no \[\[case\]\] named 'nope'"):
        s.case("nope")


def test_phases_apply_in_order() -> None:
    s = parse_scenario({
        "scenario": {"shift_hours": 8},
        "outcomes": {"human": 0.3, "machine": 0.15},
        "timing": {"talk_s": {"dist": "exponential", "mean": 100}},
        "inbound": {"arrival_rate": 0.1},
        "phase": [{"at_hour": 3.0, "human": 0.15, "machine": 0.2, "arrival_rate": 0.2},
                  {"at_hour": 6.0, "human": 0.3, "talk_s": 50}],
    }, "p.toml")
    assert s.at(0)[0] == {"human": 0.3, "machine": 0.15}
    assert s.at(3.0)[0] == {"human": 0.15, "machine": 0.2}
    assert s.at(3.0)[2] == {"arrival_rate": 0.2}
    outcomes, timing, inbound = s.at(7)
    assert outcomes == {"human": 0.3, "machine": 0.2}
    assert timing["talk_s"] == Distribution.fixed(50.0)
    assert inbound == {"arrival_rate": 0.2}


@pytest.mark.parametrize(("data", "message"), [
    ({"scenaro": {}}, r"x.toml: unknown table or key 'scenaro'"),
    ({"scenario": {"agentz": 3}}, r"x.toml: \[scenario\] agentz: unknown key"),
    ({"scenario": {"agents": 2.5}}, r"\[scenario\] agents: expected an integer"),
    ({"scenario": {"shift_hours": 0}}, r"\[scenario\] shift_hours: expected a finite number > 0"),
    ({"scenario": {"abandon_target": 3}}, r"\[scenario\] abandon_target: must be in \[0, 1\]"),
    ({"outcomes": {"human": 1.5}}, r"\[outcomes\] human: a probability must be in \[0, 1\]"),
    ({"outcomes": {"person": 0.5}}, r"\[outcomes\] person: unknown outcome"),
    ({"outcomes": {"human": 0.6, "machine": 0.6}}, r"\[outcomes\]: outcome probabilities add up to 1.2"),
    ({"timing": {"talk_s": {"dist": "exponential"}}}, r"x.toml: \[timing\] talk_s.mean: missing"),
    ({"timing": {"talk": 3}}, r"\[timing\] talk: unknown timing key"),
    ({"inbound": {"arrival_rate": -1}}, r"\[inbound\] arrival_rate: expected a finite number >= 0"),
    ({"phase": [{"human": 0.1}]}, r"\[\[phase\]\] #1 at_hour: missing"),
    ({"phase": [{"at_hour": 2, "colour": 1}]}, r"\[\[phase\]\] #1 colour: not a key a phase can change"),
    ({"phase": [{"at_hour": 2}, {"at_hour": 1}]}, r"\[\[phase\]\] #2 at_hour: phases must be in increasing order"),
    ({"scenario": {"shift_hours": 8}, "phase": [{"at_hour": 9}]}, r"#1 at_hour: 9 is not within the shift"),
    ({"outcomes": {"human": 0.5}, "phase": [{"at_hour": 1, "machine": 0.6}]}, r"#1: outcome probabilities add up"),
    ({"phase": [{"at_hour": 1, "ring_s": {"dist": "lognormal", "mean": 8}}]}, r"#1 ring_s.sd: missing"),
    ({"case": [{"name": "a", "arrival_rate": 1, "aht_s": 1, "agents": 2}]}, r"\[\[case\]\] #1 model: missing"),
    ({"case": [{"name": "a", "arrival_rate": 1, "aht_s": 1, "agents": 2, "model": "erlang-a"}]},
     r"\[\[case\]\] 'a' patience_s: missing"),
    ({"case": [{"name": "a", "arrival_rate": 1, "aht_s": 0, "agents": 2, "model": "erlang-c"}]},
     r"\[\[case\]\] 'a' aht_s: expected a finite number > 0"),
    ({"case": [{"name": "a", "arrival_rate": 1, "aht_s": 1, "agents": 2, "model": "erlang-x"}]},
     r"'a' model: expected one of erlang-c, erlang-a"),
    ({"case": [{"name": "a", "arrival_rate": 1, "aht_s": 1, "agents": 2, "model": "erlang-c", "p_wiat": 1}]},
     r"\[\[case\]\] #1 p_wiat: unknown key"),
])
def test_errors_name_file_and_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario(data, "x.toml")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.toml: no such scenario file"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname = 1\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_scenario(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[timing]\ntalk_s = { dist = "lognormal", mean = 120.0 }\n')
    with pytest.raises(ConfigError, match=r"typo.toml: \[timing\] talk_s.sd: missing"):
        load_scenario(typo)
