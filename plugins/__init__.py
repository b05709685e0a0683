"""The extension contract of Switchboard: ``hookimpl`` marks a plugin's implementations, ``hookspec`` the specs.

See ``plugins/hookspecs.py`` for every hook and ``docs/plugins.md`` for the author's guide.
"""

from __future__ import annotations

import pluggy

from plugins.hookspecs import PROJECT, Verdict, hookspec

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["hookimpl", "hookspec", "Verdict", "PROJECT"]
