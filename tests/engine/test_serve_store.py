"""``switchboard serve`` on the store its configuration names: a PostgreSQL database instead of the data
directory's SQLite file."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from engine.store import open_store
from engine.store.target import STORE_FILE
from tests.engine.test_recovery import Serve


def test_serve_writes_to_the_postgresql_store_of_its_config(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "center.toml"
    config.write_text('skills = ["support"]\n\n[[agents]]\nid = "a1"\nskills = { support = 5 }\n\n'
                      '[[queues]]\nid = "support"\nskills = { support = 1 }\n\n'
                      f'[store]\nurl = "{postgres_url}"\n')
    serve = Serve(tmp_path / "var", "--config", str(config), "--no-http", "--sim-load", "20")
    try:
        serve.wait_for(r"^serve: ready")
        serve.wait_for(r"\bsim_submitted=([3-9]|\d\d+)\b")
    finally:
        code = serve.kill(signal.SIGTERM)  # the report counters are flushed on the way out
    assert code == 0, "".join(serve.stderr)
    store = open_store(postgres_url)
    try:
        rows = store.report_rows("agent", start=0.0, end=time.time() + 3600)
        assert [row.key for row in rows] and {row.key for row in rows} == {"a1"}
        assert sum(row.counts.get("staffed_s", 0.0) for row in rows) > 0
    finally:
        store.close()
    assert not (tmp_path / "var" / STORE_FILE).exists()
