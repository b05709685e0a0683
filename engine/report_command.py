"""``switchboard report``: historical reports from the store the server writes (``<data-dir>/switchboard.sqlite3``,
or the one ``--store`` / ``[store] url`` of ``--config`` names).

::

    switchboard report [--by queue|agent|campaign] [--interval 15min|hour|day] [--from WHEN] [--to WHEN]
                       [--key KEY] [--format csv|json] [--data-dir ./var] [--store URL] [--config FILE]

Prints one row per interval and key: offered, answered, abandoned, service level, ASA, AHT, abandonment, first
contact resolution, transfer rate, CSAT, occupancy, conversions (``engine.reports.CSV_COLUMNS``), as CSV (the
default) or a JSON list. ``WHEN`` is an ISO 8601 date or time (UTC unless it names its offset) or Unix seconds;
the default range is the last 24 hours. Exit status 2, with one line on stderr naming the option, for a bad
option value or a store that cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime

from engine.dnc_command import _open
from engine.errors import StoreError, SwitchboardError
from engine.reports import DIMENSIONS, INTERVALS, report_dicts, roll_up, to_csv
from engine.store.target import add_store_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=DIMENSIONS, default="queue", help="one row per queue, agent or campaign")
    parser.add_argument("--interval", choices=tuple(INTERVALS), default="hour", help="row length (default hour)")
    parser.add_argument("--from", dest="start", default=None, metavar="WHEN", help="start (default 24 h ago)")
    parser.add_argument("--to", dest="end", default=None, metavar="WHEN", help="end (default now)")
    parser.add_argument("--key", default=None, help="one queue, agent or campaign only")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="output (default csv)")
    parser.add_argument("--data-dir", default="./var", help="where the store lives (default ./var)")
    add_store_arguments(parser)


def parse_when(value: str, option: str) -> float:
    """Unix seconds of an ISO 8601 date/time (UTC when no offset is given) or of a number of seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SwitchboardError(f"{option} {value!r}: expected an ISO 8601 date or time, or Unix seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def run(args: argparse.Namespace) -> int:
    try:
        end = parse_when(args.end, "--to") if args.end else time.time()
        start = parse_when(args.start, "--from") if args.start else end - 86400.0
        if not end > start:
            raise SwitchboardError(f"--from/--to: the range is empty ({args.start} .. {args.end})")
        store = _open(args)
        try:
            rows = roll_up(store.report_rows(args.by, start=start, end=end, key=args.key), args.interval)
        except StoreError as exc:
            raise SwitchboardError(str(exc)) from None
        finally:
            store.close()
    except SwitchboardError as exc:
        print(f"switchboard report: error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(report_dicts(rows), indent=1))
    else:
        sys.stdout.write(to_csv(rows))
    return 0
