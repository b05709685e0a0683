"""Loading an IVR menu file (TOML, format in ``docs/ivr.md``) into ``engine.ivr.IvrConfig``.

``load_menus(path, known=...)`` reads and validates the whole file; every problem is a ``ConfigError`` reading
``file:line: key.path: problem`` (through ``engine.tomlfile.TomlFile``), so a malformed IVR stops the start with a
message an operator can act on. ``Known`` carries the names the file may refer to outside itself (queues,
workflows, skills: ``Known.from_center(center_config)``); an empty set means "not checked".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.config import WEEKDAYS, check_timezone
from engine.errors import ConfigError
from engine.ivr import DEFAULT_PROMPTS, IvrConfig, Language, Menu, PriorityRule, Target
from engine.model import MAX_SKILL_LEVEL, MIN_SKILL_LEVEL, CenterConfig, OpenHours
from engine.tomlfile import TomlFile

KeyPath = tuple[str | int, ...]

_DIGITS = re.compile(r"^[0-9*#]{1,8}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_ACTIONS = ("repeat", "back", "operator", "hangup")
# The key naming a target's kind, and the kind it names. ``language`` goes with ``menu`` (the next menu).
_KIND_KEYS = {"menu": "menu", "queue": "queue", "workflow": "workflow", "self_service": "self-service",
              "voicemail": "voicemail", "language": "language", "action": ""}
_TARGET_EXTRA = {"queue": {"skills", "priority"}, "workflow": {"skills", "priority"}, "self-service": {"then"},
                 "language": {"menu"}}
# Kinds a target may not have, by where it is: a default that asks again would never end, and the targets outside
# menus (closed hours, operator, fallback, a step's continuation) have no menu to return to.
_FORBIDDEN = {"default": ("repeat", "back"), "then": ("self-service", "language", "repeat", "back"),
              "closed": ("self-service", "language", "repeat", "back", "operator"),
              "operator": ("self-service", "language", "repeat", "back", "operator"),
              "fallback": ("self-service", "language", "repeat", "back")}
_TOP_KEYS = {"entry", "default_language", "languages", "hours", "closed", "lookup", "lookup_timeout_s",
             "self_service_timeout_s", "operator", "fallback", "priority", "prompts", "menus"}
_MENU_KEYS = {"prompt", "options", "timeout_s", "retries", "default", "skills", "invalid_prompt", "timeout_prompt"}
_HOURS_KEYS = {"timezone", "holidays", *WEEKDAYS}


@dataclass(frozen=True)
class Known:
    """Names defined elsewhere that the menu file may use; an empty set is not checked."""

    queues: frozenset[str] = frozenset()
    workflows: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()

    @classmethod
    def from_center(cls, center: CenterConfig) -> Known:
        return cls(frozenset(q.id for q in center.queues), frozenset(w.id for w in center.workflows),
                   frozenset(center.skills))

    @classmethod
    def of(cls, queues: Iterable[str] = (), workflows: Iterable[str] = (), skills: Iterable[str] = ()) -> Known:
        return cls(frozenset(queues), frozenset(workflows), frozenset(skills))


def load_menus(path: str | Path, known: Known | None = None) -> IvrConfig:
    """Read and validate the menu file at ``path``. ``ConfigError``: ``file:line: key: problem``."""
    return _Loader(TomlFile.read(path), known or Known()).load()


def parse_menus(text: str, path: str = "<string>", known: Known | None = None) -> IvrConfig:
    """As ``load_menus``, from the text of a file (``path`` is only used in messages)."""
    return _Loader(TomlFile.parse(text, path), known or Known()).load()


class _Loader:
    def __init__(self, toml: TomlFile, known: Known) -> None:
        self.toml = toml
        self.known = known
        self.menu_ids: set[str] = set()
        self.languages: dict[str, Language] = {}
        self.uses_self_service: KeyPath | None = None
        self.uses_operator: KeyPath | None = None

    def error(self, key: KeyPath, problem: str) -> ConfigError:
        return self.toml.error(key, problem)

    # -------------------------------------------------------------------------------------- scalars ----

    def table(self, value: Any, key: KeyPath, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {value!r}")
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise self.error((*key, name), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, value: Any, key: KeyPath) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, value: Any, key: KeyPath) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.error(key, f"expected a number of seconds > 0, got {value!r}")
        return float(value)

    def integer(self, value: Any, key: KeyPath, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"expected a whole number {low}..{high}, got {value!r}")
        return value

    def skills(self, value: Any, key: KeyPath) -> dict[str, int]:
        out = {}
        for name, level in self.table(value, key).items():
            if self.known.skills and name not in self.known.skills:
                raise self.error((*key, name), f"unknown skill {name!r} (known: {', '.join(sorted(self.known.skills))})")
            out[name] = self.integer(level, (*key, name), MIN_SKILL_LEVEL, MAX_SKILL_LEVEL)
        return out

    # -------------------------------------------------------------------------------------- targets ----

    def target(self, value: Any, key: KeyPath, *, where: str = "option") -> Target:
        data = self.table(value, key)
        kinds = [k for k in _KIND_KEYS if k in data and not (k == "menu" and "language" in data)]
        if len(kinds) != 1:
            raise self.error(key, "a target needs exactly one of " + ", ".join(_KIND_KEYS) +
                             (f" (got {', '.join(kinds)})" if kinds else ""))
        kind_key = kinds[0]
        name = self.string(data[kind_key], (*key, kind_key))
        kind = _KIND_KEYS[kind_key] or name
        if kind_key == "action" and name not in _ACTIONS:
            raise self.error((*key, "action"), f"unknown action {name!r} (one of: {', '.join(_ACTIONS)})")
        self.table(data, key, {kind_key, "prompt", *_TARGET_EXTRA.get(kind, set())})
        if kind in _FORBIDDEN.get(where, ()):
            raise self.error((*key, kind_key), f"a {where} target cannot be {kind!r}")
        if kind in ("queue", "workflow"):
            known = self.known.queues if kind == "queue" else self.known.workflows
            if known and name not in known:
                raise self.error((*key, kind_key), f"unknown {kind} {name!r} (known: {', '.join(sorted(known))})")
        menu = ""
        if kind == "menu":
            self.check_menu(name, (*key, "menu"))
        elif kind == "language":
            self.check_language(name, (*key, "language"))
            if "menu" not in data:
                raise self.error(key, "a language target needs the menu entered next: menu = \"<id>\"")
            menu = self.string(data["menu"], (*key, "menu"))
            self.check_menu(menu, (*key, "menu"))
        elif kind == "self-service":
            self.uses_self_service = self.uses_self_service or key
        elif kind == "operator":
            self.uses_operator = self.uses_operator or key
        then = None
        if "then" in data:
            then_value = data["then"]
            if isinstance(then_value, str):
                then_value = {"menu": then_value}
            then = self.target(then_value, (*key, "then"), where="then")
        prompt = self.string(data["prompt"], (*key, "prompt")) if "prompt" in data else ""
        skills = self.skills(data["skills"], (*key, "skills")) if "skills" in data else {}
        priority = self.integer(data["priority"], (*key, "priority"), 0, 1000) if "priority" in data else 0
        return Target(kind, name, menu, skills, priority, prompt, then)

    def check_menu(self, name: str, key: KeyPath) -> None:
        if name not in self.menu_ids:
            raise self.error(key, f"unknown menu {name!r} (menus: {', '.join(sorted(self.menu_ids))})")

    def check_language(self, code: str, key: KeyPath) -> None:
        if self.languages and code not in self.languages:
            raise self.error(key, f"unknown language {code!r} (languages: {', '.join(sorted(self.languages))})")

    # ---------------------------------------------------------------------------------------- parts ----

    def hours(self, value: Any, key: KeyPath) -> OpenHours:
        data = self.table(value, key, _HOURS_KEYS)
        timezone = self.string(data.get("timezone", "UTC"), (*key, "timezone"))
        check_timezone(timezone, self.toml.where((*key, "timezone")))
        weekly: dict[int, list[tuple[int, int]]] = {}
        for index, day in enumerate(WEEKDAYS):
            spans = data.get(day, [])
            if not isinstance(spans, list):
                raise self.error((*key, day), f"expected a list of \"HH:MM-HH:MM\" ranges, got {spans!r}")
            for span in spans:
                weekly.setdefault(index, []).append(self.span(span, (*key, day)))
        holidays = data.get("holidays", [])
        if not isinstance(holidays, list):
            raise self.error((*key, "holidays"), f"expected a list of dates, got {holidays!r}")
        out = []
        for day in holidays:
            try:
                out.append(day.isoformat() if isinstance(day, date) else date.fromisoformat(str(day)).isoformat())
            except ValueError:
                raise self.error((*key, "holidays"), f"{day!r} is not a date (YYYY-MM-DD)") from None
        return OpenHours(timezone=timezone, weekly=weekly, holidays=tuple(out))

    def span(self, text: Any, key: KeyPath) -> tuple[int, int]:
        parts = str(text).split("-")
        minutes = []
        for part in parts:
            m = _CLOCK.match(part.strip())
            if len(parts) != 2 or m is None:
                raise self.error(key, f"{text!r} is not a HH:MM-HH:MM range")
            value = int(m.group(1)) * 60 + int(m.group(2))
            if int(m.group(2)) >= 60 or value > 24 * 60:
                raise self.error(key, f"{text!r}: {part.strip()!r} is not a time of day")
            minutes.append(value)
        if minutes[0] >= minutes[1]:
            raise self.error(key, f"{text!r}: the range ends before it starts")
        return minutes[0], minutes[1]

    def prompt(self, value: Any, key: KeyPath) -> dict[str, str]:
        if isinstance(value, str) and value:
            return {"": value}
        if isinstance(value, dict) and value:
            out = {}
            for code, name in value.items():
                self.check_language(code, (*key, code))
                out[code] = self.string(name, (*key, code))
            missing = sorted(set(self.languages) - set(out))
            if missing:
                raise self.error(key, f"no prompt for language(s) {', '.join(missing)}")
            return out
        raise self.error(key, f"expected a prompt name or a table of language = prompt name, got {value!r}")

    def menu(self, menu_id: str, value: Any, key: KeyPath, prompts: dict[str, str]) -> Menu:
        data = self.table(value, key, _MENU_KEYS)
        if "prompt" not in data:
            raise self.error(key, "missing key 'prompt'")
        if "options" not in data:
            raise self.error(key, "missing key 'options' (a table of digits = target)")
        options = {}
        for digits, target in self.table(data["options"], (*key, "options")).items():
            if not _DIGITS.match(digits):
                raise self.error((*key, "options", digits), f"{digits!r} is not a key of the keypad (0-9, *, #)")
            options[digits] = self.target(target, (*key, "options", digits))
        if not options:
            raise self.error((*key, "options"), "a menu needs at least one option")
        default = (self.target(data["default"], (*key, "default"), where="default") if "default" in data
                   else Target("hangup", prompt=prompts["goodbye"]))
        return Menu(
            id=menu_id,
            prompt=self.prompt(data["prompt"], (*key, "prompt")),
            options=options,
            timeout_s=self.number(data.get("timeout_s", 5.0), (*key, "timeout_s")),
            retries=self.integer(data.get("retries", 2), (*key, "retries"), 0, 20),
            default=default,
            skills=self.skills(data.get("skills", {}), (*key, "skills")),
            invalid_prompt=self.string(data["invalid_prompt"], (*key, "invalid_prompt"))
            if "invalid_prompt" in data else "",
            timeout_prompt=self.string(data["timeout_prompt"], (*key, "timeout_prompt"))
            if "timeout_prompt" in data else "",
        )

    # ----------------------------------------------------------------------------------------- whole ----

    def load(self) -> IvrConfig:
        data = self.table(self.toml.data, (), _TOP_KEYS)
        menus_table = self.table(data.get("menus", {}), ("menus",))
        if not menus_table:
            raise self.error(("menus",), "at least one menu is needed ([menus.<id>])")
        self.menu_ids = set(menus_table)
        for code, lang in self.table(data.get("languages", {}), ("languages",)).items():
            lang = self.table(lang, ("languages", code), {"skill", "level"})
            skill = self.string(lang["skill"], ("languages", code, "skill")) if "skill" in lang else ""
            if skill and self.known.skills and skill not in self.known.skills:
                raise self.error(("languages", code, "skill"), f"unknown skill {skill!r}")
            level = self.integer(lang.get("level", 1), ("languages", code, "level"), MIN_SKILL_LEVEL, MAX_SKILL_LEVEL)
            self.languages[code] = Language(code, skill, level)
        default_language = self.string(data.get("default_language", next(iter(self.languages), "en")),
                                       ("default_language",))
        self.check_language(default_language, ("default_language",))
        prompts = dict(DEFAULT_PROMPTS)
        for name, value in self.table(data.get("prompts", {}), ("prompts",), set(DEFAULT_PROMPTS)).items():
            prompts[name] = self.string(value, ("prompts", name))
        entry = self.string(data.get("entry", ""), ("entry",)) if "entry" in data else ""
        if not entry:
            raise self.error(("entry",), "missing key 'entry' (the first menu)")
        self.check_menu(entry, ("entry",))
        menus = {menu_id: self.menu(menu_id, value, ("menus", menu_id), prompts)
                 for menu_id, value in menus_table.items()}
        operator = self.target(data["operator"], ("operator",), where="operator") if "operator" in data else None
        if self.uses_operator and operator is None:
            raise self.error(self.uses_operator, "the operator action needs a top-level operator = { queue = ... }")
        fallback = self.target(data["fallback"], ("fallback",), where="fallback") if "fallback" in data else None
        if self.uses_self_service and fallback is None:
            raise self.error(self.uses_self_service, "a self-service step needs a top-level fallback = "
                             "{ queue = ... } for when it fails")
        closed = (self.target(data["closed"], ("closed",), where="closed") if "closed" in data
                  else Target("hangup", prompt=prompts["closed"]))
        rules = []
        priority = data.get("priority", [])
        if not isinstance(priority, list):
            raise self.error(("priority",), "expected an array of tables: [[priority]]")
        for i, rule in enumerate(priority):
            rule = self.table(rule, ("priority", i), {"attribute", "equals", "priority"})
            if "attribute" not in rule:
                raise self.error(("priority", i), "missing key 'attribute'")
            rules.append(PriorityRule(self.string(rule["attribute"], ("priority", i, "attribute")),
                                      rule.get("equals", True),
                                      self.integer(rule.get("priority", 10), ("priority", i, "priority"), 0, 1000)))
        lookup = data.get("lookup", bool(rules))
        if not isinstance(lookup, bool):
            raise self.error(("lookup",), f"expected true or false, got {lookup!r}")
        return IvrConfig(
            entry=entry,
            menus=menus,
            languages=dict(self.languages),
            default_language=default_language,
            hours=self.hours(data["hours"], ("hours",)) if "hours" in data else None,
            closed=closed,
            lookup=lookup,
            lookup_timeout_s=self.number(data.get("lookup_timeout_s", 3.0), ("lookup_timeout_s",)),
            self_service_timeout_s=self.number(data.get("self_service_timeout_s", 10.0),
                                               ("self_service_timeout_s",)),
            operator=operator,
            fallback=fallback,
            priority_rules=tuple(rules),
            prompts=prompts,
        )
