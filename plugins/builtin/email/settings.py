"""The e-mail channel's configuration: the ``[plugins.email]`` section, validated strictly.

Keys (all optional)::

    [plugins.email]
    listen_host = "127.0.0.1"        # where the SMTP listener binds
    listen_port = 2525               # 0 = any free port
    default_queue = "email"          # queue of mail to an address not listed in [plugins.email.queues]
    smtp_host = "127.0.0.1"          # the outbound relay replies go through
    smtp_port = 25
    from_address = "support@localhost"
    max_size = 10485760              # largest message accepted, in bytes
    hostname = "switchboard"         # the name the listener greets with

    [plugins.email.queues]           # recipient address -> queue (addresses compared case-insensitively)
    "support@example.com" = "support-email"

An unknown key or a value of the wrong type is a ``ConfigError`` naming the file, the line and the key when the
section came from a TOML file (``engine.tomlfile.TomlFile``), else the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.tomlfile import TomlFile

SECTION: tuple[str, ...] = ("plugins", "email")


@dataclass(frozen=True, slots=True)
class EmailSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525
    default_queue: str = "email"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    from_address: str = "support@localhost"
    max_size: int = 10 * 1024 * 1024
    hostname: str = "switchboard"
    queues: dict[str, str] = field(default_factory=dict)

    def queue_for(self, recipients: Sequence[str]) -> str:
        """The queue of the first recipient listed in ``queues``, else ``default_queue``."""
        for address in recipients:
            queue = self.queues.get(address.lower())
            if queue is not None:
                return queue
        return self.default_queue

    @classmethod
    def from_section(cls, section: Any, *, toml: TomlFile | None = None,
                     key_path: Sequence[str] = SECTION) -> EmailSettings:
        """Validate ``section`` (the ``[plugins.email]`` mapping). ``toml``: the file it came from, for
        ``file:line: key`` messages."""
        path = tuple(key_path)

        def fail(keys: Sequence[str], problem: str) -> ConfigError:
            if toml is not None:
                return toml.error((*path, *keys), problem)
            return ConfigError(f"{'.'.join((*path, *keys))}: {problem}")

        if not isinstance(section, Mapping):
            raise fail((), "expected a table")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise fail((key,), f"unknown key (allowed: {', '.join(sorted(known))})")
            if key == "queues":
                values[key] = _queues(value, lambda k, p: fail(("queues", *k), p))
            elif key in ("listen_port", "smtp_port", "max_size"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise fail((key,), f"expected a whole number, got {value!r}")
                if key.endswith("port") and not 0 <= value <= 65535:
                    raise fail((key,), f"not a port number: {value}")
                if key == "max_size" and value <= 0:
                    raise fail((key,), "must be > 0")
                values[key] = value
            else:
                if not isinstance(value, str) or not value.strip():
                    raise fail((key,), f"expected a non-empty string, got {value!r}")
                if key == "from_address" and "@" not in value:
                    raise fail((key,), f"not an e-mail address: {value!r}")
                values[key] = value.strip()
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> EmailSettings:
        """The settings in an engine configuration mapping (defaults when it has no ``[plugins.email]``)."""
        plugins = (config or {}).get("plugins")
        section = plugins.get("email") if isinstance(plugins, Mapping) else None
        return cls() if section is None else cls.from_section(section)

    @classmethod
    def load(cls, path: str | Path) -> EmailSettings:
        """Read the ``[plugins.email]`` section of a TOML file (defaults when absent)."""
        return cls.from_toml(TomlFile.read(path))

    @classmethod
    def from_toml(cls, toml: TomlFile) -> EmailSettings:
        """The ``[plugins.email]`` section of a parsed TOML file (defaults when absent)."""
        plugins = toml.data.get("plugins", {})
        section = plugins.get("email") if isinstance(plugins, Mapping) else None
        return cls() if section is None else cls.from_section(section, toml=toml)


def _queues(value: Any, fail: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise fail((), "expected a table of address = queue")
    out = {}
    for address, queue in value.items():
        if "@" not in address:
            raise fail((address,), "not an e-mail address")
        if not isinstance(queue, str) or not queue:
            raise fail((address,), f"expected a queue name, got {queue!r}")
        out[address.lower()] = queue
    return out
