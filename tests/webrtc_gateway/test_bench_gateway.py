"""A short run of ``switchboard bench gateway`` (the real figures come from running it; see webrtc_gateway/README.md)."""

from __future__ import annotations

import json

from tests.engine.test_cli import switchboard


def test_gateway_bench_smoke_measures_calls_through_real_workers() -> None:
    result = switchboard("bench", "gateway", "--calls", "3", "--seconds", "1", "--warmup", "0.5", "--workers", "2")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["calls"] == 3 and figures["workers"] == 2
    assert figures["gateway"]["bridges"] == 3 and figures["gateway"]["decoders_built"] == 0
    assert figures["packets"]["sent"] > 200 and figures["packets"]["unrecognised"] == 0
    assert 0 <= figures["packet_loss"] < 0.05
    assert figures["cpu"]["per_call_pct"] > 0 and figures["latency_ms"]["packets"]["p50"] > 0
    assert figures["baseline_ms"] > 0 and "mean" in figures["added_latency_ms"]
    assert figures["jitter_ms"]["mean"] >= 0 and figures["engine"]["loaded"]["loop_lag_ms"]
    assert "bench gateway:" in result.stderr
