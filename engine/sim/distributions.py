"""Seeded samplers for the time distributions used by scenarios and the simulator.

A distribution is written in a scenario as an inline table, or as a plain number meaning a fixed value::

    talk_s = { dist = "lognormal", mean = 120.0, sd = 60.0 }
    ring_s = { dist = "exponential", mean = 8.0 }
    wrap_s = { dist = "fixed", value = 15.0 }
    busy_s = 3.0

``mean`` and ``sd`` of the lognormal are those of the lognormal variable itself (not of the underlying normal):
``sigma**2 = ln(1 + sd**2 / mean**2)``, ``mu = ln(mean) - sigma**2 / 2``.

Samplers take the ``random.Random`` they draw from: randomness is injected, never global, so a run is a function of
its seed. ``Distribution.sampler(rng)`` returns a zero-argument callable bound to that generator: the fast path the
simulator uses per call.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

DISTRIBUTIONS: tuple[str, ...] = ("fixed", "exponential", "lognormal")
_KEYS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
}


@dataclass(frozen=True, slots=True)
class Distribution:
    """A non-negative time distribution: ``kind`` is one of ``DISTRIBUTIONS``; ``mean`` is its mean, ``sd`` its
    standard deviation (0 for fixed, ``mean`` for exponential)."""

    kind: str
    mean: float
    sd: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {self.kind!r}; expected one of {', '.join(DISTRIBUTIONS)}")
        if not (math.isfinite(self.mean) and self.mean >= 0):
            raise ValueError(f"mean must be a finite number >= 0, got {self.mean!r}")
        if self.kind == "exponential":
            object.__setattr__(self, "sd", self.mean)
        if not (math.isfinite(self.sd) and self.sd >= 0):
            raise ValueError(f"sd must be a finite number >= 0, got {self.sd!r}")
        if self.kind == "lognormal" and self.mean <= 0:
            raise ValueError(f"a lognormal needs mean > 0, got {self.mean!r}")

    @classmethod
    def fixed(cls, value: float) -> Distribution:
        return cls("fixed", float(value), 0.0)

    @classmethod
    def exponential(cls, mean: float) -> Distribution:
        return cls("exponential", float(mean), float(mean))

    @classmethod
    def lognormal(cls, mean: float, sd: float) -> Distribution:
        return cls("lognormal", float(mean), float(sd))

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A callable drawing one value per call from ``rng``."""
        mean = self.mean
        if self.kind == "fixed" or (self.kind == "lognormal" and self.sd == 0.0):
            return lambda: mean
        if self.kind == "exponential":
            if mean == 0.0:
                return lambda: 0.0
            uniform = rng.random
            log = math.log
            return lambda: -mean * log(1.0 - uniform())
        sigma2 = math.log1p((self.sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2.0
        sigma = math.sqrt(sigma2)
        lognormvariate = rng.lognormvariate
        return lambda: lognormvariate(mu, sigma)

    def sample(self, rng: random.Random) -> float:
        """One value (convenient, slower than a bound ``sampler``)."""
        return self.sampler(rng)()

    def to_spec(self) -> dict[str, Any]:
        """The scenario form of this distribution (inverse of ``parse_distribution``)."""
        if self.kind == "fixed":
            return {"dist": "fixed", "value": self.mean}
        if self.kind == "exponential":
            return {"dist": "exponential", "mean": self.mean}
        return {"dist": "lognormal", "mean": self.mean, "sd": self.sd}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{where}: expected a finite number >= 0, got {value!r}")
    return number


def parse_distribution(spec: Any, key: str) -> Distribution:
    """Turn a scenario value (a number, or a table with ``dist``) into a ``Distribution``.

    ``key`` names the value in error messages (e.g. ``"outbound-small.toml: [timing] talk_s"``); every error is a
    ``ConfigError`` that starts with it.
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Distribution.fixed(_number(spec, key))
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{key}: expected a number or a table like {{ dist = \"exponential\", mean = 60 }}, "
                          f"got {spec!r}")
    kind = spec.get("dist")
    if kind is None:
        raise ConfigError(f"{key}: missing 'dist' (one of {', '.join(DISTRIBUTIONS)})")
    if kind not in _KEYS:
        raise ConfigError(f"{key}.dist: unknown distribution {kind!r}; expected one of {', '.join(DISTRIBUTIONS)}")
    wanted = _KEYS[kind]
    for name in spec:
        if name != "dist" and name not in wanted:
            raise ConfigError(f"{key}.{name}: not a parameter of a {kind} distribution (it takes {', '.join(wanted)})")
    values = {}
    for name in wanted:
        if name not in spec:
            raise ConfigError(f"{key}.{name}: missing; a {kind} distribution needs {', '.join(wanted)}")
        values[name] = _number(spec[name], f"{key}.{name}")
    if kind == "fixed":
        return Distribution.fixed(values["value"])
    if kind == "exponential":
        return Distribution.exponential(values["mean"])
    if values["mean"] <= 0:
        raise ConfigError(f"{key}.mean: a lognormal needs mean > 0, got {spec['mean']!r}")
    return Distribution.lognormal(values["mean"], values["sd"])
