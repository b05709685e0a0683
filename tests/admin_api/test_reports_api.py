"""Historical reports through the real server: rolled up per interval, as JSON or CSV, scoped by role (a supervisor
gets its teams' agent rows, an agent its own)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import trio

from engine.reports import IntervalRow
from tests.admin_api.server import running_api

TIMEOUT_S = 30.0
DAY = 1_780_000_000.0 - 1_780_000_000.0 % 86400  # a UTC midnight


def _row(dimension: str, key: str, start: float, **counts: float) -> IntervalRow:
    row = IntervalRow(dimension, key, start)
    row.counts.update(counts)
    return row


async def test_reports_roll_up_and_are_scoped_by_role(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        api.store.add_report_rows([
            _row("queue", "sales", DAY, offered=4, answered=3, answered_in_sl=2, wait_s=30, talk_s=300),
            _row("queue", "sales", DAY + 900, offered=2, answered=1, abandoned=1, answered_in_sl=1, wait_s=5),
            _row("queue", "support", DAY + 3600, offered=1),
            *[_row("agent", a, DAY, staffed_s=900, busy_s=450, answered=1) for a in ("a1", "a2", "a3")],
        ])
        span = f"from={DAY:.0f}&to={DAY + 86400:.0f}"
        with trio.fail_after(TIMEOUT_S):
            hourly = (await api.client.get(f"/v1/reports/queue?interval=hour&{span}")).json()
            assert [(r["key"], r["start"], r["offered"]) for r in hourly["items"]] == [
                ("sales", DAY, 6), ("support", DAY + 3600, 1)]
            sales = hourly["items"][0]
            assert sales["service_level"] == 0.5 and sales["asa_s"] == 35 / 4 and sales["abandoned"] == 1
            quarter = (await api.client.get(f"/v1/reports/queue?interval=15min&key=sales&{span}")).json()["items"]
            assert [r["offered"] for r in quarter] == [4, 2]
            exported = await api.client.get(f"/v1/reports/queue?interval=day&format=csv&{span}")
            assert exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.body.decode())))
            assert [(r["key"], r["offered"]) for r in rows] == [("sales", "6"), ("support", "1")]

            sup = api.as_("supervisor")
            agents = (await sup.get(f"/v1/reports/agent?{span}")).json()["items"]
            assert [r["key"] for r in agents] == ["a1", "a2"] and agents[0]["occupancy"] == 0.5
            assert (await sup.get(f"/v1/reports/agent?key=a3&{span}")).json()["items"] == []
            assert len((await sup.get(f"/v1/reports/queue?{span}")).json()["items"]) == 2
            agent = api.as_("agent")
            own = (await agent.get(f"/v1/reports/agent?{span}")).json()["items"]
            assert [r["key"] for r in own] == ["a1"]
            assert (await agent.get(f"/v1/reports/agent?key=a2&{span}")).json()["items"] == []
            assert (await agent.get(f"/v1/reports/queue?{span}")).status == 403
            assert (await agent.get(f"/v1/reports/campaign?{span}&format=csv")).status == 403
            default_span = (await api.client.get("/v1/reports/queue")).json()
            assert default_span["to"] - default_span["from"] == 86400 and default_span["interval"] == "hour"

            assert (await api.client.get("/v1/reports/weather")).status == 404
            assert (await api.client.get("/v1/reports/queue?interval=week")).status == 400
            backwards = await api.client.get(f"/v1/reports/queue?from={DAY:.0f}&to={DAY - 1:.0f}")
            assert backwards.status == 400 and "after from" in backwards.reason
