"""Unit and property tests of the pacing core, run on both implementations through ``pacing_impl``, and a
differential test between them."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from collections import deque
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.core

ROOT = Path(engine.core.__file__).resolve().parents[2]  # the tree engine.core was imported from
GRACE = 2.0


def _subprocess(code: str, **env_changes: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_PURE_PYTHON"}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.split()


_REPORT = ("import engine.core as c; "
           "print(c.IMPLEMENTATION, c.IMPLEMENTATIONS['routing'], c.IMPLEMENTATIONS['pacing'], c.Pacer.__module__)")


# ------------------------------------------------------------------ selector

def test_compiled_pacing_is_loaded_by_default() -> None:
    """In a normal install (extensions built, no SWITCHBOARD_PURE_PYTHON) the selector picks the compiled pacer."""
    assert _subprocess(_REPORT) == ["cython", "cython", "cython", "engine.core._pacing_c"]
    if "SWITCHBOARD_PURE_PYTHON" not in os.environ:
        assert engine.core.IMPLEMENTATIONS["pacing"] == "cython"
        assert engine.core.Pacer is engine.core.load_pacing("cython").Pacer


def test_pure_python_env_selects_reference_pacer() -> None:
    assert _subprocess(_REPORT, SWITCHBOARD_PURE_PYTHON="1") == ["python", "python", "python",
                                                                 "engine.core._pacing_py"]


def test_unbuilt_pacing_extension_is_reported() -> None:
    """Routing compiled, pacing not (its extension hidden from the import system): the selector says so."""
    hide = ("import sys\n"
            "class Hide:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'engine.core._pacing_c':\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, Hide())\n")
    assert _subprocess(hide + _REPORT) == ["mixed", "cython", "python", "engine.core._pacing_py"]


def test_load_names() -> None:
    assert engine.core.load_pacing("python").__name__ == "engine.core._pacing_py"
    assert engine.core.load("python", module="pacing").__name__ == "engine.core._pacing_py"
    assert engine.core.load("python").__name__ == "engine.core._routing_py"  # the routing module stays the default
    assert engine.core.load("python", module="routing").__name__ == "engine.core._routing_py"
    with pytest.raises(ValueError, match="unknown implementation"):
        engine.core.load_pacing("rust")
    with pytest.raises(ValueError, match="unknown core module"):
        engine.core.load("python", module="staffing")


def test_same_public_api() -> None:
    py = engine.core.load_pacing("python")
    try:
        c = engine.core.load_pacing("cython")
    except ImportError:
        pytest.skip("not built")
    public = {n for n in dir(py.Pacer) if not n.startswith("_")}
    assert public <= {n for n in dir(c.Pacer) if not n.startswith("_")}
    for name in ("OUTCOME_HUMAN", "OUTCOME_MACHINE", "OUTCOME_BUSY", "OUTCOME_NO_ANSWER", "QUANTILES"):
        assert getattr(py, name) == getattr(c, name) == getattr(engine.core, name)
    assert sorted(py.__all__) == sorted(c.__all__)


# ------------------------------------------------------------------ construction and validation

def test_attributes_readable(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer(busy_s=4.0, no_answer_s=30.0, short_alpha=0.02, long_alpha=0.001)
    assert (p.busy_s, p.no_answer_s, p.short_alpha, p.long_alpha, p.outcomes_seen) == (4.0, 30.0, 0.02, 0.001, 0)
    p.observe_outcome(pacing_impl.OUTCOME_BUSY, 0.0)
    assert p.outcomes_seen == 1


@pytest.mark.parametrize("kwargs", [
    {"p_human": 0.0}, {"p_human": -0.1}, {"p_human": 1.2}, {"p_machine": -0.01}, {"p_busy": -0.01},
    {"p_human": 0.6, "p_machine": 0.3, "p_busy": 0.2},
])
def test_invalid_outcome_priors(pacing_impl: ModuleType, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="outcome priors"):
        pacing_impl.Pacer(**kwargs)


@pytest.mark.parametrize(("name", "value"), [
    ("ring_s", (0.0, 1.0)), ("talk_s", (-5.0, 1.0)), ("wrap_s", (10.0, -1.0)), ("ring_s", (math.nan, 1.0)),
])
def test_invalid_durations(pacing_impl: ModuleType, name: str, value: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match=f"{name}: mean must be > 0 and sd >= 0"):
        pacing_impl.Pacer(**{name: value})


def test_valid_edge_priors(pacing_impl: ModuleType) -> None:
    pacing_impl.Pacer(p_human=1.0, p_machine=0.0, p_busy=0.0, wrap_s=(15.0, 0.0))
    pacing_impl.Pacer(p_human=0.5, p_machine=0.3, p_busy=0.2)  # adds up to exactly 1


def test_keyword_only(pacing_impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        pacing_impl.Pacer(0.3)


def test_invalid_calls(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer()
    for code in (-1, 4):
        with pytest.raises(ValueError, match="unknown outcome code"):
            p.observe_outcome(code, 1.0)
    assert p.outcomes_seen == 0
    with pytest.raises(ValueError, match="n counts from 1"):
        p.abandon_probability(0, 1, [], [], [], 0, GRACE)


# ------------------------------------------------------------------ estimates

def _feed(p: Any, core: ModuleType, rng: random.Random, n: int, p_human: float, p_machine: float = 0.15,
          p_busy: float = 0.05) -> None:
    for _ in range(n):
        u = rng.random()
        if u < p_human:
            p.observe_outcome(core.OUTCOME_HUMAN, rng.lognormvariate(math.log(10.0), 0.4))
        elif u < p_human + p_machine:
            p.observe_outcome(core.OUTCOME_MACHINE, rng.uniform(3.0, 15.0))
        elif u < p_human + p_machine + p_busy:
            p.observe_outcome(core.OUTCOME_BUSY, 0.0)
        else:
            p.observe_outcome(core.OUTCOME_NO_ANSWER, 25.0)
        assert p.p_human() == max(p.estimates()["p_human_short"], p.estimates()["p_human_long"])


def test_estimates_converge_and_follow_a_change(pacing_impl: ModuleType) -> None:
    rng = random.Random(20240611)
    p = pacing_impl.Pacer(p_human=0.6, p_machine=0.1, p_busy=0.1, ring_s=(4.0, 1.0))
    _feed(p, pacing_impl, rng, 4000, 0.3)
    est = p.estimates()
    assert set(est) == {"p_human", "p_human_short", "p_human_long", "p_machine", "p_busy", "ring_s", "talk_s",
                        "wrap_s"}
    # tolerances ~3 sd of the exponentially weighted estimates (1/400: 0.016; 1/60: 0.042)
    assert est["p_human_long"] == pytest.approx(0.3, abs=0.05)
    assert est["p_human_short"] == pytest.approx(0.3, abs=0.13)
    assert est["p_machine"] == pytest.approx(0.15, abs=0.04)
    assert est["p_busy"] == pytest.approx(0.05, abs=0.02)
    # lognormal(log 10, 0.4) has mean 10 * exp(0.08) = 10.83
    assert est["ring_s"] == pytest.approx(10.0 * math.exp(0.08), rel=0.1)
    assert p.outcomes_seen == 4000

    _feed(p, pacing_impl, rng, 300, 0.15)  # the answer rate halves
    est = p.estimates()
    assert est["p_human_short"] == pytest.approx(0.15, abs=0.1)  # the short estimate has followed
    assert est["p_human_long"] > 0.18  # the long one is still on its way down (expected 0.22)
    assert p.p_human() == est["p_human"] >= est["p_human_long"]  # so a fall is believed slowly
    _feed(p, pacing_impl, rng, 3000, 0.15)
    assert p.p_human() == pytest.approx(0.15, abs=0.1)
    assert p.estimates()["p_human_long"] == pytest.approx(0.15, abs=0.05)


def test_rise_is_believed_at_once(pacing_impl: ModuleType) -> None:
    rng = random.Random(5)
    p = pacing_impl.Pacer(p_human=0.15)
    _feed(p, pacing_impl, rng, 3000, 0.15)
    _feed(p, pacing_impl, rng, 300, 0.4, 0.1, 0.05)
    assert p.estimates()["p_human_short"] == pytest.approx(0.4, abs=0.14)
    assert p.p_human() == p.estimates()["p_human_short"]


def test_durations_learnt(pacing_impl: ModuleType) -> None:
    rng = random.Random(3)
    p = pacing_impl.Pacer()
    for _ in range(3000):
        p.observe_talk(rng.lognormvariate(math.log(200.0), 0.5))
        p.observe_wrap(rng.lognormvariate(math.log(30.0), 0.2))
    est = p.estimates()
    assert est["talk_s"] == pytest.approx(200.0 * math.exp(0.125), rel=0.1)
    assert est["wrap_s"] == pytest.approx(30.0 * math.exp(0.02), rel=0.05)
    p.observe_talk(0.0)  # a non-positive duration counts as a very short one, not an error
    p.observe_wrap(-1.0)


# ------------------------------------------------------------------ expected_free

def test_expected_free(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer(talk_s=(120.0, 60.0), wrap_s=(15.0, 1.0))
    assert p.expected_free(5.0, 3, [], []) == 3.0  # an idle agent counts 1
    assert p.expected_free(5.0, 0, [], [14.9]) == pytest.approx(1.0, abs=0.01)  # a wrap-up almost done
    assert p.expected_free(5.0, 0, [], [0.0]) == pytest.approx(0.0, abs=1e-6)  # a wrap-up just started
    assert p.expected_free(5.0, 0, [0.0], []) == pytest.approx(0.0, abs=0.01)  # a talk just started
    short_wrap = pacing_impl.Pacer(talk_s=(120.0, 60.0), wrap_s=(1.0, 0.1))
    assert short_wrap.expected_free(5.0, 0, [0.0], []) == pytest.approx(0.0, abs=0.01)
    # further out, more agents are free; a long talk is more likely to end soon than a fresh one (lognormal)
    talks, wraps = [0.0, 30.0, 90.0, 300.0], [1.0, 8.0, 14.0]
    values = [p.expected_free(h, 1, talks, wraps) for h in (1.0, 5.0, 20.0, 60.0, 600.0)]
    assert values == sorted(values)
    assert 1.0 <= values[0] and values[-1] <= 1.0 + len(talks) + len(wraps) + 1e-9
    assert p.expected_free(30.0, 0, [300.0], []) > p.expected_free(30.0, 0, [0.0], [])


# ------------------------------------------------------------------ decisions

def test_max_lines_zero(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer()
    assert p.lines_to_dial(50, [], [], [], 0, GRACE, 0.02, 0) == 0
    assert p.lines_to_dial(50, [], [], [], 0, GRACE, 0.02, -3) == 0


def test_many_idle_agents_dial_well_over_their_number(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer(p_human=0.3)
    lines = p.lines_to_dial(50, [], [], [], 0, GRACE, 0.02, 1000)
    assert 100 <= lines < 1000
    assert p.lines_to_dial(50, [], [], [], 0, GRACE, 0.02, 60) == 60  # capped by max_lines


def test_nothing_free_dials_nothing(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer()
    assert p.lines_to_dial(0, [1.0] * 10, [], [], 0, GRACE, 0.02, 100) == 0
    assert p.lines_to_dial(3, [], [], [], 5, GRACE, 0.02, 100) == 0  # people waiting claim the idle agents


def test_abandon_probability_increases_with_n(pacing_impl: ModuleType) -> None:
    p = pacing_impl.Pacer()
    for args in ((5, [], [], [], 0), (2, [60.0] * 20, [3.0] * 5, [2.0] * 4, 0), (10, [200.0] * 5, [], [5.0], 1)):
        probs = [p.abandon_probability(n, *args, GRACE) for n in range(1, 40)]
        assert all(a < b for a, b in pairwise(probs)), args
        assert all(0.0 <= x <= 1.0 for x in probs)


def test_lines_match_abandon_probability(pacing_impl: ModuleType) -> None:
    """``lines_to_dial`` is the largest n whose abandon_probability is at most the threshold."""
    p = pacing_impl.Pacer()
    args = (8, [30.0, 100.0, 250.0], [2.0, 10.0], [1.0, 6.0], 0)
    lines = p.lines_to_dial(*args, GRACE, 0.03, 500)
    assert lines > 0
    assert p.abandon_probability(lines, *args, GRACE) <= 0.03 < p.abandon_probability(lines + 1, *args, GRACE)


elapsed_st = st.floats(0.0, 600.0, allow_nan=False)
state_st = st.fixed_dictionaries({
    "idle": st.integers(0, 30),
    "talk": st.lists(elapsed_st, max_size=40),
    "wrap": st.lists(st.floats(0.0, 40.0, allow_nan=False), max_size=20),
    "ringing": st.lists(st.floats(0.0, 40.0, allow_nan=False), max_size=15),
    "waiting": st.integers(0, 5),
    "grace": st.sampled_from([0.0, 1.0, 2.0, 5.0]),
})
priors_st = st.fixed_dictionaries({
    "p_human": st.floats(0.02, 0.7),
    "p_machine": st.floats(0.0, 0.2),
    "p_busy": st.floats(0.0, 0.1),
    "ring_s": st.tuples(st.floats(1.0, 20.0), st.floats(0.0, 10.0)),
    "talk_s": st.tuples(st.floats(10.0, 400.0), st.floats(0.0, 200.0)),
    "wrap_s": st.tuples(st.floats(1.0, 60.0), st.floats(0.0, 20.0)),
    "busy_s": st.floats(0.0, 10.0),
    "no_answer_s": st.floats(5.0, 40.0),
})


def _duration(high: float) -> st.SearchStrategy[float]:
    # 0 (floored to 1 ms by the pacer) or at least 10 ms: a duration of 1e-300 s makes the lognormal fit's variance
    # so large that its mean overflows (OverflowError in both implementations)
    return st.one_of(st.just(0.0), st.floats(0.01, high))


observations_st = st.lists(st.tuples(st.integers(0, 3), _duration(40.0), _duration(600.0), _duration(60.0)),
                           max_size=30)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _pacer(core: ModuleType, priors: dict[str, Any], observations: list[tuple[int, float, float, float]]) -> Any:
    p = core.Pacer(**priors)
    for outcome, ring, talk, wrap in observations:
        p.observe_outcome(outcome, ring)
        p.observe_talk(talk)
        p.observe_wrap(wrap)
    return p


@SETTINGS
@given(priors=priors_st, observations=observations_st, s=state_st, threshold=st.floats(0.001, 0.06))
def test_lines_to_dial_is_monotone(pacing_impl: ModuleType, priors: dict[str, Any],
                                   observations: list[Any], s: dict[str, Any], threshold: float) -> None:
    """More idle agents -> at least as many lines; a higher threshold -> at least as many; one more ringing call ->
    no more lines (for thresholds under 1/QUANTILES / 2, where every quantile's margin is positive)."""
    p = _pacer(pacing_impl, priors, observations)

    def lines(idle: int = s["idle"], ringing: list[float] = s["ringing"], thr: float = threshold) -> int:
        return int(p.lines_to_dial(idle, s["talk"], s["wrap"], ringing, s["waiting"], s["grace"], thr, 300))

    base = lines()
    assert 0 <= base <= 300
    assert lines(idle=s["idle"] + 1) >= base
    assert lines(idle=s["idle"] + 5) >= lines(idle=s["idle"] + 1)
    assert lines(thr=threshold * 1.5) >= base
    assert lines(thr=threshold / 2) <= base
    assert lines(ringing=[*s["ringing"], 0.5]) <= base
    assert lines(ringing=[*s["ringing"], 3.0, 10.0]) <= lines(ringing=[*s["ringing"], 3.0])


@SETTINGS
@given(priors=priors_st, observations=observations_st, s=state_st, threshold=st.floats(0.0, 0.5),
       max_lines=st.integers(0, 80), n=st.integers(1, 60), horizon=st.floats(0.0, 120.0),
       as_tuples=st.booleans())
def test_implementations_agree(priors: dict[str, Any], observations: list[Any], s: dict[str, Any],
                               threshold: float, max_lines: int, n: int, horizon: float, as_tuples: bool) -> None:
    """The same estimates and inputs give the same lines_to_dial, abandon_probability and expected_free (to 1e-9)
    on both implementations."""
    try:
        cores = [engine.core.load_pacing("python"), engine.core.load_pacing("cython")]
    except ImportError:
        pytest.skip("compiled pacing core not built")
    seq = tuple if as_tuples else list
    talk, wrap, ringing = seq(s["talk"]), seq(s["wrap"]), seq(s["ringing"])
    py, cy = (_pacer(core, priors, observations) for core in cores)
    for key, value in py.estimates().items():
        assert cy.estimates()[key] == pytest.approx(value, abs=1e-9, rel=1e-12), key
    assert py.outcomes_seen == cy.outcomes_seen
    args = (s["idle"], talk, wrap, ringing, s["waiting"], s["grace"])
    assert py.lines_to_dial(*args, threshold, max_lines) == cy.lines_to_dial(*args, threshold, max_lines)
    assert py.abandon_probability(n, *args) == pytest.approx(cy.abandon_probability(n, *args), abs=1e-9)
    assert py.expected_free(horizon, s["idle"], talk, wrap) == pytest.approx(
        cy.expected_free(horizon, s["idle"], talk, wrap), abs=1e-9)


def test_other_sequences_accepted(pacing_impl: ModuleType) -> None:
    """Tuples, deques and ints work as inputs (the dialer passes lists of floats)."""
    p = pacing_impl.Pacer()
    want = p.lines_to_dial(3, [60.0, 5.0], [3.0], [2.0], 0, GRACE, 0.02, 100)
    assert p.lines_to_dial(3, (60.0, 5.0), (3.0,), (2.0,), 0, GRACE, 0.02, 100) == want
    assert p.lines_to_dial(3, deque([60, 5]), deque([3]), deque([2]), 0, GRACE, 0.02, 100) == want
    assert p.abandon_probability(2, 3, (60.0, 5.0), [3.0], (), 0, GRACE) == pytest.approx(
        p.abandon_probability(2, 3, [60, 5], [3], [], 0, GRACE), abs=1e-15)


def test_absurdly_short_durations_are_floored(pacing_impl: ModuleType) -> None:
    """A wrap-up of 1e-280 s (absurd) is taken as 1 ms: the lognormal fit stays finite and the pacer decides."""
    p = pacing_impl.Pacer(wrap_s=(1.0, 0.0))
    p.observe_wrap(1e-280)
    assert math.isfinite(p.estimates()["wrap_s"])
    assert p.lines_to_dial(0, [0.0], [], [], 0, GRACE, 0.02, 10) >= 0


def test_state_round_trip_decides_the_same_in_both_implementations(pacing_impl: ModuleType) -> None:
    """A pacer rebuilt from ``state()`` (in either implementation) estimates and decides exactly as the one saved."""
    from engine.core import _pacing_py

    rng = random.Random(7)
    saved = pacing_impl.Pacer(no_answer_s=30.0)
    _feed(saved, pacing_impl, rng, 500, 0.22)
    for _ in range(40):
        saved.observe_talk(rng.lognormvariate(4.7, 0.4))
        saved.observe_wrap(12.0 + rng.random())
    state = saved.state()
    for module in (pacing_impl, _pacing_py):
        loaded = module.Pacer()
        loaded.set_state(state)
        assert loaded.state() == state
        assert loaded.estimates() == saved.estimates()
        args = (2, [30.0, 80.0, 140.0], [3.0], [1.0, 6.0, 12.0], 0, 2.0, 0.02, 40)
        assert loaded.lines_to_dial(*args) == saved.lines_to_dial(*args)


def test_state_rejects_malformed_data(pacing_impl: ModuleType) -> None:
    pacer = pacing_impl.Pacer()
    state = pacer.state()
    with pytest.raises(KeyError):
        pacer.set_state({k: v for k, v in state.items() if k != "talk"})
    with pytest.raises(ValueError):
        pacer.set_state({**state, "short": [0.1, 0.2]})
    assert pacer.state() == state  # nothing half-loaded
