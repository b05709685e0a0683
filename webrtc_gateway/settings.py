"""The gateway's configuration: the ``[plugins.webrtc]`` section, validated strictly.

Keys (all optional)::

    [plugins.webrtc]
    enabled = true                # a section turns the gateway on; false keeps it off
    workers = 2                   # media worker processes (0: one per CPU, at most 8)
    grace_s = 30                  # an agent's session outlives its socket / line this long
    ring_timeout_s = 30           # a web caller rung for a preview dial or a callback
    media_timeout_s = 5           # no audio from a browser this long while connected: its media is lost
    record = true                 # record every bridged call (both sides) to <recordings>/<contact>.wav
    recordings = "recordings"     # relative to the data directory
    prompts = "prompts"           # recorded prompts (<name>[-<language>].wav); missing ones are generated
    default_queue = "support"     # where web callers go when there is no IVR (or ivr = false)
    ivr = true                    # web callers enter the IVR of [plugins.ivr] (when it has menus)
    loopback = false              # ICE host candidates on 127.0.0.1 only (tests, a browser on this machine)
    stun = ["stun:stun.example.com:3478"]
    turn = [{ urls = "turn:turn.example.com:3478", username = "u", credential = "p" }]

The embedded demo (``switchboard serve`` without ``--config``) runs the gateway with these defaults. An unknown
key or a value of the wrong type is a ``ConfigError`` naming the file, the line and the key when the section came
from a TOML file, else the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from engine.errors import ConfigError

SECTION: tuple[str, ...] = ("plugins", "webrtc")


@dataclass(frozen=True, slots=True)
class Settings:
    enabled: bool = True
    workers: int = 2
    grace_s: float = 30.0
    ring_timeout_s: float = 30.0
    media_timeout_s: float = 5.0
    record: bool = True
    recordings: str = "recordings"
    prompts: str = "prompts"
    default_queue: str = "support"
    ivr: bool = True
    loopback: bool = False
    stun: tuple[str, ...] = ()
    turn: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def ice(self) -> dict[str, Any]:
        """The ``ice`` field of ``leg.offer`` / ``leg.create_offer`` (``webrtc_gateway.protocol``)."""
        return {"loopback": self.loopback, "stun": list(self.stun), "turn": [dict(t) for t in self.turn]}

    def ice_servers(self) -> list[dict[str, Any]]:
        """The browsers' ``RTCPeerConnection`` ``iceServers``."""
        return [{"urls": url} for url in self.stun] + [dict(t) for t in self.turn]

    @classmethod
    def from_section(cls, section: Any, *, toml: Any = None, key_path: Sequence[str] = SECTION) -> Settings:
        """Validate ``section`` (the ``[plugins.webrtc]`` mapping). ``toml``: the ``TomlFile`` it came from."""
        path = tuple(key_path)

        def fail(keys: Sequence[str | int], problem: str) -> ConfigError:
            if toml is not None:
                return toml.error((*path, *keys), problem)  # type: ignore[no-any-return]
            return ConfigError(f"{'.'.join(str(k) for k in (*path, *keys))}: {problem}")

        if not isinstance(section, Mapping):
            raise fail((), "expected a table")
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise fail((key,), f"unknown key (allowed: {', '.join(sorted(known))})")
            if key in ("enabled", "record", "ivr", "loopback"):
                if not isinstance(value, bool):
                    raise fail((key,), f"expected true or false, got {value!r}")
            elif key == "workers":
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 64:
                    raise fail((key,), f"expected a whole number from 0 to 64, got {value!r}")
            elif key in ("grace_s", "ring_timeout_s", "media_timeout_s"):
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 3600:
                    raise fail((key,), f"expected seconds (0 < s <= 3600), got {value!r}")
                value = float(value)
            elif key in ("recordings", "prompts", "default_queue"):
                if not isinstance(value, str) or not value.strip():
                    raise fail((key,), f"expected a non-empty string, got {value!r}")
            elif key == "stun":
                if not isinstance(value, list) or not all(isinstance(u, str) and u.startswith("stun:")
                                                          for u in value):
                    raise fail((key,), 'expected a list of "stun:host:port" URLs')
                value = tuple(value)
            elif key == "turn":
                value = tuple(_turn(value, lambda k, p: fail(("turn", *k), p)))
            values[key] = value
        return cls(**values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, *, default_on: bool = False) -> Settings | None:
        """The settings of an engine configuration mapping: ``None`` when the gateway is off (no section and not
        ``default_on``, or ``enabled = false``)."""
        plugins = (config or {}).get("plugins")
        section = plugins.get("webrtc") if isinstance(plugins, Mapping) else None
        if section is None:
            return cls() if default_on else None
        settings = cls.from_section(section, toml=(config or {}).get("config_file"))
        return settings if settings.enabled else None


def _turn(value: Any, fail: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise fail((), "expected a list of { urls, username, credential } tables")
    out = []
    for i, server in enumerate(value):
        if not isinstance(server, Mapping) or set(server) - {"urls", "username", "credential"}:
            raise fail((i,), "expected { urls, username, credential }")
        if not all(isinstance(v, str) and v for v in server.values()) or \
                not str(server.get("urls", "")).startswith(("turn:", "turns:")):
            raise fail((i,), 'urls must be a "turn:" or "turns:" URL, username and credential strings')
        out.append(dict(server))
    return out
