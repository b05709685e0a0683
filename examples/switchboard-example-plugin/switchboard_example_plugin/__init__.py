"""An example Switchboard plugin: counts the actions it observes and refuses numbers with a configured prefix.

Configure it with::

    [plugins.example]
    refuse_prefixes = ["+1900", "+44909"]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from plugins import Verdict, hookimpl

__version__ = "0.1.0"

RULE = "example-prefix"
DEFAULT_PREFIXES: tuple[str, ...] = ("+1900",)

counts: Counter[str] = Counter()
refuse_prefixes: tuple[str, ...] = DEFAULT_PREFIXES


@hookimpl
def switchboard_configure(config: Any) -> None:
    global refuse_prefixes
    section = ((config or {}).get("plugins") or {})
    own = section.get("example", {}) if isinstance(section, dict) else {}
    refuse_prefixes = tuple(own.get("refuse_prefixes", DEFAULT_PREFIXES))
    counts.clear()


@hookimpl
def observe_action(action: Any, now: float) -> None:
    counts[type(action).__name__] += 1


@hookimpl
def compliance_check(request: Any) -> Verdict | None:
    number = str(request.get("number", ""))
    for prefix in refuse_prefixes:
        if number.startswith(prefix):
            return Verdict(False, f"number {number} starts with the refused prefix {prefix}", RULE)
    return None
