"""Queueing theory for staffing: Erlang C (M/M/n) and Erlang A (M/M/n+M), and ``switchboard staffing``.

Notation: arrival rate ``lam`` (per second), mean handle time ``aht`` (seconds, service rate ``mu = 1/aht``),
offered traffic ``a = lam * aht`` (Erlangs), ``n`` agents, and for Erlang A the mean patience (exponential, rate
``theta = 1/patience``).

Theory of operation
-------------------
Both models are birth-death chains on the number of contacts in the system. For ``k <= n`` the stationary weights
are those of the Erlang loss system, ``a**k / k!``; above ``n`` they go on as
``w(n + j) = w(n) * prod_{i=1..j} lam / (n*mu + i*theta)`` (``theta = 0`` gives Erlang C's geometric tail).
We never form ``a**k / k!``: relative to ``w(n) = 1`` the sum of the weights below ``n`` is ``1/B(n, a) - 1`` where
``B`` is Erlang B, computed with the recursion ``1/B(k) = 1 + (k/a) / B(k-1)`` carried in logarithms, so n = 10 000
agents neither overflow nor underflow. The Erlang A tail is summed (in logarithms, rescaled by its maximum) until its
terms are below 1e-17 of the total, which is exact to double precision.

By PASTA an arrival sees the stationary distribution. ``P(wait)`` is the probability that it finds all ``n`` agents
busy. A waiting arrival that finds ``j`` others waiting ahead of it is answered after ``V = sum_{i=0..j} Exp(n*mu +
i*theta)`` (the next departure among those ahead is a service or an abandonment) unless its own patience
``tau ~ Exp(theta)`` runs out first; so ``P(answered | j) = prod_i r_i / (r_i + theta)`` with ``r_i = n*mu + i*theta``
and ``E[V; answered | j] = P(answered | j) * sum_i 1 / (r_i + theta)``. The service level (answered within ``t``,
over all arrivals) needs the distribution of ``V``: Erlang C has the closed form ``1 - C * exp(-(n*mu - lam) t)``;
for Erlang A we propagate the waiting arrival's position (a pure-death chain with killing at rate ``theta``) by
uniformization over ``[0, t]`` in slices of at most 40 expected jumps, which is exact up to the truncation (1e-16) of
each slice's Poisson series.

Definitions, shared with ``engine.stats`` so that simulation and theory compare like with like:
- ``p_wait``: P(an arrival is not answered at once) = P(wait > 0).
- ``service_level``: P(answered within ``t`` seconds), over ALL arrivals (abandoned ones count as missed).
- ``asa_s``: mean wait of the answered contacts.
- ``p_abandon``: abandoned / offered.
- ``occupancy``: carried traffic / n = lam * (1 - p_abandon) * aht / n.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import SwitchboardError

_TAIL_EPS = 1e-17
_MAX_TAIL = 5_000_000


# ------------------------------------------------------------------------------------------- Erlang B / C ----

def _log_inv_erlang_b(n: int, a: float) -> float:
    """log(1 / B(n, a)) by the recursion 1/B(k) = 1 + (k / a) / B(k-1), 1/B(0) = 1, in logs."""
    if a <= 0:
        return math.inf if n > 0 else 0.0
    log_r = 0.0
    log_a = math.log(a)
    for k in range(1, n + 1):
        # r_k = 1 + (k/a) r_{k-1}  ->  log r_k = x + log1p(exp(-x)),  x = log(k/a) + log r_{k-1}
        x = math.log(k) - log_a + log_r
        log_r = x + math.log1p(math.exp(-x)) if x > -30 else math.log1p(math.exp(x))
    return log_r


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of M/M/n/n with offered traffic ``a`` Erlangs."""
    _check_n(n)
    if a < 0:
        raise ValueError("traffic must be >= 0")
    if a == 0:
        return 0.0 if n > 0 else 1.0
    return math.exp(-_log_inv_erlang_b(n, a))


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"number of agents must be an integer >= 0, got {n!r}")


def _wait_fraction(log_inv_b: float, log_tail: float) -> float:
    """T / (R - 1 + T) with R = 1/B = exp(log_inv_b), T = exp(log_tail) (tail sum relative to w(n) = 1)."""
    if log_inv_b == 0.0:
        return 1.0
    # log(R - 1) = log R + log(1 - 1/R)
    log_r_minus_1 = log_inv_b + math.log(-math.expm1(-log_inv_b))
    x = log_r_minus_1 - log_tail
    if x > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(x))


