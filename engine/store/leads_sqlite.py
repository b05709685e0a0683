"""Lead lists on SQLite: the ``LeadStoreMixin`` half of ``SqliteStore`` (schema: ``MIGRATIONS[1]``)."""

from __future__ import annotations


class LeadStoreMixin:
    """Lead methods of ``SqliteStore``; they use its ``_tx()`` transaction helper."""
