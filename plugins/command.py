"""``switchboard plugins [--json]``: the loaded plugins, their versions, where they came from and their hooks."""

from __future__ import annotations

import argparse
import json
from typing import Any

from plugins.manager import PluginManager


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="a TOML configuration whose [plugins] load = [...] (or plugins = [...]) is loaded too")


def _load_config(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from engine.tomlfile import TomlFile

    doc = TomlFile.read(path)
    return {**doc.data, "config_file": doc}


def run(args: argparse.Namespace) -> int:
    manager = PluginManager(_load_config(getattr(args, "config", None)))
    plugins = manager.list_plugins()
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for plugin in plugins:
        print(f"{plugin['name']} {plugin['version'] or '?'} ({plugin['source']})")
        for hook in plugin["hooks"]:
            print(f"    {hook}")
    if not plugins:
        print("no plugins loaded")
    return 0
