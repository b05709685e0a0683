"""The simulator (driving the real ACD) agrees with queueing theory, within its own confidence interval.

Each case runs an M/M/n (Erlang C) or M/M/n+M (Erlang A) center from empty, drops a warm-up of one batch length,
and cuts the rest into 20 batches of arrival time (``engine.sim.batches``). A figure passes when
``|simulated - theory| <= Z * se`` with ``se`` the batch-means standard error: with Z = 4 a correct simulator fails
about once in ten thousand checks (a t-distribution with 19 degrees of freedom puts ~8e-4 beyond 4; the seeds are
fixed, so a given build passes or fails for good), while ``test_a_wrong_simulator_fails`` shows that a handle time
10 % off is caught. Batch lengths are several relaxation times of the queue (~ 1 / (n mu (1 - sqrt(rho))**2)).
No discretisation epsilon is needed: the simulation is in continuous time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.sim.batches import BatchMeans, Estimate
from engine.sim.command import InboundSetup, build
from engine.sim.distributions import Distribution
from engine.staffing import performance

Z = 4.0
BATCHES = 20
SCENARIOS = Path(__file__).resolve().parents[3] / "benchmarks" / "scenarios"
FILE_CASES = {c["name"]: c for c in tomllib.loads((SCENARIOS / "inbound-erlang.toml").read_text())["case"]}


@dataclass(frozen=True)
class Case:
    name: str
    agents: int
    arrival_rate: float
    aht_s: float
    patience_s: float | None
    batch_h: float
    expected: dict[str, float]  # theory: from the shared file, or from engine.staffing for our own cases


def _theory(n: int, lam: float, aht: float, patience: float | None) -> dict[str, float]:
    p = performance(n, lam, aht, patience)
    return {"p_wait": p.p_wait, "service_level_20s": p.service_level, "asa_s": p.asa_s, "p_abandon": p.p_abandon,
            "occupancy": p.occupancy}


def _file_case(name: str, batch_h: float) -> Case:
    c = FILE_CASES[name]
    theory = _theory(c["agents"], c["arrival_rate"], c["aht_s"], c.get("patience_s"))
    # The published answers take precedence over our own calculator (test_staffing checks they agree).
    expected = {**theory, **{k: c[k] for k in ("p_wait", "asa_s", "service_level_20s", "p_abandon") if k in c}}
    return Case(name, c["agents"], c["arrival_rate"], c["aht_s"], c.get("patience_s"), batch_h, expected)


def _own_case(name: str, n: int, lam: float, aht: float, patience: float | None, batch_h: float) -> Case:
    return Case(name, n, lam, aht, patience, batch_h, _theory(n, lam, aht, patience))


CASES = [
    # Batch lengths: 5-10 relaxation times 1 / (n mu (1 - sqrt(rho))**2), and at least ~500 calls a batch.
    _file_case("classic-11", 16.0),  # the published one: P(wait) 0.682, ASA 122.8 s, SL20 39.0 % (relax. 2.0 h)
    _file_case("classic-14", 6.0),  # relaxation 0.15 h; long for enough calls
    _file_case("small-5", 10.0),  # relaxation 1.2 h
    _file_case("hw-105", 6.0),  # relaxation 0.8 h
    _file_case("hw-120", 0.5),  # relaxation 0.06 h
    _file_case("abandon-100", 0.5),  # theta = mu: relaxes like M/M/infinity, 1/mu = 0.05 h
    _own_case("erlang-c-50", 50, 0.25, 180.0, None, 3.0),  # relaxation 0.38 h
    _own_case("erlang-c-200", 200, 190 / 180, 180.0, None, 3.0),  # relaxation 0.39 h
    _own_case("erlang-a-20", 20, 0.1, 180.0, 60.0, 2.0),
]
assert set(FILE_CASES) <= {c.name for c in CASES}, "every case of inbound-erlang.toml is simulated"


def simulate(case: Case, seed: int = 1, aht_s: float | None = None) -> dict[str, Estimate]:
    warmup_h = case.batch_h
    setup = InboundSetup(
        agents=case.agents, arrival_rate=case.arrival_rate, talk=Distribution.exponential(aht_s or case.aht_s),
        patience=None if case.patience_s is None else Distribution.exponential(case.patience_s),
        hours=warmup_h + BATCHES * case.batch_h, seed=seed)
    batches = BatchMeans(warmup_h * 3600.0, case.batch_h * 3600.0, BATCHES)
    _, _, driver = build(setup, [batches])
    end = driver.run()
    batches.finish(end)
    return batches.estimates()


def disagreements(estimates: dict[str, Estimate], expected: dict[str, float]) -> list[str]:
    out = []
    for key, theory in expected.items():
        e = estimates[key]
        if not e.agrees(theory, Z):
            out.append(f"{key}: simulated {e.value:.5g} +- {e.se:.2g}, theory {theory:.5g} "
                       f"(z = {(e.value - theory) / e.se if e.se else float('inf'):+.1f})")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_simulation_agrees_with_queueing_theory(case: Case) -> None:
    estimates = simulate(case)
    assert not disagreements(estimates, case.expected)
    # The interval is informative: occupancy (the carried load) is pinned within 5 %, so a simulator whose rates
    # are 5 % off fails; test_a_wrong_simulator_fails shows it on P(wait) and occupancy together.
    assert Z * estimates["occupancy"].se <= 0.05 * case.expected["occupancy"]
    if case.patience_s is None:
        assert estimates["p_abandon"].value == 0.0


@pytest.mark.slow
def test_a_wrong_simulator_fails() -> None:
    """Handle times 10 % longer than the model's: the same check must reject it."""
    case = next(c for c in CASES if c.name == "classic-14")
    estimates = simulate(case, aht_s=case.aht_s * 1.1)
    failed = disagreements(estimates, case.expected)
    assert any(f.startswith("occupancy") for f in failed), failed
    assert any(f.startswith("p_wait") for f in failed), failed
