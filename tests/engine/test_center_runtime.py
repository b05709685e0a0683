"""The dialer under the trio runtime: the same ``Center`` the simulator drives, journaled, snapshotted, recovered."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
import trio
import trio.testing

from engine import journal as jm
from engine.center import Center
from engine.dialer_events import CallAnswered, CallFailed, LeadsAdded
from engine.errors import AcdError, ConfigError
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from engine.sim.live import LiveAdapter
from engine.sim.outbound import CAMPAIGN, SHIFT_START, _scenario_pacer, shift_setup
from engine.sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios" / "outbound-small.toml"


def _setup(agents: int = 4):
    scenario = load_scenario(SCENARIO)
    setup = shift_setup(scenario, mode="predictive", agents=agents, hours=1.0)
    no_answer = scenario.timing["no_answer_timeout_s"].mean
    return scenario, setup, _scenario_pacer(scenario, no_answer)


async def _run_for(runtime: Runtime, adapter: LiveAdapter, seconds: float) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        await nursery.start(adapter.run)
        await trio.sleep_until(runtime.trio_deadline(SHIFT_START + seconds))
        nursery.cancel_scope.cancel()


async def test_predictive_campaign_runs_under_the_runtime_and_recovers_exactly(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    _, setup, pacer_factory = _setup()
    center = setup.center
    config = center.acd.config_now()
    journal = Journal.open(tmp_path, fsync="never")
    jm.write_genesis(tmp_path, config)
    # No snapshot mid-run: under MockClock a snapshot's worker thread would let virtual time jump past the run's
    # end. The runtime writes one on shutdown (Center.snapshot through the runtime's own path).
    runtime = Runtime(center, journal, TrioClock(SHIFT_START), snapshot_every=10**9, prune=False)
    adapter = LiveAdapter(runtime, setup.adapter)
    runtime.add_sink(adapter)
    await _run_for(runtime, adapter, 1200.0)

    figures = setup.dialer.figures(CAMPAIGN).total
    assert figures["dials"] > 40 and figures["connects"] > 12  # it really dialled and agents really talked
    expected = center.digest()

    for use_snapshots in (True, False):  # from the newest snapshot, and by replay of the whole journal
        recovered = jm.recover_info(tmp_path, use_snapshots=use_snapshots,
                                    acd_factory=lambda c: Center.build(c, pacer_factory=pacer_factory),
                                    acd_restore=lambda state: Center.restore(state, pacer_factory=pacer_factory))
        assert (recovered.snapshot_seq > 0) is use_snapshots
        assert recovered.acd.digest() == expected


def test_snapshot_round_trip_through_msgpack_then_identical_behaviour() -> None:
    from engine.sim.driver import Driver

    _, setup, pacer_factory = _setup(agents=5)
    driver = Driver(setup.center, setup.adapter)
    driver.now = SHIFT_START
    driver.run(until=SHIFT_START + 900.0)
    data = msgpack.unpackb(msgpack.packb(setup.center.snapshot()), strict_map_key=False)
    twin = Center.restore(data, pacer_factory=pacer_factory)
    assert twin.digest() == setup.center.digest()
    calls = setup.dialer.calls_in_progress()
    assert calls, "a shift 15 minutes in has calls in progress"
    ringing = next(c for c, (_, _, phase) in calls.items() if phase == "ringing")
    now = SHIFT_START + 900.0
    for machine in (setup.center, twin):
        actions = machine.feed(CallFailed(ringing, "busy"), now)
        assert actions
    assert twin.digest() == setup.center.digest()
    assert twin.dialer.pacer(CAMPAIGN).state() == setup.dialer.pacer(CAMPAIGN).state()


def test_center_validates_dialer_events_before_they_are_journaled() -> None:
    _, setup, _ = _setup()
    center = setup.center
    with pytest.raises(AcdError, match="unknown campaign"):
        center.validate(LeadsAdded("nope", ()))
    with pytest.raises(AcdError, match="answer"):
        center.validate(CallAnswered("x", "robot"))
    with pytest.raises(AcdError, match="outcome"):
        center.validate(CallFailed("x", "exploded"))
    with pytest.raises(ConfigError):
        Center.restore({"format": "center-0"})
    with pytest.raises(ConfigError, match="dialer snapshot"):
        Center.restore({"format": "center-1", "acd": center.acd.snapshot(), "dialer": {"format": 1}})
