"""engine.sim.distributions: the samplers' moments and the errors for bad specs."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from engine.errors import ConfigError
from engine.sim.distributions import Distribution, parse_distribution


def _draw(spec: object, n: int = 40_000, seed: int = 7) -> list[float]:
    sampler = parse_distribution(spec, "test").sampler(random.Random(seed))
    return [sampler() for _ in range(n)]


def test_fixed() -> None:
    assert _draw({"dist": "fixed", "value": 15.0}, 10) == [15.0] * 10
    assert _draw(3.0, 3) == [3.0, 3.0, 3.0]  # a plain number is fixed
    assert parse_distribution(3, "k") == Distribution.fixed(3.0)


@pytest.mark.parametrize("mean", [0.5, 8.0, 180.0])
def test_exponential_mean_and_sd(mean: float) -> None:
    xs = _draw({"dist": "exponential", "mean": mean})
    n = len(xs)
    # 5 standard errors of the mean (sd = mean): a correct sampler essentially never fails.
    assert abs(statistics.fmean(xs) - mean) <= 5 * mean / math.sqrt(n)
    assert statistics.pstdev(xs) == pytest.approx(mean, rel=0.05)
    assert min(xs) >= 0


@pytest.mark.parametrize(("mean", "sd"), [(120.0, 60.0), (8.0, 4.0), (10.0, 1.0)])
def test_lognormal_mean_and_sd_are_those_of_the_variable(mean: float, sd: float) -> None:
    xs = _draw({"dist": "lognormal", "mean": mean, "sd": sd}, n=80_000)
    assert abs(statistics.fmean(xs) - mean) <= 5 * sd / math.sqrt(len(xs))
    assert statistics.pstdev(xs) == pytest.approx(sd, rel=0.06)
    assert min(xs) > 0


def test_lognormal_with_zero_sd_is_fixed() -> None:
    assert _draw({"dist": "lognormal", "mean": 5.0, "sd": 0.0}, 5) == [5.0] * 5


def test_seeded() -> None:
    spec = {"dist": "lognormal", "mean": 120.0, "sd": 60.0}
    assert _draw(spec, 100, seed=3) == _draw(spec, 100, seed=3)
    assert _draw(spec, 100, seed=3) != _draw(spec, 100, seed=4)


def test_round_trip_to_spec() -> None:
    for spec in ({"dist": "fixed", "value": 1.0}, {"dist": "exponential", "mean": 2.0},
                 {"dist": "lognormal", "mean": 3.0, "sd": 1.0}):
        assert parse_distribution(spec, "k").to_spec() == spec


@pytest.mark.parametrize(("spec", "message"), [
    ({"mean": 3}, r"talk_s: missing 'dist'"),
    ({"dist": "gamma", "mean": 3}, r"talk_s\.dist: unknown distribution 'gamma'"),
    ({"dist": "exponential"}, r"talk_s\.mean: missing"),
    ({"dist": "lognormal", "mean": 3}, r"talk_s\.sd: missing"),
    ({"dist": "exponential", "mean": -1}, r"talk_s\.mean: expected a finite number >= 0"),
    ({"dist": "exponential", "mean": "3"}, r"talk_s\.mean: expected a number"),
    ({"dist": "fixed", "value": 1, "mean": 2}, r"talk_s\.mean: not a parameter of a fixed"),
    ({"dist": "lognormal", "mean": 0, "sd": 1}, r"talk_s\.mean: a lognormal needs mean > 0"),
    ("slow", r"talk_s: expected a number or a table"),
    (True, r"talk_s: expected a number or a table"),
    (-2.0, r"talk_s: expected a finite number >= 0"),
])
def test_bad_specs_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_distribution(spec, "f.toml: [timing] talk_s")
