"""Loading: built-ins, the example package through its entry point, autoload off, plugins named in config."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from plugins import command
from plugins.manager import AUTOLOAD_ENV, PluginManager

ROOT = Path(__file__).resolve().parents[2]


def _plugins_json(env_extra: dict[str, str]) -> list[dict]:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c",
                          "import argparse, sys\n"
                          "from plugins import command\n"
                          "p = argparse.ArgumentParser(); command.add_arguments(p)\n"
                          "sys.exit(command.run(p.parse_args(['--json'])))\n"],
                         check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return json.loads(out.stdout)


def test_example_found_through_entry_point(example_installed: Path) -> None:
    plugins = {p["name"]: p for p in _plugins_json({AUTOLOAD_ENV: "0"})}
    example = plugins["example"]
    assert example["source"] == "entrypoint"
    assert example["version"] == "0.1.0"
    assert example["hooks"] == ["compliance_check", "observe_action", "switchboard_configure"]
    assert plugins["sim"]["source"] == "builtin"


def test_autoload_off_hides_the_example(example_installed: Path) -> None:
    names = [p["name"] for p in _plugins_json({AUTOLOAD_ENV: "1"})]
    assert "example" not in names and "sim" in names


def test_example_rules_work_when_loaded(example_installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    # The editable install's path hook is read at interpreter start: make the package importable in this process.
    monkeypatch.syspath_prepend(str(example_installed))
    manager = PluginManager({"plugins": {"example": {"refuse_prefixes": ["+1900", "+4490"]}}})
    manager.configure()
    # the built-in rules judge too: give them what the dialer sends (13:00 in Paris, a lead never attempted)
    facts = {"campaign": None, "lead": None, "timezones": ["Europe/Paris"], "now": 1767268800.0,
             "recent_dials": []}
    verdict = manager.check_compliance({"number": "+44901234", **facts})
    assert not verdict.allowed and verdict.rule == "example-prefix" and "+4490" in verdict.reason
    assert manager.check_compliance({"number": "+33123", **facts}).allowed
    manager.call("observe_action", action="x", now=0.0)
    import switchboard_example_plugin

    assert switchboard_example_plugin.counts["str"] == 1


def test_plugin_named_in_config_is_loaded() -> None:
    manager = PluginManager({"plugins": ["tests.plugins.sample_plugin"]}, autoload=False)
    listed = {p["name"]: p for p in manager.list_plugins()}
    assert listed["tests.plugins.sample_plugin"] == {"name": "tests.plugins.sample_plugin", "version": "9.9",
                                                     "hooks": ["crm_lookup"], "source": "config"}
    assert manager.call("crm_lookup", customer="x") == {"from": "sample"}


@pytest.mark.parametrize("config, key", [({"plugins": ["no_such_module.plugin"]}, "plugins[0]"),
                                         ({"plugins": {"load": ["os", "nope_missing"]}}, "plugins.load[1]")])
def test_missing_plugin_module_is_a_config_error(config: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        PluginManager(config, autoload=False)
    assert key in str(info.value) and config["plugins"] and "cannot load plugin" in str(info.value)


def test_config_plugins_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="plugins"):
        PluginManager({"plugins": "tests.plugins.sample_plugin"}, autoload=False)


def test_command_table_and_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args([])) == 0
    table = capsys.readouterr().out
    assert "sim" in table and "    channel_answer" in table and "(builtin)" in table
    assert command.run(parser.parse_args(["--json"])) == 0
    listed = json.loads(capsys.readouterr().out)
    from plugins.builtin import BUILTIN_PLUGINS

    assert sorted(p["name"] for p in listed) == sorted(BUILTIN_PLUGINS)
    assert {"ivr", "crm", "chat", "email", "tickets", "sim", "compliance-dnc", "compliance-blocked",
            "compliance-calling-hours", "compliance-max-attempts", "compliance-min-interval",
            "compliance-daily-cap"} <= set(BUILTIN_PLUGINS)


def test_command_reads_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    config = tmp_path / "center.toml"
    config.write_text('[plugins]\nload = ["tests.plugins.sample_plugin"]\n')
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args(["--json", "--config", str(config)])) == 0
    assert "tests.plugins.sample_plugin" in [p["name"] for p in json.loads(capsys.readouterr().out)]


class _Dist:
    name, version = "broken-plugin", "1.2"


class _BrokenEntryPoint:
    name, value, dist = "broken", "broken_plugin_module", _Dist()

    def load(self) -> object:
        raise ImportError("No module named 'broken_plugin_module'")


def test_broken_entry_point_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [_BrokenEntryPoint()])
    with pytest.raises(ConfigError, match="entry point 'broken' .*broken-plugin"):
        PluginManager(autoload=True)
    PluginManager(autoload=False)  # the documented way out
