"""Errors in TOML files name the file, the line and the key."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.tomlfile import TomlFile

TEXT = """\
title = "demo"

[menus.main]
prompt = "welcome"
timeout_s = 5

[menus.main.options]
1 = "sales"
"9" = { queue = "vip" }

[[agents]]
id = "a1"

[[agents]]
id = "a2"
skills.sales = 3

[agents.extra]
note = "x"
"""


def test_lines_of_keys_tables_and_arrays_of_tables() -> None:
    doc = TomlFile.parse(TEXT, "center.toml")
    assert doc.line_of(("title",)) == 1
    assert doc.line_of(("menus", "main")) == 3
    assert doc.line_of(("menus", "main", "timeout_s")) == 5
    assert doc.line_of(("menus", "main", "options", "1")) == 8
    assert doc.line_of(("menus", "main", "options", "9")) == 9
    assert doc.line_of(("menus", "main", "options", "9", "queue")) == 9  # inline table: its key's line
    assert doc.line_of(("agents", 0, "id")) == 12
    assert doc.line_of(("agents", 1, "id")) == 15
    assert doc.line_of(("agents", 1, "skills", "sales")) == 16
    assert doc.line_of(("agents", 1, "extra", "note")) == 19
    assert doc.line_of(("nowhere",)) is None


def test_error_names_file_line_and_key() -> None:
    doc = TomlFile.parse(TEXT, "center.toml")
    err = doc.error(("menus", "main", "options", "1"), "unknown queue 'sales'")
    assert str(err) == "center.toml:8: menus.main.options.1: unknown queue 'sales'"


def test_syntax_error_names_file_and_line(tmp_path) -> None:
    bad = tmp_path / "ivr.toml"
    bad.write_text('[menus.main]\nprompt = "x"\ntimeout_s = = 5\n')
    with pytest.raises(ConfigError, match=r"ivr\.toml:3: not valid TOML"):
        TomlFile.read(bad)


def test_unreadable_file_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="missing.toml: cannot read"):
        TomlFile.read(tmp_path / "missing.toml")
