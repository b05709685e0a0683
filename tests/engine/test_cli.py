"""The ``switchboard`` command as a user runs it: bad input is one clear line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def switchboard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.mark.parametrize(("args", "names"), [
    (("staffing", "--arrival-rate", "-1", "--aht", "180"), "--arrival-rate"),
    (("serve", "--config", "/nonexistent/center.toml"), "/nonexistent/center.toml"),
    (("simulate", "inbound", "--agents", "5", "--arrival-rate", "0.01", "--aht", "-3", "--hours", "1"), "--aht"),
])
def test_bad_input_is_one_line_naming_the_field(args: tuple[str, ...], names: str) -> None:
    result = switchboard(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert names in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_command_has_help() -> None:
    for args in (("--help",), ("serve", "--help"), ("staffing", "--help"), ("simulate", "inbound", "--help"),
                 ("bench", "routing", "--help")):
        result = switchboard(*args)
        assert result.returncode == 0 and "usage: switchboard" in result.stdout, args


def test_routing_bench_smoke_reports_both_ratios() -> None:
    """A short run of the routing bench (the real figures come from `switchboard bench routing`)."""
    result = switchboard("bench", "routing", "--agents", "300", "--skills", "20", "--waiting", "2000",
                         "--decisions", "4000", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("cython_ns_per_decision", "python_ns_per_decision", "heapq_floor_ns_per_pushpop",
                "ratio_python_over_cython", "ratio_cython_over_floor"):
        assert figures[key] > 0, key
    assert figures["implementation_checks"]["identical_decisions"] is True
