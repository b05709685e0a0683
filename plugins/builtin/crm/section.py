"""Strict validation of a plugin's configuration section, with errors naming the file, line and key.

``Key(types, default, check)`` describes one key; ``validate_section`` returns the section with defaults filled
in, or raises ``ConfigError``: ``center.toml:12: plugins.crm-http.timeout_s: expected a number, got 'soon'`` when
the configuration came from a ``TomlFile``, ``plugins.crm-http.timeout_s: ...`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.tomlfile import TomlFile

REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One key of a section: accepted ``types`` (``bool`` is never taken for a number), its ``default``
    (``REQUIRED`` if it must be given), a ``what`` for messages and an optional ``check`` returning a problem
    (or ``None`` when the value is fine)."""

    types: tuple[type, ...]
    what: str
    default: Any = None
    check: Callable[[Any], str | None] | None = None


def config_error(config_file: TomlFile | None, key_path: Sequence[str | int], problem: str) -> ConfigError:
    """A ``ConfigError`` at ``key_path``: ``file:line: dotted.key: problem`` when ``config_file`` is given."""
    if isinstance(config_file, TomlFile):
        return config_file.error(key_path, problem)
    return ConfigError(f"{'.'.join(str(p) for p in key_path)}: {problem}")


def plugin_section(config: Any, name: str) -> tuple[Mapping[str, Any] | None, TomlFile | None]:
    """``(config["plugins"][name] or None, config["config_file"] or None)`` from ``switchboard_configure``'s
    mapping; a section that is not a table is a ``ConfigError``."""
    config_file = config.get("config_file") if isinstance(config, Mapping) else None
    plugins = config.get("plugins") if isinstance(config, Mapping) else None
    section = plugins.get(name) if isinstance(plugins, Mapping) else None
    if section is not None and not isinstance(section, Mapping):
        raise config_error(config_file, ("plugins", name), f"expected a table, got {section!r}")
    return section, config_file if isinstance(config_file, TomlFile) else None


def check_value(value: Any, key: Key, path: Sequence[str | int], config_file: TomlFile | None) -> Any:
    """``value`` if it has one of the key's types and passes its check; ``ConfigError`` otherwise."""
    bad_bool = isinstance(value, bool) and bool not in key.types
    if bad_bool or not isinstance(value, key.types):
        raise config_error(config_file, path, f"expected {key.what}, got {value!r}")
    problem = key.check(value) if key.check else None
    if problem:
        raise config_error(config_file, path, problem)
    return value


def validate_section(section: Mapping[str, Any], keys: Mapping[str, Key], path: Sequence[str | int],
                     config_file: TomlFile | None) -> dict[str, Any]:
    """The section with every key checked and defaults filled in. Unknown keys are refused (a typo must not be
    silently ignored)."""
    out: dict[str, Any] = {}
    for name in section:
        if name not in keys:
            raise config_error(config_file, (*path, name),
                               f"unknown key (expected one of {', '.join(sorted(keys))})")
    for name, key in keys.items():
        if name in section:
            out[name] = check_value(section[name], key, (*path, name), config_file)
        elif key.default is REQUIRED:
            raise config_error(config_file, (*path, name), f"missing: expected {key.what}")
        else:
            out[name] = key.default
    return out


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be > 0, got {value!r}"


def not_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be >= 0, got {value!r}"
