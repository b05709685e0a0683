"""Historical reports: exact counters from the engine's actions, rolled up, stored, flushed, exported."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.batch_writer import ReportWriter
from engine.events import AgentStateChanged, ContactRecord
from engine.reports import CSV_COLUMNS, IntervalRow, ReportAggregator, derive, report_dicts, roll_up, to_csv
from engine.store import SqliteStore, SqlStore
from engine.survey import SurveyRecorded

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_772_442_000.0  # 2026-03-02 09:00 UTC, an interval boundary


def _record(cid: str, *, arrived: float, answered: float | None, ended: float, customer: str = "+4420",
            outcome: str = "answered", disposition: str = "resolved", agent: str = "a1", queue: str = "q",
            transferred: bool = False, campaign: str | None = None) -> ContactRecord:
    history = ((arrived, "queued", queue, ""),) + (((arrived + 1, "transferred", queue, agent),) if transferred
                                                     else ())
    return ContactRecord(cid, "voice", customer, queue, agent if answered is not None else "", arrived, answered,
                         ended, outcome, disposition, "", history, {"campaign": campaign} if campaign else {})


def test_counters_and_figures_are_exact() -> None:
    agg = ReportAggregator(lambda q: {"q": 20.0}[q])
    agg.observe(_record("c1", arrived=T0, answered=T0 + 10, ended=T0 + 130, customer="+1"), T0 + 160)
    agg.observe(_record("c2", arrived=T0 + 60, answered=T0 + 90, ended=T0 + 150, customer="+1",
                        disposition="sale", transferred=True), T0 + 170)  # a repeat, out of SL, converted
    agg.observe(_record("c3", arrived=T0 + 100, answered=None, ended=T0 + 140, customer="+2",
                        outcome="abandoned", disposition=""), T0 + 140)
    agg.observe(SurveyRecorded("c1", "q", "a1", 5, "", T0 + 200), T0 + 200)
    agg.observe(SurveyRecorded("c2", "q", "a1", 2, "", T0 + 210), T0 + 210)
    for state, at in (("available", T0 - 300), ("on-contact", T0 + 10), ("wrap-up", T0 + 130),
                      ("available", T0 + 160), ("logged-out", T0 + 1200)):
        agg.observe(AgentStateChanged("a1", state, "", at), at)
    rows = {(r.dimension, r.key, r.start): r for r in agg.take()}
    queue = rows[("queue", "q", T0)]
    c = queue.counts
    assert (c["offered"], c["answered"], c["abandoned"], c["answered_in_sl"]) == (3, 2, 1, 1)
    assert (c["wait_s"], c["talk_s"], c["wrap_s"]) == (40.0, 180.0, 50.0)
    assert (c["repeats"], c["transfers"], c["conversions"], c["surveys"], c["satisfied"]) == (1, 1, 1, 2, 1)
    assert queue.dispositions == {"resolved": 1, "sale": 1}
    figures = derive(c)
    assert figures["service_level"] == pytest.approx(1 / 3) and figures["asa_s"] == 20.0
    assert figures["aht_s"] == 115.0 and figures["abandon_rate"] == pytest.approx(1 / 3)
    assert figures["fcr_rate"] == 0.5 and figures["transfer_rate"] == 0.5 and figures["csat"] == 0.5
    assert figures["conversion_rate"] == 0.5 and figures["mean_survey_score"] == 3.5
    # the agent: staffed from T0 - 300 (previous interval) to T0 + 1200 (crosses T0 + 900), busy 150 s
    before, first, second = rows[("agent", "a1", T0 - 900)], rows[("agent", "a1", T0)], rows[("agent", "a1",
                                                                                              T0 + 900)]
    assert (before.counts["staffed_s"], first.counts["staffed_s"], second.counts["staffed_s"]) == (300, 900, 300)
    assert first.counts["busy_s"] == 150.0 and derive(first.counts)["occupancy"] == pytest.approx(150 / 900)
    assert agg.take() == []  # handed over once


def test_campaign_rows_roll_up_and_csv() -> None:
    agg = ReportAggregator()
    for n in range(6):
        t = T0 + n * 600.0
        agg.observe(_record(f"o{n}", arrived=t, answered=t + 1, ended=t + 61, customer=f"+{n}", campaign="cmp",
                            disposition="sale" if n % 2 else "no-sale"), t + 70)
    rows = agg.take()
    quarter = sorted(r.start for r in rows if r.dimension == "campaign")
    assert len(quarter) == 4  # 0, 600 | 1200 | 1800, 2400 | 3000 fall in four quarters
    hourly = [r for r in roll_up(rows, "hour") if r.dimension == "campaign"]
    assert [(r.start, r.counts["answered"], r.counts["conversions"]) for r in hourly] == [(T0, 6, 3)]
    with pytest.raises(ValueError, match="interval"):
        roll_up(rows, "week")
    table = list(csv.reader(io.StringIO(to_csv(hourly))))
    assert tuple(table[0]) == CSV_COLUMNS
    line = dict(zip(table[0], table[1], strict=True))
    assert line["start"] == "2026-03-02T09:00:00Z" and line["conversion_rate"] == "0.5"
    assert line["csat"] == "" and line["dispositions"] == "no-sale=3;sale=3"
    assert report_dicts(hourly)[0]["answered"] == 6


def test_store_adds_rows_and_reads_ranges(store: SqlStore) -> None:
    row = IntervalRow("queue", "q", T0)
    row.counts["offered"] = 2
    row.dispositions["sale"] = 1
    store.add_report_rows([row])
    store.add_report_rows([row, IntervalRow("queue", "q", T0 + 900)])
    got = store.report_rows("queue", start=T0, end=T0 + 3600)
    assert [(r.start, r.counts["offered"], r.dispositions) for r in got] == [(T0, 4, {"sale": 2}),
                                                                           (T0 + 900, 0, {})]
    assert store.report_rows("queue", start=T0, end=T0 + 3600, key="other") == []
    from engine.errors import StoreError
    with pytest.raises(StoreError, match="dimension"):
        store.report_rows("team", start=T0, end=T0 + 1)
    with pytest.raises(StoreError, match="range"):
        store.report_rows("queue", start=T0, end=T0)
    with pytest.raises(StoreError, match="dimension"):
        store.add_report_rows([IntervalRow("team", "x", T0)])
    assert len(store.report_rows("queue", start=T0, end=T0 + 3600)) == 2  # nothing half-written


async def test_writer_flushes_periodically_and_on_shutdown(store: SqlStore,
                                                           autojump_clock: trio.testing.MockClock) -> None:
    agg = ReportAggregator()
    writer = ReportWriter(agg, store, every_s=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        agg.observe(_record("c1", arrived=T0, answered=T0 + 1, ended=T0 + 30), T0 + 40)
        # The store call runs in a worker thread, during which MockClock's autojump moves virtual time on: wait
        # for the flush itself (bounded in virtual time).
        with trio.fail_after(3600):
            while writer.flushes < 1:
                await trio.sleep(0.01)
        agg.observe(_record("c2", arrived=T0, answered=T0 + 1, ended=T0 + 30, customer="+9"), T0 + 50)
        nursery.cancel_scope.cancel()  # the last counters are flushed on the way out
    rows = store.report_rows("queue", start=T0, end=T0 + 900)
    assert rows[0].counts["answered"] == 2


def test_report_command(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "switchboard.sqlite3")
    agg = ReportAggregator()
    agg.observe(_record("c1", arrived=T0, answered=T0 + 5, ended=T0 + 65), T0 + 75)
    store.add_report_rows(agg.take())
    store.close()

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine.cli", "report", "--data-dir", str(tmp_path), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    done = report("--by", "agent", "--interval", "day", "--from", "2026-03-02", "--to", "2026-03-03")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("start,dimension,key") and lines[1].startswith("2026-03-02T00:00:00Z,agent,a1,1,1")
    bad = report("--from", "yesterday")
    assert bad.returncode == 2 and "--from 'yesterday'" in bad.stderr and "Traceback" not in bad.stderr
    bad = report("--by", "team")
    assert bad.returncode == 2 and "--by" in bad.stderr
