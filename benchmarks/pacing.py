"""Pacing-core benchmark: nanoseconds per ``Pacer.lines_to_dial`` decision, compiled core vs pure-Python reference.

The timed call is one predictive-dialer decision of a mid-sized campaign: 2 idle agents, 45 talking (60 s into
their calls), 30 in wrap-up (3 s in), 3 dials ringing (2 s), nobody waiting, a 2 s grace, a 0.02 marginal
abandonment threshold, at most 100 lines: ``lines_to_dial(2, [60.0]*45, [3.0]*3, [2.0]*30, 0, 2.0, 0.02, 100)``
(the cost is the QUANTILES x 78 margin terms; the answer is 0 lines). A second scenario, ``many_lines`` (50 idle
agents and nothing else), measures the other half of the work: ~150 evaluations of the abandonment probability.
Each figure is the best of several timed chunks (least disturbed by the rest of the machine), the median beside it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import ModuleType
from typing import Any

import engine.core

SCENARIOS: dict[str, tuple[Any, ...]] = {
    "mid_campaign": (2, [60.0] * 45, [3.0] * 3, [2.0] * 30, 0, 2.0, 0.02, 100),
    "many_lines": (50, [], [], [], 0, 2.0, 0.02, 1000),
}
MAIN = "mid_campaign"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decisions", type=int, default=2000,
                        help="lines_to_dial calls timed on the compiled core (default 2000)")
    parser.add_argument("--python-decisions", type=int, default=None,
                        help="calls timed on the reference (default: decisions / 10, at least 20)")
    parser.add_argument("--json", action="store_true", help="print JSON (the CLI does)")


def _time(core: ModuleType, args: tuple[Any, ...], n: int, chunks: int) -> dict[str, Any]:
    pacer = core.Pacer()
    lines_to_dial = pacer.lines_to_dial
    lines = lines_to_dial(*args)  # warm up, and the answer
    size = max(1, n // chunks)
    per_chunk: list[float] = []
    for _ in range(0, n, size):
        t = time.perf_counter_ns()
        for _ in range(size):
            lines_to_dial(*args)
        per_chunk.append((time.perf_counter_ns() - t) / size)
    return {"ns_per_decision": round(min(per_chunk), 1), "median_ns_per_decision": round(statistics.median(per_chunk), 1),
            "decisions": size * len(per_chunk), "lines": lines}


def run(decisions: int | argparse.Namespace = 2000) -> dict[str, Any]:
    """Time ``lines_to_dial`` on both implementations. ``decisions`` is the number of compiled calls (or the CLI's
    parsed arguments); the reference gets a tenth of them."""
    python_decisions = None
    if isinstance(decisions, argparse.Namespace):
        python_decisions = decisions.python_decisions
        count = int(decisions.decisions)
    else:
        count = decisions
    n = max(1, count)
    n_py = python_decisions or max(20, n // 10)
    try:
        cy_core: ModuleType | None = engine.core.load_pacing("cython")
    except ImportError:
        cy_core = None
    py_core = engine.core.load_pacing("python")
    out: dict[str, Any] = {"decisions": n, "python_decisions": n_py,
                           "selected_by_default": engine.core.IMPLEMENTATIONS["pacing"], "scenarios": {}}
    for name, args in SCENARIOS.items():
        py = _time(py_core, args, n_py, 10)
        row: dict[str, Any] = {"python": py}
        if cy_core is not None:
            cy = _time(cy_core, args, n, 20)
            row["cython"] = cy
            row["ratio_python_over_cython"] = round(py["ns_per_decision"] / cy["ns_per_decision"], 2)
            row["same_lines"] = py["lines"] == cy["lines"]
        out["scenarios"][name] = row
    main = out["scenarios"][MAIN]
    out["python_ns_per_decision"] = main["python"]["ns_per_decision"]
    out["cython_ns_per_decision"] = main["cython"]["ns_per_decision"] if cy_core is not None else None
    out["ratio_python_over_cython"] = main.get("ratio_python_over_cython")
    return out


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
