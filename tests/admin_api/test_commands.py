"""``switchboard token`` and ``switchboard user`` from the shell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from admin_api.security import token_hash, verify_password
from engine.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_token_create_list_revoke(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    made = _cli("token", "create", "--role", "admin", "--name", "ci", "--data-dir", data)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("sb_") and "\n" not in secret
    sup = json.loads(_cli("token", "create", "--role", "supervisor", "--name", "wall", "--teams", "east, west",
                          "--ttl-days", "1", "--json", "--data-dir", data).stdout)
    assert sup["info"]["teams"] == ["east", "west"] and sup["info"]["expires"] is not None
    listed = _cli("token", "list", "--data-dir", data).stdout
    assert "ci" in listed and "wall" in listed and "sb_" not in listed
    store = SqliteStore(tmp_path / "var" / "switchboard.sqlite3")
    try:
        token = store.token_by_hash(token_hash(secret))
        assert token is not None and token.role == "admin"
        assert _cli("token", "revoke", token.id, "--data-dir", data).returncode == 0
        assert store.token(token.id).revoked is not None
        assert store.audit(target=f"token:{token.id}")[0].action == "revoke"
    finally:
        store.close()


def test_bad_token_and_user_input_names_the_option(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    agent = _cli("token", "create", "--role", "agent", "--name", "x", "--data-dir", data)
    assert agent.returncode == 2 and "--agent" in agent.stderr and "Traceback" not in agent.stderr
    ttl = _cli("token", "create", "--role", "admin", "--name", "x", "--ttl-days", "-1", "--data-dir", data)
    assert ttl.returncode == 2 and "--ttl-days" in ttl.stderr
    gone = _cli("token", "revoke", "tok_nope", "--data-dir", data)
    assert gone.returncode == 2 and "no such token" in gone.stderr
    short = _cli("user", "add", "ann", "--role", "admin", "--password-stdin", "--data-dir", data, stdin="short\n")
    assert short.returncode == 2 and "password" in short.stderr
    no_tty = _cli("user", "add", "ann", "--role", "admin", "--data-dir", data)
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr


def test_users_are_added_and_their_password_set(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    added = _cli("user", "add", "ann", "--role", "agent", "--agent", "a1", "--password-stdin", "--data-dir", data,
                 stdin="long enough password\n")
    assert added.returncode == 0, added.stderr
    assert _cli("user", "add", "ann", "--role", "admin", "--password-stdin", "--data-dir", data,
                stdin="long enough password\n").returncode == 2
    assert _cli("user", "passwd", "ann", "--password-stdin", "--data-dir", data,
                stdin="another good one\n").returncode == 0
    assert _cli("user", "disable", "ann", "--data-dir", data).returncode == 0
    listed = json.loads(_cli("user", "list", "--json", "--data-dir", data).stdout)
    assert [(u["name"], u["agent_id"], u["disabled"]) for u in listed] == [("ann", "a1", True)]
    store = SqliteStore(tmp_path / "var" / "switchboard.sqlite3")
    try:
        assert verify_password("another good one", store.user("ann").password_hash)
    finally:
        store.close()