def erlang_c(n: int, a: float) -> float:
    """P(wait > 0) in M/M/n with offered traffic ``a`` Erlangs (1.0 when ``a >= n``: the queue is unstable)."""
    _check_n(n)
    if a < 0:
        raise ValueError("traffic must be >= 0")
    if a >= n:
        return 1.0
    if a == 0:
        return 0.0
    rho = a / n
    return _wait_fraction(_log_inv_erlang_b(n, a), -math.log1p(-rho))


# ------------------------------------------------------------------------------------------------ results ----

@dataclass(frozen=True, slots=True)
class Performance:
    """Expected figures for one staffing level. Infinite values (an unstable Erlang C queue) are ``math.inf``."""

    model: str
    agents: int
    arrival_rate: float
    aht_s: float
    patience_s: float | None
    traffic_erlangs: float
    p_wait: float
    asa_s: float
    mean_wait_s: float
    service_level: float
    target_s: float
    p_abandon: float
    occupancy: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _validate(arrival_rate: float, aht_s: float, patience_s: float | None, target_s: float) -> None:
    if not (math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise SwitchboardError(f"--arrival-rate must be a finite number >= 0 per second, got {arrival_rate!r}")
    if not (math.isfinite(aht_s) and aht_s > 0):
        raise SwitchboardError(f"--aht must be a number of seconds > 0, got {aht_s!r}")
    if patience_s is not None and not (patience_s > 0):
        raise SwitchboardError(f"--patience must be a number of seconds > 0, got {patience_s!r}")
    if not (math.isfinite(target_s) and target_s >= 0):
        raise SwitchboardError(f"--target-s must be a number of seconds >= 0, got {target_s!r}")


def erlang_c_performance(n: int, arrival_rate: float, aht_s: float, target_s: float = 20.0) -> Performance:
    """Erlang C figures for ``n`` agents."""
    _validate(arrival_rate, aht_s, None, target_s)
    _check_n(n)
    a = arrival_rate * aht_s
    mu = 1.0 / aht_s
    if n == 0 or a >= n:
        inf = math.inf if arrival_rate > 0 else 0.0
        return Performance("erlang-c", n, arrival_rate, aht_s, None, a, 1.0 if arrival_rate > 0 else 0.0,
                           inf, inf, 0.0 if arrival_rate > 0 else 1.0, target_s, 0.0, 1.0 if n else 0.0)
    c = erlang_c(n, a)
    drain = n * mu - arrival_rate
    asa = c / drain
    sl = 1.0 - c * math.exp(-drain * target_s)
    return Performance("erlang-c", n, arrival_rate, aht_s, None, a, c, asa, asa, sl, target_s, 0.0, a / n)


def _erlang_a_tail(n: int, lam: float, mu: float, theta: float) -> list[float]:
    """Log weights log w(n + j), j = 0.., relative to w(n) = 1, until negligible."""
    logs = [0.0]
    log_lam = math.log(lam) if lam > 0 else -math.inf
    acc = 0.0
    peak = 0.0
    total = 1.0  # running sum relative to exp(peak)
    j = 0
    while True:
        j += 1
        acc += log_lam - math.log(n * mu + j * theta)
        logs.append(acc)
        if acc > peak:
            total = total * math.exp(peak - acc) + 1.0
            peak = acc
        else:
            term = math.exp(acc - peak)
            total += term
            # past the mode terms decrease geometrically or faster: stop when negligible
            if lam < n * mu + j * theta and term < _TAIL_EPS * total:
                break
        if j > _MAX_TAIL:
            raise SwitchboardError("--patience is too long for Erlang A at this load; use Erlang C (no --patience)")
    return logs


def erlang_a_performance(n: int, arrival_rate: float, aht_s: float, patience_s: float,
                         target_s: float = 20.0) -> Performance:
    """Erlang A (M/M/n+M) figures for ``n`` agents and exponential patience of mean ``patience_s``."""
    _validate(arrival_rate, aht_s, patience_s, target_s)
    _check_n(n)
    lam, mu, theta = arrival_rate, 1.0 / aht_s, 1.0 / patience_s
    a = lam * aht_s
    if lam == 0:
        return Performance("erlang-a", n, lam, aht_s, patience_s, 0.0, 0.0, 0.0, 0.0, 1.0, target_s, 0.0, 0.0)
    logs = _erlang_a_tail(n, lam, mu, theta)
    peak = max(logs)
    weights = [math.exp(x - peak) for x in logs]
    tail = math.fsum(weights)
    log_tail = math.log(tail) + peak
    p_wait = 1.0 if n == 0 else _wait_fraction(_log_inv_erlang_b(n, a), log_tail)
    q = [w / tail for w in weights]  # position distribution of a waiting arrival (j ahead of it)
    # Answer probability and answered-wait mass, accumulated over j.
    p_ans_w = 0.0
    wait_ans_w = 0.0
    s = 1.0
    h = 0.0
    for j, qj in enumerate(q):
        r = n * mu + j * theta
        s *= r / (r + theta)
        h += 1.0 / (r + theta)
        p_ans_w += qj * s
        wait_ans_w += qj * s * h
    p_answered = (1.0 - p_wait) + p_wait * p_ans_w
    p_abandon = p_wait * (1.0 - p_ans_w)
    asa = p_wait * wait_ans_w / p_answered if p_answered > 0 else math.inf
    # Mean wait over all arrivals (answered or abandoned) = E[queue] / lam (Little).
    mean_queue = sum(j * w for j, w in enumerate(weights)) / tail * p_wait  # E[(N - n)+]
    mean_wait = mean_queue / lam
    sl = (1.0 - p_wait) + p_wait * _answered_within(q, n * mu, theta, target_s)
    occupancy = lam * (1.0 - p_abandon) * aht_s / n if n else 0.0
    return Performance("erlang-a", n, lam, aht_s, patience_s, a, p_wait, asa, mean_wait, sl, target_s, p_abandon,
                       occupancy)


def _answered_within(q: list[float], base: float, theta: float, t: float) -> float:
    """P(answered within t | waits): uniformization of the position chain (state j = others ahead).

    From state j the arrival moves to j - 1 (or is answered from j = 0) at rate ``base + j*theta`` and abandons at
    rate ``theta``.
    """
    if t <= 0:
        return 0.0
    m = len(q)
    lam_u = base + m * theta  # >= every total exit rate base + j*theta + theta
    slices = max(1, math.ceil(lam_u * t / 40.0))
    dt = t / slices
    x = lam_u * dt
    stay = [1.0 - (base + (j + 1) * theta) / lam_u for j in range(m)]
    down = [(base + j * theta) / lam_u for j in range(m)]
    p = list(q)
    answered = 0.0
    for _ in range(slices):
        # Accumulate sum_k Pois(k; x) * p_k, where p_k is the distribution after k uniformized jumps.
        weight = math.exp(-x)
        out = [weight * v for v in p]
        ans_k = 0.0  # answered mass so far within this slice's k-step chain
        ans_out = 0.0
        k = 0
        cum = weight
        cur = p
        while 1.0 - cum > 1e-15 or k < x:
            k += 1
            nxt = [0.0] * m
            ans_k += cur[0] * down[0]
            for j in range(m):
                v = cur[j]
                if v:
                    nxt[j] += v * stay[j]
                    if j:
                        nxt[j - 1] += v * down[j]
            cur = nxt
            weight *= x / k
            cum += weight
            for j in range(m):
                out[j] += weight * cur[j]
            ans_out += weight * ans_k
            if k > 10 * x + 100:
                break
        # answered mass reached by the end of the slice = sum_k Pois(k) * (answered after k jumps); the tail
        # (probability mass beyond the last k) is below 1e-16.
        answered += ans_out + 0.0
        p = out
    return answered


def performance(n: int, arrival_rate: float, aht_s: float, patience_s: float | None = None,
                target_s: float = 20.0) -> Performance:
    """Erlang A when ``patience_s`` is given, else Erlang C."""
    if patience_s is None:
        return erlang_c_performance(n, arrival_rate, aht_s, target_s)
    return erlang_a_performance(n, arrival_rate, aht_s, patience_s, target_s)


def agents_needed(arrival_rate: float, aht_s: float, target_sl: float = 0.8, target_s: float = 20.0,
                  patience_s: float | None = None) -> int:
    """The fewest agents whose service level (answered within ``target_s`` over all arrivals) is >= target."""
    _validate(arrival_rate, aht_s, patience_s, target_s)
    if not (0 < target_sl < 1):
        raise SwitchboardError(f"--target-sl must be strictly between 0 and 1, got {target_sl!r}")
    if arrival_rate == 0:
        return 0
    a = arrival_rate * aht_s

    def meets(n: int) -> bool:
        return performance(n, arrival_rate, aht_s, patience_s, target_s).service_level >= target_sl

    # The service level grows with n: find a level that meets the target, then bisect below it.
    lo = 0 if patience_s is not None else math.floor(a)  # known not to meet (Erlang C needs n > a)
    hi = max(lo + 1, math.ceil(a) + 1)
    while not meets(hi):
        lo, hi = hi, hi + max(1, hi - lo) * 2
        if hi > 10 * a + 1000:
            raise SwitchboardError("--target-sl cannot be reached (more than 10x the traffic in agents)")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi


# ---------------------------------------------------------------------------------------------- command ----

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``switchboard staffing``."""
    parser.add_argument("--arrival-rate", type=float, required=True, metavar="PER_S", help="arrivals per second")
    parser.add_argument("--aht", type=float, required=True, metavar="S", help="mean handle time, seconds")
    parser.add_argument("--patience", type=float, default=None, metavar="S",
                        help="mean patience, seconds (exponential): Erlang A; without it Erlang C (nobody abandons)")
    parser.add_argument("--target-sl", type=float, default=0.8, metavar="FRACTION",
                        help="service level goal: fraction answered within --target-s (default 0.8)")
    parser.add_argument("--target-s", type=float, default=20.0, metavar="S",
                        help="service level threshold, seconds (default 20)")
    parser.add_argument("--agents", type=int, default=None, metavar="N",
                        help="evaluate this many agents instead of finding the number needed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def compute(args: argparse.Namespace) -> dict[str, Any]:
    """The figures ``run`` prints, as a dict (``None`` for infinite values)."""
    _validate(args.arrival_rate, args.aht, args.patience, args.target_s)
    if not (0 < args.target_sl < 1):
        raise SwitchboardError(f"--target-sl must be strictly between 0 and 1, got {args.target_sl!r}")
    if args.agents is not None and args.agents < 0:
        raise SwitchboardError(f"--agents must be >= 0, got {args.agents!r}")
    needed = agents_needed(args.arrival_rate, args.aht, args.target_sl, args.target_s, args.patience)
    n = needed if args.agents is None else args.agents
    perf = performance(n, args.arrival_rate, args.aht, args.patience, args.target_s)
    out = perf.to_dict()
    out["target_sl"] = args.target_sl
    out["agents_needed"] = needed
    out["meets_target"] = perf.service_level >= args.target_sl
    return out


def run(args: argparse.Namespace) -> int:
    out = compute(args)
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 0

    def fmt(value: Any, spec: str) -> str:
        return "inf" if value is None else format(value, spec)

    model = "Erlang A (M/M/n+M)" if out["model"] == "erlang-a" else "Erlang C (M/M/n)"
    rows = [
        ("model", model),
        ("arrival rate", f"{out['arrival_rate']:g} /s ({out['arrival_rate'] * 3600:g} /h)"),
        ("handle time", f"{out['aht_s']:g} s"),
        ("patience", "none (nobody abandons)" if out["patience_s"] is None else f"{out['patience_s']:g} s"),
        ("traffic", f"{out['traffic_erlangs']:.2f} Erlangs"),
        ("agents needed", f"{out['agents_needed']} (for {out['target_sl']:.0%} within {out['target_s']:g} s)"),
        ("agents", f"{out['agents']}"),
        ("P(wait)", fmt(out["p_wait"], ".4f")),
        ("ASA", fmt(out["asa_s"], ".1f") + " s"),
        (f"service level {out['target_s']:g} s", fmt(out["service_level"], ".1%")),
        ("abandoned", fmt(out["p_abandon"], ".2%")),
        ("occupancy", fmt(out["occupancy"], ".1%")),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
