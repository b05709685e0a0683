"""The built-in plugin "ivr": loads the menu file at configuration time and serves built-in self-service steps.

Configuration (the engine's mapping)::

    [plugins.ivr]
    menus = "examples/ivr.toml"      # the menu file (docs/ivr.md); no key: no IVR

``switchboard_configure`` loads and validates it (against the configuration's ``queues``/``workflows``/
``skills`` when the mapping has them) and raises ``ConfigError`` (``file:line: key: problem``) on a bad file.
``load(config)`` does the same and is what start-up code should call directly when a bad IVR must stop the start
(``PluginManager.configure`` isolates a raising plugin, as for every hook).

Built-in self-service steps (``ivr_self_service``), needing no outside system:

- ``business-hours``: plays ``hours-open-now`` or ``hours-closed-now`` (from the menu file's ``hours`` at the
  step's ``inputs["now"]``) and sets the variable ``open_now``.

Any other step returns ``None``, leaving it to other plugins (a CRM's "order-status").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config import is_open
from engine.errors import ConfigError
from engine.ivr import IvrConfig
from plugins import hookimpl
from plugins.builtin.ivr.menus import Known, load_menus

NAME = "ivr"


def _names(config: Mapping[str, Any], key: str) -> frozenset[str]:
    items = config.get(key, ())
    out = set()
    for item in items if isinstance(items, (list, tuple)) else ():
        name = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", item)
        if isinstance(name, str):
            out.add(name)
    return frozenset(out)


class IvrPlugin:
    """Holds the loaded ``IvrConfig`` (``None`` until configured with a menu file)."""

    def __init__(self) -> None:
        self.config: IvrConfig | None = None

    def load(self, config: Mapping[str, Any] | None) -> IvrConfig | None:
        """Load ``config["plugins"]["ivr"]["menus"]`` if named; ``ConfigError`` on a bad file or section."""
        if not isinstance(config, Mapping):
            return None
        plugins = config.get("plugins")
        section = plugins.get(NAME) if isinstance(plugins, Mapping) else None
        if section is None:
            return None
        if not isinstance(section, Mapping):
            raise ConfigError(f"plugins.{NAME}: expected a table, got {section!r}")
        path = section.get("menus")
        if path is None:
            return None
        if not isinstance(path, str) or not path:
            raise ConfigError(f"plugins.{NAME}.menus: expected the path of a menu file, got {path!r}")
        skills = config.get("skills", ())
        known = Known(_names(config, "queues"), _names(config, "workflows"),
                      frozenset(s for s in skills if isinstance(s, str)) if isinstance(skills, (list, tuple))
                      else frozenset())
        self.config = load_menus(path, known)
        return self.config

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        self.load(config)

    @hookimpl
    def ivr_self_service(self, step: str, contact: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if step == "business-hours":
            hours = self.config.hours if self.config is not None else None
            now = inputs.get("now")
            open_now = hours is None or (isinstance(now, (int, float)) and is_open(hours, float(now)))
            return {"play": ["hours-open-now" if open_now else "hours-closed-now"],
                    "variables": {"open_now": open_now}}
        return None
