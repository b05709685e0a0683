"""Which store a command opens (``--store``, ``[store] url``, the data directory), and ``open_store``'s choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError, StoreError, SwitchboardError
from engine.store import SqliteStore, open_store
from engine.store.target import STORE_FILE, redact, store_target
from engine.tomlfile import TomlFile

URL = "postgresql://sb:pw@db.example:5432/switchboard"


def test_the_option_wins_then_the_config_then_the_data_dir(tmp_path: Path) -> None:
    config = TomlFile.parse(f'[store]\nurl = "{URL}"\n', "center.toml")
    assert store_target(tmp_path, "other.db", config) == "other.db"
    assert store_target(tmp_path, None, config) == URL
    assert store_target(tmp_path, None, TomlFile.parse("seed = 1\n")) == str(tmp_path / STORE_FILE)
    assert store_target(tmp_path, None, TomlFile.parse("[store]\n")) == str(tmp_path / STORE_FILE)
    assert store_target(tmp_path) == str(tmp_path / STORE_FILE)


@pytest.mark.parametrize("text, message", [
    ('[store]\nurl = "mysql://x/y"\n', "center.toml:2: store.url: unsupported URL scheme 'mysql'"),
    ("[store]\nurl = 5\n", "center.toml:2: store.url: expected a postgresql:// URL or an SQLite file path, got 5"),
    ('[store]\nurl = ""\n', "center.toml:2: store.url: expected"),
    ('[store]\nuri = "postgresql://x/y"\n', "center.toml:2: store.uri: unknown key"),
    ('store = "postgresql://x/y"\n', "center.toml:1: store: expected a table"),
])
def test_a_bad_store_key_is_named_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        store_target("var", None, TomlFile.parse(text, "center.toml"))


def test_a_bad_store_option_is_named_without_its_password() -> None:
    with pytest.raises(SwitchboardError, match=r"^--store 'mysql://sb:\*\*\*@h/db': unsupported URL scheme") as info:
        store_target("var", "mysql://sb:pw@h/db")
    assert "pw" not in str(info.value)


def test_redact() -> None:
    assert redact(URL) == "postgresql://sb:***@db.example:5432/switchboard"
    assert redact("postgresql://sb@h/db?sslmode=require&password=pw") == (
        "postgresql://sb@h/db?sslmode=require&password=***")
    assert redact("postgresql:///db") == "postgresql:///db"


def test_open_store_takes_a_path_or_a_postgresql_url(tmp_path: Path) -> None:
    store = open_store(tmp_path / "new" / "dir" / "s.db")  # the directory is created
    assert isinstance(store, SqliteStore) and store.target == str(tmp_path / "new" / "dir" / "s.db")
    store.close()
    with pytest.raises(StoreError, match="store 'sqlite:///x.db': unsupported URL scheme 'sqlite'"):
        open_store("sqlite:///x.db")
    with pytest.raises(StoreError, match=r"postgresql://u:\*\*\*@127.0.0.1:1/x: cannot connect"):
        open_store("postgresql://u:pw@127.0.0.1:1/x")
