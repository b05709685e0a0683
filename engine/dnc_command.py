"""``switchboard dnc``: the do-not-call lists in the store the server uses (``<data-dir>/switchboard.sqlite3``, or
the one ``--store URL`` or the ``[store] url`` of ``--config FILE`` names: ``engine.store.target``).

::

    switchboard dnc import FILE [--list global|blocked|campaign:ID] [--region CC] [--data-dir ./var]
    switchboard dnc add NUMBER [--list ...] [--reason TEXT] [--region CC] [--data-dir ./var]
    switchboard dnc remove NUMBER [--list ...] [--data-dir ./var]
    switchboard dnc check NUMBER [--data-dir ./var]

``import`` reads one number per line or a CSV with a ``phone`` column and prints ``FILE: N added to list L`` and
then each invalid number as ``FILE:LINE: phone: reason``; exit status 0 once the file was read (an invalid number
never costs another). ``add`` / ``remove`` say whether the list changed; ``check`` prints the lists a number is on
(exit status 1 when it is on none, so scripts can test it). Exit status 2, with one line on stderr naming the
file, number or list, for a file that cannot be read, an invalid number or list name, or a store that cannot be
opened. The rules read the store on every check: a number added here is refused from the next dial on, even by
a running server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.errors import SwitchboardError
from engine.store.target import add_store_arguments, store_from_args

MAX_FILE_BYTES = 200 * 1024 * 1024

_LIST_HELP = "the list: global (default), blocked (people who complained) or campaign:ID"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dnc_action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser, *, listed: bool = True) -> None:
        if listed:
            sub.add_argument("--list", dest="list_name", default="global", metavar="LIST", help=_LIST_HELP)
        sub.add_argument("--data-dir", default="./var", help="where the store lives (default ./var)")
        add_store_arguments(sub)

    sub = actions.add_parser("import", help="add the numbers of a file to a list",
                             description="Add the numbers of FILE (one per line, or CSV with a 'phone' column) "
                                         "to a do-not-call list.")
    sub.add_argument("file", metavar="FILE", help="the file (UTF-8)")
    sub.add_argument("--region", default=None, metavar="CC", help="ISO country of numbers written without +")
    common(sub)
    sub = actions.add_parser("add", help="add one number to a list", description="Add NUMBER to a list.")
    sub.add_argument("number", metavar="NUMBER")
    sub.add_argument("--reason", default="", help="why (kept with the entry)")
    sub.add_argument("--region", default=None, metavar="CC", help="ISO country if NUMBER has no +")
    common(sub)
    sub = actions.add_parser("remove", help="take one number off a list", description="Take NUMBER off a list.")
    sub.add_argument("number", metavar="NUMBER")
    common(sub)
    sub = actions.add_parser("check", help="the lists a number is on", description="Print the lists NUMBER is on.")
    sub.add_argument("number", metavar="NUMBER")
    common(sub, listed=False)


def _open(args: argparse.Namespace) -> Any:
    """The store ``--data-dir``, ``--store`` and ``--config`` name, created (with its directory) as needed."""
    from engine.store import open_store

    return open_store(store_from_args(args))


def _read(name: str) -> str:
    path = Path(name)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SwitchboardError(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: split the file")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SwitchboardError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise SwitchboardError(f"{name}: cannot read: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SwitchboardError as exc:
        print(f"switchboard dnc {args.dnc_action}: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from engine.store.dnc_sql import dnc_list_name, e164

    action = args.dnc_action
    list_name = dnc_list_name(args.list_name) if action != "check" else ""
    text = _read(args.file) if action == "import" else ""
    number = e164(args.number, getattr(args, "region", None)) if action in ("add", "check") else ""
    store = _open(args)
    try:
        if action == "import":
            added, errors = store.dnc_import(text, list_name=list_name, source=str(args.file), region=args.region)
            print(f"{args.file}: {added} added to list {list_name}, {len(errors)} invalid")
            for error in errors:
                print(error.format(str(args.file)))
            return 0
        if action == "add":
            new = store.dnc_add(number, list_name=list_name, reason=args.reason, source="switchboard dnc add")
            print(f"{number}: {'added to' if new else 'already on'} list {list_name}")
            return 0
        if action == "remove":
            gone = store.dnc_remove(args.number, list_name)
            print(f"{args.number}: {'removed from' if gone else 'was not on'} list {list_name}")
            return 0
        lists = sorted(store.dnc_lists_for(number))
        print(f"{number}: {', '.join(lists) if lists else 'on no list'}")
        return 0 if lists else 1
    finally:
        store.close()
