"""The predictive pacer's arithmetic: online estimates and how many lines to dial now (pure-Python reference).

``_pacing_c.pyx`` is the compiled twin with the identical API; ``engine.core`` picks one. This file is the source
of truth for readers: every formula is here, in plain Python.

Theory of operation
-------------------
A dial placed now is answered by a person after a ring time ``R`` (lognormal, learnt online from answered calls)
with probability ``p_human``. That person is abandoned if no agent is free within the grace ``g`` (2 s) of the
answer. Agents become free as their calls end: an agent ``e`` seconds into a talk frees after the remaining talk
(the talk-time lognormal conditioned on lasting more than ``e``) plus the mean wrap-up; an agent in wrap-up frees
when its wrap-up ends. Calls already ringing bring people who will claim agents first (first answered, first
served). So at a candidate answer time ``R``::

    margin(R) = idle + sum_i P(agent i free by R + g) - waiting - sum_j P(call j answered by a person by R)
                - (n - 1) * p_human * F_R(R)                      # the other new dials placed with it

and the ``n``-th new dial is abandoned with probability ``P(margin(R) < 1)``, taken over ``R``'s distribution
(``K`` quantile points) with a normal approximation of the margin (the variance is the sum of the Bernoulli
variances). ``lines_to_dial`` returns the largest ``n`` whose *marginal* abandonment probability is at most
``threshold``. The threshold is the caller's control knob: the dialer's abandonment controller moves it so that
the realised rate settles under the campaign's cap (``engine.dialer``).

Estimates (``observe_*``) are exponentially weighted: outcome fractions over two horizons (the pacer uses the
larger person-rate of the two, so a rise in the answer rate is believed at once and a fall slowly: both errors
then err on the side of fewer dials); durations as moments of their logarithm (a lognormal fit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["OUTCOME_BUSY", "OUTCOME_HUMAN", "OUTCOME_MACHINE", "OUTCOME_NO_ANSWER", "QUANTILES", "Pacer"]

OUTCOME_HUMAN, OUTCOME_MACHINE, OUTCOME_BUSY, OUTCOME_NO_ANSWER = range(4)

QUANTILES = 8
"""Points of the ring-time distribution the abandonment probability is averaged over."""

_SQRT2 = math.sqrt(2.0)
_MIN_SIGMA = 0.05
_MIN_VAR = 0.25  # floor of the margin's variance: an exact count still has its timing uncertain


def _probit(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    if p > 1.0 - 0.02425:
        return -_probit(1.0 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)


_Z = tuple(_probit((k + 0.5) / QUANTILES) for k in range(QUANTILES))


def _lognormal_cdf(x: float, mu: float, sigma: float) -> float:
    if x <= 0.0:
        return 0.0
    return 0.5 * math.erfc(-(math.log(x) - mu) / (sigma * _SQRT2))


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / _SQRT2)


class _LogMoments:
    """Exponentially weighted mean and variance of ``log(x)``: a lognormal fit that follows a drift."""

    __slots__ = ("alpha", "mean", "var", "n")

    def __init__(self, mean_s: float, sd_s: float, alpha: float) -> None:
        self.alpha = alpha
        self.var = math.log(1.0 + (sd_s / mean_s) ** 2)
        self.mean = math.log(mean_s) - self.var / 2.0
        self.n = 0

    def add(self, x: float) -> None:
        if x < 1e-3:
            x = 1e-3
        y = math.log(x)
        self.n += 1
        a = max(self.alpha, 1.0 / (self.n + 1))  # the prior counts as one observation
        d = y - self.mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)

    def sigma(self) -> float:
        return max(_MIN_SIGMA, math.sqrt(self.var))

    def mean_s(self) -> float:
        return math.exp(self.mean + self.var / 2.0)


class Pacer:
    """Online estimates of one campaign's dials and agents, and the dial decision. See the module docstring.

    Priors (used until observations replace them): ``p_human``, ``p_machine``, ``p_busy`` of a dial's outcome;
    ``ring_s`` (mean, sd) until a person answers; ``talk_s`` and ``wrap_s`` (mean, sd); ``busy_s`` when a busy
    signal comes; ``no_answer_s``: the ring timeout. ``short_alpha`` / ``long_alpha``: weights of one outcome
    in the two outcome estimates; ``duration_alpha``: of one duration.
    """

    def __init__(self, *, p_human: float = 0.3, p_machine: float = 0.15, p_busy: float = 0.05,
                 ring_s: tuple[float, float] = (8.0, 4.0), talk_s: tuple[float, float] = (120.0, 60.0),
                 wrap_s: tuple[float, float] = (15.0, 1.0), busy_s: float = 3.0, no_answer_s: float = 25.0,
                 short_alpha: float = 1.0 / 60.0, long_alpha: float = 1.0 / 400.0,
                 duration_alpha: float = 1.0 / 200.0) -> None:
        if not (0.0 < p_human <= 1.0) or p_machine < 0 or p_busy < 0 or p_human + p_machine + p_busy > 1.0 + 1e-9:
            raise ValueError("outcome priors must be probabilities adding up to at most 1, with p_human > 0")
        for name, (m, s) in (("ring_s", ring_s), ("talk_s", talk_s), ("wrap_s", wrap_s)):
            if not (m > 0.0 and s >= 0.0):
                raise ValueError(f"{name}: mean must be > 0 and sd >= 0")
        self._short = [p_human, p_machine, p_busy]
        self._long = [p_human, p_machine, p_busy]
        self.short_alpha = short_alpha
        self.long_alpha = long_alpha
        self._ring = _LogMoments(ring_s[0], ring_s[1], duration_alpha)
        self._talk = _LogMoments(talk_s[0], talk_s[1], duration_alpha)
        self._wrap = _LogMoments(wrap_s[0], wrap_s[1], duration_alpha)
        self.busy_s = busy_s
        self.no_answer_s = no_answer_s
        self.outcomes_seen = 0

    # ------------------------------------------------------------------------------------------- estimates ----

    def observe_outcome(self, outcome: int, ring_s: float) -> None:
        """One dial ended: ``outcome`` is an ``OUTCOME_*`` code; ``ring_s`` the time from dial to answer (used for
        a person's answer only)."""
        if not 0 <= outcome <= OUTCOME_NO_ANSWER:
            raise ValueError(f"unknown outcome code {outcome}")
        self.outcomes_seen += 1
        for est, alpha in ((self._short, self.short_alpha), (self._long, self.long_alpha)):
            a = max(alpha, 1.0 / (self.outcomes_seen + 1))
            for k in range(3):
                est[k] += a * ((1.0 if outcome == k else 0.0) - est[k])
        if outcome == OUTCOME_HUMAN:
            self._ring.add(ring_s)

    def observe_talk(self, seconds: float) -> None:
        """A conversation with a person lasted ``seconds`` (connect to hang-up)."""
        self._talk.add(seconds)

    def observe_wrap(self, seconds: float) -> None:
        """An agent's wrap-up after an outbound call lasted ``seconds``."""
        self._wrap.add(seconds)

    def estimates(self) -> dict[str, float]:
        """The current estimates, for figures and tests."""
        return {"p_human": self.p_human(), "p_human_short": self._short[0], "p_human_long": self._long[0],
                "p_machine": self._long[1], "p_busy": self._long[2], "ring_s": self._ring.mean_s(),
                "talk_s": self._talk.mean_s(), "wrap_s": self._wrap.mean_s()}

    def p_human(self) -> float:
        """The person-answer rate the pacer plans with: the larger of the short and long estimates."""
        return max(self._short[0], self._long[0])

    def state(self) -> dict[str, Any]:
        """Everything the pacer has learnt and is set to, as plain data: ``set_state`` on a pacer of either
        implementation makes it decide exactly as this one does."""
        return {"short": list(self._short), "long": list(self._long),
                "ring": [self._ring.alpha, self._ring.mean, self._ring.var, self._ring.n],
                "talk": [self._talk.alpha, self._talk.mean, self._talk.var, self._talk.n],
                "wrap": [self._wrap.alpha, self._wrap.mean, self._wrap.var, self._wrap.n],
                "short_alpha": self.short_alpha, "long_alpha": self.long_alpha, "busy_s": self.busy_s,
                "no_answer_s": self.no_answer_s, "outcomes_seen": self.outcomes_seen}

    def set_state(self, state: dict[str, Any]) -> None:
        """Load what ``state()`` returned (``KeyError`` / ``ValueError`` if it is not such data)."""
        short, long = [float(x) for x in state["short"]], [float(x) for x in state["long"]]
        if len(short) != 3 or len(long) != 3:
            raise ValueError("pacer state: short and long hold three rates each")
        moments = []
        for name in ("ring", "talk", "wrap"):
            alpha, mean, var, n = state[name]
            moments.append((float(alpha), float(mean), float(var), int(n)))
        self._short, self._long = short, long
        for target, (alpha, mean, var, n) in zip((self._ring, self._talk, self._wrap), moments, strict=True):
            target.alpha, target.mean, target.var, target.n = alpha, mean, var, n
        self.short_alpha = float(state["short_alpha"])
        self.long_alpha = float(state["long_alpha"])
        self.busy_s = float(state["busy_s"])
        self.no_answer_s = float(state["no_answer_s"])
        self.outcomes_seen = int(state["outcomes_seen"])

    # ------------------------------------------------------------------------------------------- decisions ----

    def expected_free(self, horizon_s: float, idle: int, talk_elapsed: Sequence[float],
                      wrap_elapsed: Sequence[float]) -> float:
        """Expected number of agents free ``horizon_s`` from now: ``idle`` now, plus every talking agent (by
        seconds into its talk) and wrapping agent (by seconds into its wrap-up) whose work ends by then."""
        total = float(idle)
        for e in talk_elapsed:
            total += self._talk_done(e, horizon_s)
        for w in wrap_elapsed:
            total += self._wrap_done(w, horizon_s)
        return total

    def abandon_probability(self, n: int, idle: int, talk_elapsed: Sequence[float], wrap_elapsed: Sequence[float],
                            ringing_elapsed: Sequence[float], waiting: int, grace_s: float) -> float:
        """Probability that the ``n``-th new dial placed now (n >= 1), if a person answers it, finds no agent
        within ``grace_s``: see the module docstring."""
        if n < 1:
            raise ValueError("n counts from 1")
        probabilities = self._margins(idle, talk_elapsed, wrap_elapsed, ringing_elapsed, waiting, grace_s)
        return self._abandon(probabilities, n)

    def lines_to_dial(self, idle: int, talk_elapsed: Sequence[float], wrap_elapsed: Sequence[float],
                      ringing_elapsed: Sequence[float], waiting: int, grace_s: float, threshold: float,
                      max_lines: int) -> int:
        """How many new dials to place now, at most ``max_lines``: the largest ``n`` whose marginal abandonment
        probability (``abandon_probability(n, ...)``) is at most ``threshold``.

        ``idle``: agents free and not claimed; ``talk_elapsed`` / ``wrap_elapsed``: seconds into the talk /
        wrap-up of each busy agent of the campaign (agents busy with inbound work are not passed: they are not
        available); ``ringing_elapsed``: seconds since each unanswered dial was placed; ``waiting``: people
        answered and still waiting for an agent.
        """
        if max_lines <= 0:
            return 0
        margins = self._margins(idle, talk_elapsed, wrap_elapsed, ringing_elapsed, waiting, grace_s)
        n = 0
        while n < max_lines and self._abandon(margins, n + 1) <= threshold:
            n += 1
        return n

    # ---------------------------------------------------------------------------------------------- helpers ----

    def _talk_done(self, elapsed: float, horizon: float) -> float:
        """P(an agent ``elapsed`` s into a talk is free within ``horizon``): remaining talk + mean wrap."""
        mu, sigma = self._talk.mean, self._talk.sigma()
        survive = 1.0 - _lognormal_cdf(elapsed, mu, sigma)
        if survive < 1e-12:
            return 1.0 if horizon >= self._wrap.mean_s() else 0.0
        end = elapsed + horizon - self._wrap.mean_s()
        if end <= elapsed:
            return 0.0
        return (_lognormal_cdf(end, mu, sigma) - (1.0 - survive)) / survive

    def _wrap_done(self, elapsed: float, horizon: float) -> float:
        mu, sigma = self._wrap.mean, self._wrap.sigma()
        survive = 1.0 - _lognormal_cdf(elapsed, mu, sigma)
        if survive < 1e-12:
            return 1.0
        return (_lognormal_cdf(elapsed + horizon, mu, sigma) - (1.0 - survive)) / survive

    def _margins(self, idle: int, talk_elapsed: Sequence[float], wrap_elapsed: Sequence[float],
                 ringing_elapsed: Sequence[float], waiting: int, grace_s: float) -> list[tuple[float, float, float]]:
        """For each ring-time quantile ``R_k``: (mean margin, its variance, F_R(R_k) * p_human)."""
        p_h = self.p_human()
        p_m = self._long[1]
        p_b = self._long[2]
        mu_r, sigma_r = self._ring.mean, self._ring.sigma()
        t_max = self.no_answer_s
        out = []
        for k in range(QUANTILES):
            r = math.exp(mu_r + sigma_r * _Z[k])
            mean = float(idle - waiting)
            var = 0.0
            for e in talk_elapsed:
                q = self._talk_done(e, r + grace_s)
                mean += q
                var += q * (1.0 - q)
            for w in wrap_elapsed:
                q = self._wrap_done(w, r + grace_s)
                mean += q
                var += q * (1.0 - q)
            for e in ringing_elapsed:
                f_now = _lognormal_cdf(min(e, t_max), mu_r, sigma_r)
                still = 1.0 - (p_h + p_m) * f_now - (p_b if e >= self.busy_s else 0.0)
                if still <= 1e-9:
                    continue
                p = p_h * (_lognormal_cdf(min(e + r, t_max), mu_r, sigma_r) - f_now) / still
                if p > 1.0:
                    p = 1.0
                mean -= p
                var += p * (1.0 - p)
            out.append((mean, var, p_h * _lognormal_cdf(r, mu_r, sigma_r)))
        return out

    @staticmethod
    def _abandon(margins: list[tuple[float, float, float]], n: int) -> float:
        total = 0.0
        others = n - 1
        for mean, var, pf in margins:
            m = mean - others * pf
            v = var + others * pf * (1.0 - pf)
            if v < _MIN_VAR:
                v = _MIN_VAR
            total += _normal_cdf((0.5 - m) / math.sqrt(v))
        return total / QUANTILES
