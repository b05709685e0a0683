"""``switchboard leads import --campaign C FILE``: load a CSV lead list into a campaign's store.

Prints ``FILE: N rows: I imported, R rejected (campaign C, import #K)`` and then each row error as
``FILE:LINE: column: reason``; with ``--json``, one JSON object (``ImportResult.to_dict()`` plus ``file``).
Exit status 0 when the file was read, whatever its row errors (a row error never costs another row); 2 for a
file that cannot be read as a lead list (empty, not UTF-8, no ``phone`` column, not comma-separated, too large)
or a store that cannot be opened, with one line on stderr naming the file.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.errors import SwitchboardError
from engine.leads import read_leads
from engine.store.target import add_store_arguments, store_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="leads_action", required=True, metavar="ACTION")
    sub = actions.add_parser("import", help="import a CSV lead list into a campaign",
                             description="Import a CSV lead list (header line with a 'phone' column) into a "
                                         "campaign. Numbers already in the campaign are reported, never added "
                                         "twice.")
    sub.add_argument("file", metavar="FILE", help="the CSV file (UTF-8, comma-separated, header on line 1)")
    sub.add_argument("--campaign", required=True, help="the campaign id the leads belong to")
    sub.add_argument("--data-dir", default="./var", help="where the store lives (default ./var)")
    add_store_arguments(sub)
    sub.add_argument("--region", default=None, metavar="CC",
                     help="ISO country of numbers written without + in rows with no region (e.g. GB)")
    sub.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    if args.leads_action != "import":  # pragma: no cover - argparse refuses other actions
        raise SwitchboardError(f"leads: unknown action {args.leads_action!r}")
    return _import(args)


def _import(args: argparse.Namespace) -> int:
    from engine.store import open_store

    name = str(args.file)
    try:
        parsed = read_leads(args.file, args.campaign, default_region=args.region)
        store = open_store(store_from_args(args))
        try:
            result = store.import_leads(args.campaign, parsed, source=name)
        finally:
            store.close()
    except SwitchboardError as exc:
        print(f"switchboard leads import: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"file": name, **result.to_dict()}, indent=2, sort_keys=True))
        return 0
    print(f"{name}: {result.rows} rows: {result.imported} imported, {result.rejected} rejected "
          f"(campaign {result.campaign}, import #{result.import_id})")
    if result.same_file_as is not None:
        if result.imported == 0:
            print(f"{name}: the same file was already imported (import #{result.same_file_as}); nothing new")
        else:
            print(f"{name}: same content as import #{result.same_file_as}")
    for error in result.errors:
        print(error.format(name))
    return 0
