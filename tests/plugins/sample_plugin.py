"""A plugin module loaded by its dotted path from configuration in the tests."""

from __future__ import annotations

from plugins import hookimpl

__version__ = "9.9"


@hookimpl
def crm_lookup(customer: str) -> dict:
    return {"from": "sample"}
