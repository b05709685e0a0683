"""Do-not-call lists and the compliance audit on SQLite: the ``DncStoreMixin`` half of ``SqliteStore``
(schema: ``MIGRATIONS[2]``)."""

from __future__ import annotations


class DncStoreMixin:
    """DNC and audit methods of ``SqliteStore``; they use its ``_tx()`` transaction helper."""
