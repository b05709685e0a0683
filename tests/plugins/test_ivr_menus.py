"""The IVR menu file: the example validates against the demo; every bad file names its file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.config import demo_config
from engine.errors import ConfigError
from engine.ivr import Target
from plugins.builtin.ivr import Known, load_menus, parse_menus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ivr.toml"
DEMO = Known.from_center(demo_config())

GOOD = """\
entry = "main"
fallback = { queue = "support" }
operator = { queue = "support" }

[languages.en]
skill = "english"

[languages.es]
skill = "spanish"
level = 5

[hours]
timezone = "Europe/Madrid"
mon = ["08:00-20:00"]
holidays = ["2026-12-25"]

[[priority]]
attribute = "vip"
priority = 10

[menus.main]
prompt = { en = "main-en", es = "main-es" }
timeout_s = 4
retries = 1
default = { queue = "support" }

[menus.main.options]
1 = { menu = "billing" }
2 = { self_service = "order-status", then = "main" }
0 = { action = "operator" }

[menus.billing]
prompt = "billing"
skills = { billing = 1 }

[menus.billing.options]
1 = { queue = "billing", priority = 2, skills = { billing = 5 } }
"*" = { action = "back" }
"""


def test_the_example_validates_against_the_demo_configuration() -> None:
    config = load_menus(EXAMPLE, DEMO)
    assert config.entry == "language" and set(config.menus) == {"language", "main", "billing", "support"}
    assert config.lookup and config.priority_rules[0].priority == 10
    assert config.menus["main"].options["4"] == Target("self-service", "order-status", then=Target("menu", "main"))
    assert config.menus["language"].options["2"] == Target("language", "es", menu="main")
    assert config.languages["es"].skill == "spanish" and config.languages["es"].level == 5
    assert config.hours is not None and config.hours.timezone == "Europe/Madrid"
    assert config.closed == Target("voicemail", "after-hours", prompt="closed")


def test_a_good_file_parses_into_typed_records() -> None:
    config = parse_menus(GOOD, "ivr.toml", DEMO)
    main = config.menus["main"]
    assert (main.timeout_s, main.retries, main.default) == (4.0, 1, Target("queue", "support"))
    assert main.prompt == {"en": "main-en", "es": "main-es"}
    assert config.menus["billing"].prompt == {"": "billing"}
    assert config.menus["billing"].options["1"] == Target("queue", "billing", skills={"billing": 5}, priority=2)
    assert config.menus["billing"].default.kind == "hangup"  # the default default: goodbye and hang up
    assert config.lookup  # a priority rule turns the CRM lookup on
    assert config.hours is not None and config.hours.weekly == {0: [(480, 1200)]}


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("text", "needle", "key", "problem"), [
    (_replace('1 = { menu = "billing" }', '1 = { menu = "biling" }'), "biling",
     "menus.main.options.1.menu", "unknown menu 'biling'"),
    (_replace('1 = { queue = "billing", priority', '1 = { queue = "billing2", priority'), "billing2",
     "menus.billing.options.1.queue", "unknown queue 'billing2'"),
    (_replace('"*" = { action = "back" }', '"5x" = { action = "back" }'), "5x",
     "menus.billing.options.5x", "not a key of the keypad"),
    (_replace('prompt = "billing"\n', ''), "[menus.billing]", "menus.billing", "missing key 'prompt'"),
    (_replace('prompt = { en = "main-en", es = "main-es" }', 'prompt = { en = "main-en" }'), "main-en",
     "menus.main.prompt", "no prompt for language(s) es"),
    (_replace('timezone = "Europe/Madrid"', 'timezone = "Europe/Madird"'), "Madird",
     "hours.timezone", "unknown time zone"),
    (_replace('mon = ["08:00-20:00"]', 'mon = ["08:00-25:00"]'), "25:00", "hours.mon", "not a time of day"),
    (_replace('mon = ["08:00-20:00"]', 'mon = ["20:00-08:00"]'), "20:00-08", "hours.mon", "ends before"),
    (_replace('holidays = ["2026-12-25"]', 'holidays = ["2026-13-25"]'), "2026-13", "hours.holidays",
     "not a date"),
    (_replace("timeout_s = 4", "timeout_s = -1"), "timeout_s = -1", "menus.main.timeout_s", "> 0"),
    (_replace("retries = 1", 'retries = "two"'), "retries", "menus.main.retries", "whole number"),
    (_replace('0 = { action = "operator" }', '0 = { action = "dance" }'), "dance",
     "menus.main.options.0.action", "unknown action 'dance'"),
    (_replace('0 = { action = "operator" }', '0 = { queue = "support", menu = "main" }'), '0 = { queue',
     "menus.main.options.0", "exactly one of"),
    (_replace('0 = { action = "operator" }', '0 = { queue = "support", colour = "red" }'), "colour",
     "menus.main.options.0.colour", "unknown key"),
    (_replace('skills = { billing = 1 }', 'skills = { juggling = 1 }'), "juggling",
     "menus.billing.skills.juggling", "unknown skill"),
    (_replace('skills = { billing = 1 }', 'skills = { billing = 11 }'), "billing = 11",
     "menus.billing.skills.billing", "1..10"),
    (_replace('entry = "main"', 'entry = "start"'), "entry", "entry", "unknown menu 'start'"),
    (_replace('fallback = { queue = "support" }\n', ''), "order-status",
     "menus.main.options.2", "needs a top-level fallback"),
    (_replace('operator = { queue = "support" }\n', ''), '"operator"',
     "menus.main.options.0", "needs a top-level operator"),
    (_replace('operator = { queue = "support" }', 'operator = { action = "back" }'), "operator =",
     "operator.action", "cannot be 'back'"),
    (_replace('default = { queue = "support" }', 'default = { action = "repeat" }'), "repeat",
     "menus.main.default.action", "cannot be 'repeat'"),
    (_replace("[[priority]]", "[[priority]]\ncolour = 1"), "colour", "priority.0.colour", "unknown key"),
    (_replace('[languages.es]\nskill = "spanish"', '[languages.es]\nskill = "klingon"'), "klingon",
     "languages.es.skill", "unknown skill"),
    (_replace('entry = "main"', 'entry = "main"\nmood = "happy"'), "mood", "mood", "unknown key"),
    (_replace('2 = { self_service = "order-status", then = "main" }',
              '2 = { self_service = "order-status", then = "nowhere" }'), "nowhere",
     "menus.main.options.2.then.menu", "unknown menu 'nowhere'"),
    (_replace('retries = 1', 'retries = 1\nretries = 2'), "retries = 2", "", "not valid TOML"),
])
def test_each_error_names_file_line_and_key(text: str, needle: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_menus(text, "center/ivr.toml", DEMO)
    message = str(info.value)
    line = _line(text, needle)
    prefix = f"center/ivr.toml:{line}: {key}: " if key else f"center/ivr.toml:{line}: "
    assert message.startswith(prefix), message
    assert problem in message, message
    assert "\n" not in message and "Traceback" not in message


def test_unknown_names_are_not_checked_without_known_sets() -> None:
    text = _replace('1 = { queue = "billing", priority', '1 = { queue = "elsewhere", priority')
    assert parse_menus(text).menus["billing"].options["1"].name == "elsewhere"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nope.toml'}: cannot read")):
        load_menus(tmp_path / "nope.toml")


def test_no_menus_at_all() -> None:
    with pytest.raises(ConfigError, match=r"^x\.toml: menus: at least one menu"):
        parse_menus('entry = "main"\n', "x.toml")
