"""The built-in IVR: menus from a TOML file (``menus``), the trio driver (``service``), the plugin (``plugin``).

The state machine itself is ``engine.ivr``; its events and actions are in ``engine.ivr_events``.
"""

from __future__ import annotations

from plugins.builtin.ivr.menus import Known, load_menus, parse_menus
from plugins.builtin.ivr.plugin import IvrPlugin
from plugins.builtin.ivr.service import IvrService

__all__ = ["IvrPlugin", "IvrService", "Known", "load_menus", "parse_menus"]
