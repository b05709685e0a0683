"""Configuration files: the example loads, and every mistake is named by file and key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.config import demo_config, is_open, load_config
from engine.errors import ConfigError
from engine.model import CenterConfig, OpenHours

ROOT = Path(__file__).resolve().parents[2]


def test_example_and_demo_configurations_are_valid() -> None:
    config = load_config(ROOT / "examples" / "center.toml")
    assert [q.id for q in config.queues] == ["sales", "support", "chat"]
    assert config.queues[0].hours.weekly[4] == [(8 * 60, 18 * 60)]
    assert CenterConfig.from_dict(config.to_dict()) == config
    assert CenterConfig.from_dict(demo_config().to_dict()) == demo_config()


@pytest.mark.parametrize(("text", "message"), [
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\nskills = { b = 1 }\n", r"agents\[0\].skills: unknown skill 'b'"),
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\nskills = { a = 1 }\n[[queues]]\nid = \"q\"\nskills = { a = 2 }\n",
     r"queues\[0\] \('q'\): no agent can serve"),
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\nskills = { a = 1 }\n[[queues]]\nid = \"q\"\nstrategy = \"x\"\n",
     r"queues\[0\] \('q'\).strategy: unknown strategy"),
    ("skills = [\"a\"]\n[[queues]]\nid = \"q\"\ncolour = 1\n", r"queues\[0\]: unknown key 'colour'"),
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\n[[queues]]\nid = \"q\"\nhours = { timezone = \"Mars/Olympus\" }\n",
     "unknown time zone 'Mars/Olympus'"),
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\n[[queues]]\nid = \"q\"\nhours = { mon = [\"9-17\"] }\n",
     r"hours.mon\[0\]: '9' is not a HH:MM time"),
    ("skills = [\"a\"]\nseed = = 3\n", r":2: not valid TOML"),
    ("skills = [\"a\"]\n[[agents]]\nid = \"x\"\ncapacity = { fax = 1 }\n", "unknown channel 'fax'"),
])
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_opening_hours_follow_the_local_clock_across_daylight_saving() -> None:
    hours = OpenHours(timezone="America/New_York", weekly={d: [(9 * 60, 17 * 60)] for d in range(7)})
    tz = ZoneInfo("America/New_York")
    # 09:30 local on both sides of the March 2026 change (8 March): open, though UTC offsets differ.
    assert is_open(hours, datetime(2026, 3, 7, 9, 30, tzinfo=tz).timestamp())
    assert is_open(hours, datetime(2026, 3, 9, 9, 30, tzinfo=tz).timestamp())
    assert not is_open(hours, datetime(2026, 3, 9, 8, 59, tzinfo=tz).timestamp())
    assert not is_open(hours, datetime(2026, 3, 9, 17, 0, tzinfo=tz).timestamp())


def test_plugin_sections_are_left_to_the_plugins(tmp_path: Path) -> None:
    path = tmp_path / "center.toml"
    path.write_text('skills = ["sales"]\n[[agents]]\nid = "a1"\nskills = { sales = 3 }\n'
                    '[[queues]]\nid = "sales"\nskills = { sales = 1 }\n'
                    '[plugins]\nload = ["my.plugin"]\n[plugins.crm]\nhistory_limit = 20\n')
    config = load_config(path)
    assert [q.id for q in config.queues] == ["sales"]
