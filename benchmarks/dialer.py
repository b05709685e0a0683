"""Dialer: one outbound shift per mode (progressive, power at its best safe ratio, predictive) in virtual time.

``switchboard bench dialer --scenario FILE --json`` runs the scenario's shift through the production ACD and
dialer against the simulated carrier, once per mode, in one process, and prints
``{"modes": {"progressive": {...}, "power": {...}, "predictive": {...}}, ...}``. Each mode reports at least
``occupancy``, ``abandon_rate``, ``max_hourly_abandon_rate``, ``contacts_per_agent_hour`` and
``mean_agent_wait_s``. Power mode's ratio is searched for: the largest ratio (to 0.1) whose shift keeps the
abandonment and every rolling hour at or under the cap. A PNG of occupancy and abandonment per 15 minutes of the
shift is written (``--plot``), and a progress bar runs on standard error (``--no-progress`` turns it off).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from engine import core
from engine.sim.outbound import OutboundResult, run_shift
from engine.sim.scenario import Scenario, load_scenario

DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "outbound-standard.toml"
MAX_RATIO = 12.0
"""The largest power ratio the search tries."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario file (TOML)")
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    parser.add_argument("--hours", type=float, default=None, help="shorter shift than the scenario's (smoke)")
    parser.add_argument("--plot", type=Path, default=Path("dialer-bench.png"), help="PNG to write ('' = none)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")
    parser.add_argument("--precision", type=float, default=0.1, help="power ratio search precision")


class _Progress:
    """A one-line bar on standard error; the total is in shifts simulated (estimated for the search)."""

    def __init__(self, enabled: bool, total: float) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.total = total
        self.done = 0.0
        self.label = ""
        self._drawn: tuple[int, str] = (-1, "")

    def shift(self, label: str) -> Any:
        self.label = label
        base = self.done

        def update(fraction: float) -> None:
            self.done = base + fraction
            width = 30
            filled = int(width * min(1.0, self.done / self.total))
            if self.enabled and (filled, label) != self._drawn:
                self._drawn = (filled, label)
                sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.label:<22}")
                sys.stderr.flush()

        return update

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _safe(result: OutboundResult, cap: float) -> bool:
    return result.abandon_rate <= cap and result.max_hourly_abandon_rate <= cap


def search_power(scenario: Scenario, cap: float, hours: float | None, progress: _Progress,
                 precision: float, progressive: OutboundResult | None = None,
                 ) -> tuple[OutboundResult, list[dict[str, float]]]:
    """The best safe fixed ratio on the grid 1.0 + k * ``precision``: the largest safe ratio whose next grid
    step up is unsafe (or ``MAX_RATIO``).

    Power at ratio 1.0 dials exactly as progressive does (one line per idle agent), so a ``progressive`` run
    stands for it, and it is safe. The first guess is one line per person expected (dials / people of the
    progressive run); the bracket [largest safe, smallest unsafe] then shrinks by linear interpolation of the
    margin to the cap (abandonment or worst rolling hour, whichever is higher), each guess strictly inside it, so
    the search ends in a few shifts when the margin is near linear in the ratio and is never worse than a scan.
    """
    tried: dict[float, OutboundResult] = {}
    if progressive is not None:
        tried[1.0] = progressive

    def attempt(ratio: float) -> OutboundResult:
        if ratio not in tried:
            tried[ratio] = run_shift(scenario, mode="power", power_ratio=ratio, hours=hours,
                                     progress=progress.shift(f"power x{ratio:.2f}"))
        return tried[ratio]

    def margin(ratio: float) -> float:
        result = attempt(ratio)
        return max(result.abandon_rate, result.max_hourly_abandon_rate) - cap

    def on_grid(ratio: float) -> float:
        return round(1.0 + math.floor((ratio - 1.0) / precision + 1e-9) * precision, 4)

    base = attempt(1.0)
    low, high = 1.0, None
    guess = on_grid(base.dials / base.humans) if base.humans else 2.0
    while high is None or high - low > precision + 1e-9:
        ratio = min(max(guess, round(low + precision, 4)), MAX_RATIO)
        if high is not None:
            ratio = min(ratio, round(high - precision, 4))
        if ratio <= low:
            break  # MAX_RATIO reached and safe
        if margin(ratio) <= 0:
            low = ratio
        else:
            high = ratio
        if high is None:
            guess = on_grid(low * 1.5)
        else:
            below, above = margin(low), margin(high)
            guess = on_grid(low + (high - low) * (-below) / (above - below))
    best = tried[low]
    if best.mode != "power":  # nothing above 1.0 was safe: report the ratio-1.0 run as power mode
        best = run_shift(scenario, mode="power", power_ratio=1.0, hours=hours, progress=progress.shift("power x1.00"))
    trail = [{"ratio": r, "abandon_rate": round(x.abandon_rate, 6),
              "max_hourly_abandon_rate": round(x.max_hourly_abandon_rate, 6), "occupancy": round(x.occupancy, 6)}
             for r, x in sorted(tried.items())]
    return best, trail


def plot(results: dict[str, OutboundResult], cap: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for mode, result in results.items():
        label = f"{mode} x{result.power_ratio:.2f}" if result.power_ratio else mode
        top.plot(result.series["hour"], [100 * x for x in result.series["occupancy"]], label=label)
        bottom.plot(result.series["hour"], [100 * x for x in result.series["abandon_rate"]], label=label)
    bottom.axhline(100 * cap, color="red", linestyle="--", linewidth=1, label="cap")
    top.set_ylabel("occupancy %")
    bottom.set_ylabel("abandoned % (15 min)")
    bottom.set_xlabel("hour of the shift")
    top.set_title(title)
    top.legend(loc="lower right", fontsize=8)
    bottom.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict[str, Any]:
    scenario = load_scenario(args.scenario)
    cap = scenario.abandon_target if scenario.abandon_target is not None else 0.03
    progress = _Progress(not args.no_progress, total=2 + 4)
    started = time.perf_counter()
    results: dict[str, OutboundResult] = {}
    results["progressive"] = run_shift(scenario, mode="progressive", hours=args.hours,
                                       progress=progress.shift("progressive"))
    results["power"], trail = search_power(scenario, cap, args.hours, progress, args.precision,
                                           results["progressive"])
    results["predictive"] = run_shift(scenario, mode="predictive", hours=args.hours,
                                      progress=progress.shift("predictive"))
    progress.close()
    wall = time.perf_counter() - started
    if args.plot and str(args.plot):
        plot(results, cap, args.plot, f"{scenario.name}: {scenario.agents} agents")
    predictive, power = results["predictive"], results["power"]
    return {
        "scenario": scenario.name,
        "abandon_target": cap,
        "modes": {mode: result.to_dict() for mode, result in results.items()},
        "power_search": trail,
        "predictive_over_power_occupancy": round(predictive.occupancy - power.occupancy, 6),
        "targets_met": {
            "predictive_abandon_rate": predictive.abandon_rate <= cap,
            "predictive_max_hourly_abandon_rate": predictive.max_hourly_abandon_rate <= cap,
            "predictive_ahead_of_power": predictive.occupancy > power.occupancy
            and predictive.abandon_rate <= max(cap, power.abandon_rate),
        },
        "plot": str(args.plot) if args.plot and str(args.plot) else None,
        "pacing_implementation": core.IMPLEMENTATIONS["pacing"],
        "wall_s": round(wall, 2),
    }
