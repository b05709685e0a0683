"""Ticket routing rules: which department queue a new ticket goes to. Pure: no store, no I/O.

Rules are tried in order; the first whose every condition holds wins; no match means the default department.
Conditions (each optional; a rule without any matches everything):

- ``channel``: the contact's channel, or a list of channels;
- ``queue``: the contact's queue, or a list of queues;
- ``keyword``: a word or a list of words, any of which appears in the subject (case-insensitive);
- ``attributes``: a table of customer attributes that must all be equal (``{ tier = "gold" }``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.tomlfile import TomlFile
from plugins.builtin.crm.section import Key, check_value, config_error, validate_section


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


RULE_KEYS = {
    "department": Key((str,), "a department queue name", None, _non_empty),
    "channel": Key((str, list), "a channel name or a list of them", None),
    "queue": Key((str, list), "a queue name or a list of them", None),
    "keyword": Key((str, list), "a word or a list of words", None),
    "attributes": Key((dict,), "a table of customer attributes", None),
}


@dataclass(frozen=True)
class Rule:
    """One routing rule; empty tuples / mapping mean "no condition"."""

    department: str
    channels: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, channel: str, queue: str, subject: str, attributes: Mapping[str, Any]) -> bool:
        if self.channels and channel not in self.channels:
            return False
        if self.queues and queue not in self.queues:
            return False
        lowered = subject.lower()
        if self.keywords and not any(word in lowered for word in self.keywords):
            return False
        return all(key in attributes and attributes[key] == value for key, value in self.attributes.items())


def route(rules: Sequence[Rule], default: str, *, channel: str = "", queue: str = "", subject: str = "",
          attributes: Mapping[str, Any] | None = None) -> str:
    """The department of the first matching rule, else ``default``."""
    for rule in rules:
        if rule.matches(channel, queue, subject, attributes or {}):
            return rule.department
    return default


def _strings(value: Any, path: tuple[str | int, ...], config_file: TomlFile | None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            where = path if isinstance(value, str) else (*path, i)
            raise config_error(config_file, where, f"expected a non-empty string, got {item!r}")
    return tuple(items)


def parse_rules(rules: Any, path: tuple[str | int, ...], config_file: TomlFile | None) -> list[Rule]:
    """``[[...rules]]`` as ``Rule`` objects; ``ConfigError`` naming file:line:key for anything malformed."""
    check_value(rules, Key((list,), "a list of rule tables ([[plugins.tickets.rules]])"), path, config_file)
    out = []
    for i, raw in enumerate(rules):
        here = (*path, i)
        if not isinstance(raw, Mapping):
            raise config_error(config_file, here, f"expected a table, got {raw!r}")
        rule = validate_section(raw, RULE_KEYS, here, config_file)
        if rule["department"] is None:
            raise config_error(config_file, (*here, "department"), "missing: expected a department queue name")
        out.append(Rule(rule["department"].strip(),
                        _strings(rule["channel"], (*here, "channel"), config_file),
                        _strings(rule["queue"], (*here, "queue"), config_file),
                        tuple(w.lower() for w in _strings(rule["keyword"], (*here, "keyword"), config_file)),
                        dict(rule["attributes"] or {})))
    return out
