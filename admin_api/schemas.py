"""The JSON Schemas of the admin API (OpenAPI 3.1 is JSON Schema 2020-12): one registry, shared by request
validation and the ``/openapi.json`` document, so what is documented is what is enforced.

Resource modules ``register`` their own schemas at import; ``ref(name)`` points at one; ``validator(schema)``
compiles a schema whose ``$ref`` s resolve against the registry. Request bodies are closed
(``additionalProperties: false``): an unknown field is refused, never ignored.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS: dict[str, dict[str, Any]] = {}

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""Ids of agents, queues, workflows, campaigns, skills, users: letters, digits, ``_ . : -``; 1 to 64 long."""


def register(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Add ``schema`` under ``name`` (a second registration of the same name must be identical); returns a $ref."""
    if name in SCHEMAS and SCHEMAS[name] != schema:
        raise ValueError(f"schema {name!r} registered twice with different contents")
    SCHEMAS[name] = schema
    return ref(name)


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` (which may ``$ref`` the registry)."""
    return _compiled(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Draft202012Validator:
    root = dict(json.loads(text))
    root["components"] = {"schemas": SCHEMAS}
    return Draft202012Validator(root)


def closed(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object schema with exactly these properties (unknown ones refused)."""
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A page of a list: ``items`` and the cursor of the next page (``null`` on the last one)."""
    return closed({"items": {"type": "array", "items": item},
                   "next_cursor": {"type": ["string", "null"]}}, ("items", "next_cursor"))


ID = {"type": "string", "pattern": ID_PATTERN}
NAME = {"type": "string", "maxLength": 200}
TIME = {"type": "number", "description": "Unix seconds"}
OPTIONAL_TIME = {"type": ["number", "null"], "description": "Unix seconds"}
STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 1000}

ERROR = register("Error", closed({
    "status": {"type": "integer"},
    "code": {"type": "string", "description": "machine-readable, kebab-case"},
    "reason": {"type": "string", "description": "what is wrong, naming the field or parameter"},
}, ("status", "code", "reason")))
