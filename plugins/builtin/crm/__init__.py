"""CRM plugins: the built-in CRM on the engine's store (``builtin``), an HTTP adapter to an external CRM
(``http``: registered by ``register_if_configured``), and the agent's screen pop combining them with open tickets
(``screen_pop``)."""

from __future__ import annotations

from plugins.builtin.crm.builtin import CrmPlugin
from plugins.builtin.crm.http import HttpCrm, register_if_configured
from plugins.builtin.crm.screen_pop import screen_pop

__all__ = ["CrmPlugin", "HttpCrm", "register_if_configured", "screen_pop"]
