"""The built-in "ivr" plugin: loads the menu file named in the configuration, serves built-in steps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.errors import ConfigError
from plugins.builtin.ivr import IvrPlugin
from plugins.manager import PluginManager

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ivr.toml"
MADRID = ZoneInfo("Europe/Madrid")


def _config(menus: object, **extra: object) -> dict[str, object]:
    return {"plugins": {"ivr": {"menus": menus}}, **extra}


def test_configure_loads_the_menu_file_checking_queues() -> None:
    plugin = IvrPlugin()
    plugin.switchboard_configure(_config(str(EXAMPLE), queues=[{"id": q} for q in
                                                               ("sales", "support", "billing", "vip")]))
    assert plugin.config is not None and plugin.config.entry == "language"
    with pytest.raises(ConfigError, match=r"ivr\.toml:\d+: menus\.main\.options\.3\.queue: unknown queue 'sales'"):
        plugin.load(_config(str(EXAMPLE), queues=[{"id": "support"}, {"id": "billing"}, {"id": "vip"}]))


@pytest.mark.parametrize(("config", "message"), [
    (_config(""), "plugins.ivr.menus: expected the path"),
    ({"plugins": {"ivr": "x"}}, "plugins.ivr: expected a table"),
    (_config("/nonexistent/ivr.toml"), "/nonexistent/ivr.toml: cannot read"),
])
def test_bad_configuration_is_a_config_error(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IvrPlugin().load(config)


def test_no_section_no_ivr() -> None:
    plugin = IvrPlugin()
    assert plugin.load({}) is None and plugin.load({"plugins": ["a.b"]}) is None and plugin.config is None


def test_a_bad_file_through_the_manager_is_a_counted_fault(tmp_path: Path) -> None:
    bad = tmp_path / "ivr.toml"
    bad.write_text('entry = "main"\n[menus.main]\nprompt = "p"\noptions = { 1 = { menu = "x" } }\n')
    manager = PluginManager(_config(str(bad)), autoload=False, builtins=False)
    plugin = IvrPlugin()
    manager.register(plugin, "ivr")
    manager.configure()
    assert manager.faults == {"ivr": 1} and plugin.config is None
    with pytest.raises(ConfigError, match=r"ivr\.toml:4: menus\.main\.options\.1\.menu: unknown menu 'x'"):
        plugin.load(manager.config)


@pytest.mark.parametrize(("local", "is_open"), [("2026-11-23 10:00", True), ("2026-11-23 21:00", False),
                                                ("2026-12-25 10:00", False)])
def test_business_hours_step(local: str, is_open: bool) -> None:
    plugin = IvrPlugin()
    plugin.load(_config(str(EXAMPLE)))
    now = datetime.fromisoformat(local).replace(tzinfo=MADRID).timestamp()
    result = plugin.ivr_self_service("business-hours", "c1", {"now": now})
    assert result == {"play": ["hours-open-now" if is_open else "hours-closed-now"],
                      "variables": {"open_now": is_open}}
    assert plugin.ivr_self_service("order-status", "c1", {"now": now}) is None


def test_registered_as_a_builtin() -> None:
    manager = PluginManager(autoload=False)
    names = {p["name"]: p for p in manager.list_plugins()}
    assert "ivr_self_service" in names["ivr"]["hooks"] and names["ivr"]["source"] == "builtin"
