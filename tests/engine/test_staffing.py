"""engine.staffing: Erlang C and Erlang A against exact answers, and the ``switchboard staffing`` command."""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from pathlib import Path

import pytest

from engine import staffing
from engine.errors import SwitchboardError
from engine.staffing import (
    agents_needed,
    erlang_a_performance,
    erlang_b,
    erlang_c,
    erlang_c_performance,
    performance,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios"
CASES = tomllib.loads((SCENARIOS / "inbound-erlang.toml").read_text())["case"]
FIELDS = {"p_wait": "p_wait", "asa_s": "asa_s", "service_level_20s": "service_level", "p_abandon": "p_abandon"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_the_published_answers(case: dict) -> None:
    perf = performance(case["agents"], case["arrival_rate"], case["aht_s"], case.get("patience_s"))
    checked = 0
    for key, attr in FIELDS.items():
        if key in case:
            checked += 1
            # The file gives 6 decimals (or 4 significant digits): agree to its last digit.
            assert getattr(perf, attr) == pytest.approx(case[key], rel=2e-5, abs=6e-5), key
    assert checked >= 2


def test_classic_case_by_hand() -> None:
    """100 calls in 30 min, AHT 180 s, 11 agents: P(wait) 0.682, ASA 122.8 s, SL20 39.0 %."""
    perf = erlang_c_performance(11, 100 / 1800, 180)
    assert round(perf.p_wait, 3) == 0.682
    assert round(perf.asa_s, 1) == 122.8
    assert round(perf.service_level, 3) == 0.390
    assert perf.occupancy == pytest.approx(10 / 11)
    assert agents_needed(100 / 1800, 180, 0.8, 20) == 14


def test_erlang_b_and_c_small_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.0) == 1.0  # unstable
    assert erlang_c(5, 0.0) == 0.0


@pytest.mark.parametrize("n", [1000, 2000, 5000])
def test_large_n_is_stable(n: int) -> None:
    a = n * 0.95
    c = erlang_c(n, a)
    assert 0.0 < c < 1.0 and math.isfinite(c)
    # Compare with a direct log-space sum of the M/M/n stationary weights.
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    log_n = n * math.log(a) - math.lgamma(n + 1) - math.log1p(-a / n)
    peak = max(max(logs), log_n)
    below = math.fsum(math.exp(x - peak) for x in logs)
    top = math.exp(log_n - peak)
    assert c == pytest.approx(top / (below + top), rel=1e-9)
    assert erlang_b(n, n / 100) == 0.0 or erlang_b(n, n / 100) < 1e-300  # underflows quietly, no error


def test_erlang_a_limits() -> None:
    # Patience -> infinity: Erlang A tends to Erlang C.
    c = erlang_c_performance(11, 1 / 18, 180)
    a = erlang_a_performance(11, 1 / 18, 180, 1e9)
    for attr in ("p_wait", "asa_s", "service_level"):
        assert getattr(a, attr) == pytest.approx(getattr(c, attr), rel=1e-5)
    # theta == mu: the system is M/M/infinity, N ~ Poisson(a).
    perf = erlang_a_performance(50, 0.25, 180, 180)
    a_ = 45.0
    pk = [math.exp(-a_ + k * math.log(a_) - math.lgamma(k + 1)) for k in range(400)]
    assert perf.p_wait == pytest.approx(math.fsum(pk[50:]), rel=1e-9)
    assert perf.p_abandon == pytest.approx(math.fsum((k - 50) * p for k, p in enumerate(pk) if k > 50) / a_, rel=1e-9)


def test_erlang_a_internal_consistency() -> None:
    perf = erlang_a_performance(100, 0.5555555555555556, 180, 180)
    # Abandonment rate theta * E[queue] = lam * P(abandon); E[queue] = lam * mean wait (Little).
    assert perf.p_abandon == pytest.approx(perf.mean_wait_s / 180, rel=1e-9)
    # Overloaded Erlang A is still stable: abandonment absorbs the excess.
    over = erlang_a_performance(10, 0.1, 180, 60)
    assert 0 < over.p_abandon < 1 and over.p_wait > 0.85
    assert over.occupancy <= 1.0


def test_erlang_a_service_level_against_a_direct_integration() -> None:
    """SL from uniformization vs a plain numerical integration of the position chain's ODE."""
    n, lam, aht, patience, t = 8, 0.04, 180.0, 90.0, 20.0
    perf = erlang_a_performance(n, lam, aht, patience, t)
    mu, theta = 1 / aht, 1 / patience
    logs = staffing._erlang_a_tail(n, lam, mu, theta)
    w = [math.exp(x) for x in logs]
    q = [x / sum(w) for x in w]
    p, answered, steps = list(q), 0.0, 20000
    dt = t / steps
    for _ in range(steps):  # explicit Euler, fine steps: accurate to ~1e-5
        rates = [n * mu + j * theta for j in range(len(p))]
        answered += p[0] * rates[0] * dt
        new = [p[j] * (1 - (rates[j] + theta) * dt) + (p[j + 1] * rates[j + 1] * dt if j + 1 < len(p) else 0)
               for j in range(len(p))]
        p = new
    expected = (1 - perf.p_wait) + perf.p_wait * answered
    assert perf.service_level == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("patience", [None, 120.0])
def test_agents_needed_is_the_least_that_meets_the_target(patience: float | None) -> None:
    for lam in (0.01, 0.2, 1.0, 5.0):
        n = agents_needed(lam, 200, 0.8, 20, patience)
        assert performance(n, lam, 200, patience).service_level >= 0.8
        assert n == 1 or performance(n - 1, lam, 200, patience).service_level < 0.8


def _args(**kw: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    staffing.add_arguments(parser)
    argv = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return parser.parse_args(argv)


def test_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert staffing.run(_args(arrival_rate=100 / 1800, aht=180, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == 14 and out["agents_needed"] == 14
    assert out["p_wait"] == pytest.approx(0.174132, abs=1e-6)
    assert out["meets_target"] is True
    for key in ("asa_s", "service_level", "p_abandon", "occupancy", "traffic_erlangs"):
        assert key in out


def test_command_with_agents_and_patience(capsys: pytest.CaptureFixture[str]) -> None:
    assert staffing.run(_args(arrival_rate=0.5555555555555556, aht=180, patience=180, agents=100, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "erlang-a"
    assert out["p_abandon"] == pytest.approx(0.039861, abs=1e-6)


def test_command_unstable_erlang_c_reports_null(capsys: pytest.CaptureFixture[str]) -> None:
    assert staffing.run(_args(arrival_rate=0.1, aht=100, agents=10, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["asa_s"] is None and out["p_wait"] == 1.0 and out["meets_target"] is False


def test_command_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert staffing.run(_args(arrival_rate=100 / 1800, aht=180)) == 0
    text = capsys.readouterr().out
    assert "agents needed" in text and "14" in text and "P(wait)" in text


@pytest.mark.parametrize(("kw", "flag"), [
    ({"arrival_rate": -1, "aht": 180}, "--arrival-rate"),
    ({"arrival_rate": 0.1, "aht": 0}, "--aht"),
    ({"arrival_rate": 0.1, "aht": -5}, "--aht"),
    ({"arrival_rate": 0.1, "aht": 180, "target_sl": 1.0}, "--target-sl"),
    ({"arrival_rate": 0.1, "aht": 180, "target_sl": 0}, "--target-sl"),
    ({"arrival_rate": 0.1, "aht": 180, "patience": 0}, "--patience"),
    ({"arrival_rate": 0.1, "aht": 180, "target_s": -1}, "--target-s"),
    ({"arrival_rate": 0.1, "aht": 180, "agents": -3}, "--agents"),
])
def test_bad_input_names_the_flag(kw: dict, flag: str) -> None:
    with pytest.raises(SwitchboardError, match=flag):
        staffing.run(_args(**kw))


def test_cli_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    assert main(["staffing", "--arrival-rate", "-1", "--aht", "180"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--arrival-rate" in err
