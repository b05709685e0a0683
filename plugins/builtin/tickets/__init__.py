"""Tickets (work orders): the built-in ticket plugin on the engine's store (``plugin``) and its department
routing rules (``routing``)."""

from __future__ import annotations

from plugins.builtin.tickets.plugin import TicketsPlugin

__all__ = ["TicketsPlugin"]
