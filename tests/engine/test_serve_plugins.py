"""``switchboard serve`` with its plugins: a bad plugin section stops the start; the admin API and the e-mail
listener come up with the engine, and a mail sent over SMTP becomes a contact."""

from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import sys
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from tests.engine.test_recovery import ROOT, TIMEOUT, Serve

CENTER = """\
skills = ["support"]

[channels]
voice = true
email = false

[[agents]]
id = "a1"
skills = { support = 5 }
capacity = { voice = 1, email = 2 }

[[queues]]
id = "support"
skills = { support = 1 }

[[queues]]
id = "email"
channel = "email"
skills = { support = 1 }

[plugins.email]
listen_port = 0
default_queue = "email"
"""


def test_a_bad_plugin_section_stops_the_start_before_the_journal(tmp_path: Path) -> None:
    config = tmp_path / "center.toml"
    config.write_text(CENTER + 'colour = "blue"\n')
    data = tmp_path / "var"
    done = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--config", str(config), "--data-dir",
                           str(data), "--port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2, done.stderr
    assert f"{config}:{CENTER.count(chr(10)) + 1}: plugins.email.colour: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(data.glob("journal*")) and not list(data.glob("*.sbj"))


def test_serve_runs_the_admin_api_and_the_email_listener(tmp_path: Path) -> None:
    config = tmp_path / "center.toml"
    config.write_text(CENTER)
    serve = Serve(tmp_path / "var", "--config", str(config))
    try:
        serve.wait_for(r"^serve: first start: an admin token is in ")
        http = serve.wait_for(r"^serve: http on (\S+)").group(1)
        smtp_port = int(serve.wait_for(r"^serve: smtp on 127\.0\.0\.1:(\d+)").group(1))
        serve.wait_for(r"^serve: ready")
        with urllib.request.urlopen(f"{http}/healthz", timeout=TIMEOUT) as reply:
            before = json.load(reply)["accepted"]
        with urllib.request.urlopen(f"{http}/chat/", timeout=TIMEOUT) as reply:
            assert reply.status == 200 and b"<html" in reply.read().lower()
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "ada@example.com", "help@center.test", "Invoice"
        message.set_content("My invoice is wrong.")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=TIMEOUT) as client:
            client.send_message(message)
        serve.wait_for(r"contacts=1\b")  # the mail is a contact in the ACD (offered to a1)
        with urllib.request.urlopen(f"{http}/healthz", timeout=TIMEOUT) as reply:
            assert json.load(reply)["accepted"] > before
        # A fresh install: the first start left an admin token for the operator, readable by the owner only.
        token_file = tmp_path / "var" / "admin-token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        asked = urllib.request.Request(f"{http}/v1/me", headers={
            "Authorization": "Bearer " + token_file.read_text().strip()})
        with urllib.request.urlopen(asked, timeout=TIMEOUT) as reply:
            assert json.load(reply)["role"] == "admin"
    finally:
        code = serve.kill(signal.SIGTERM)
    assert code == 0, "".join(serve.stderr)
