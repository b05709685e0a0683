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


def test_api_bench_smoke_measures_the_api_the_stream_and_the_engine() -> None:
    """A few seconds of the API bench at a low rate (the real figures come from `switchboard bench api`)."""
    result = switchboard("bench", "api", "--rate", "20", "--agents", "60", "--seconds", "2", "--warmup", "1",
                         "--clients", "2", "--stream-clients", "1", "--fsync", "never")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["requests"] > 0 and figures["skipped_routes"] == []
    assert not [e for e in figures["errors"] if e.startswith("5") or e.startswith("connection")], figures["errors"]
    assert set(figures["routes"]) == {"GET /v1/agents", "GET /v1/queues", "GET /v1/agents/{id}/state",
                                      "GET /v1/cdrs", "GET /healthz", "PUT /v1/agents/{id}/state"}
    assert figures["latency_ms"]["p99"] > 0 and figures["engine"]["events_per_s"] > 0
    assert figures["engine"]["contacts_arrived_per_s"] > 0 and figures["engine"]["sink_backlog_max"] is not None
    assert figures["stream"]["available"] and figures["stream"]["frames"] > 0, figures["stream"]
    assert "bench api:" in result.stderr


def test_api_bench_refuses_a_route_filter_matching_nothing() -> None:
    result = switchboard("bench", "api", "--routes", "nothing-like-this")
    assert result.returncode == 2 and "--routes" in result.stderr and "Traceback" not in result.stderr
