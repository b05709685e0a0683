"""Which store a command opens: ``--store``, else ``[store] url`` of its configuration, else the SQLite file in the
data directory.

``switchboard serve`` and the commands that work on its store (``leads``, ``dnc``, ``report``) all call
``store_target`` with what they were given, so they agree on one store. A target is a ``postgresql://`` (or
``postgres://``) URL, or the path of an SQLite file. Errors name the option (``--store``) or the file, line and
key (``center.toml:3: store.url``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import SwitchboardError

if TYPE_CHECKING:
    from engine.tomlfile import TomlFile

STORE_FILE = "switchboard.sqlite3"
"""The SQLite store's file in the data directory, when no other store is named."""
POSTGRES_SCHEMES = ("postgresql", "postgres")

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_USER_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:?#]*):[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*")


def is_postgres_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database (rather than an SQLite file)."""
    found = _URL.match(target)
    return found is not None and found.group(1).lower() in POSTGRES_SCHEMES


def redact(url: str) -> str:
    """``url`` with its password (in the user part or as ``?password=``) replaced by ``***``, for messages."""
    return _QUERY_PASSWORD.sub(r"\1***", _USER_PASSWORD.sub(r"\1:***@", url, count=1))


def target_problem(target: Any) -> str | None:
    """Why ``target`` cannot name a store, or ``None`` when it can (whether it exists is for opening to say)."""
    if not isinstance(target, str) or not target.strip():
        return f"expected a postgresql:// URL or an SQLite file path, got {target!r}"
    found = _URL.match(target)
    if found is not None and not is_postgres_url(target):
        return f"unsupported URL scheme {found.group(1)!r} (expected postgresql:// or an SQLite file path)"
    return None


def add_store_arguments(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    """``--store URL`` on a command that opens the store, and ``--config FILE`` (whose ``[store] url`` is read)
    unless the command has its own (``config=False``)."""
    parser.add_argument("--store", metavar="URL", default=None,
                        help="the store: a postgresql://user@host/db URL or an SQLite file (default: [store] url "
                             f"of the configuration, else <data-dir>/{STORE_FILE})")
    if config:
        parser.add_argument("--config", metavar="FILE", default=None,
                            help="the configuration serve runs with: its [store] url names the store")


def store_target(data_dir: str | Path, option: str | None = None, config: TomlFile | None = None) -> str:
    """The store to open: ``option`` (``--store``) when given, else ``[store] url`` of ``config`` (a
    ``engine.tomlfile.TomlFile``, or ``None``) when it has one, else ``<data_dir>/switchboard.sqlite3``.
    ``SwitchboardError`` (``ConfigError`` for the file) naming the option or key when the one given is unusable.
    The data directory is not created here."""
    if option is not None:
        problem = target_problem(option)
        if problem is not None:
            raise SwitchboardError(f"--store {redact(option)!r}: {problem}")
        return option
    default = str(Path(data_dir) / STORE_FILE)
    if config is None or config.data.get("store") is None:
        return default
    table = config.data["store"]
    if not isinstance(table, dict):
        raise config.error(("store",), 'expected a table with url = "postgresql://..."')
    for key in table:
        if key != "url":
            raise config.error(("store", key), "unknown key (allowed: url)")
    if "url" not in table:
        return default
    problem = target_problem(table["url"])
    if problem is not None:
        raise config.error(("store", "url"), problem)
    return str(table["url"])


def store_from_args(args: argparse.Namespace) -> str:
    """``store_target`` of a command's ``--data-dir``, ``--store`` and ``--config`` (``add_store_arguments``)."""
    from engine.tomlfile import TomlFile

    config = TomlFile.read(args.config) if getattr(args, "config", None) else None
    return store_target(args.data_dir, args.store, config)


__all__ = ["STORE_FILE", "add_store_arguments", "is_postgres_url", "redact", "store_from_args", "store_target",
           "target_problem"]
