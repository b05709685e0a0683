"""The ``switchboard`` command: ``serve``, ``simulate``, ``bench``, ``staffing``, ``leads``, ``dnc``, ``report``,
``token``, ``user``.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and ``run(args)``; this file only
wires them together and turns a ``SwitchboardError`` (bad input) into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

from engine.errors import SwitchboardError

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("engine.serve", "run the engine (routing, journal, and the servers later issues add)"),
    "leads": ("engine.leads_command", "import lead lists into outbound campaigns (CSV)"),
    "dnc": ("engine.dnc_command", "do-not-call lists: import a file, add, remove or check a number"),
    "report": ("engine.report_command", "historical reports per queue, agent or campaign (CSV or JSON)"),
    "staffing": ("engine.staffing", "agents needed for a service-level target (Erlang C / Erlang A)"),
    "token": ("admin_api.commands", "API tokens: create (prints the secret once), list, revoke"),
    "user": ("admin_api.commands", "users who log in: add, passwd, list, disable"),
}
OPTIONAL_COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("plugins.command", "list the loaded plugins, their versions and the hooks they implement"),
}
SIMULATIONS: dict[str, tuple[str, str]] = {
    "inbound": ("engine.sim.command", "simulate an inbound queue in virtual time and print its figures"),
}


def _bench_registry() -> dict[str, str]:
    try:
        from benchmarks import BENCHES
    except ImportError:
        return {}
    return dict(BENCHES)


def _add_modules(subparsers: Any, modules: dict[str, tuple[str, str]]) -> None:
    for name, (module, help_text) in modules.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(_module=module, _kind="command")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard contact-center engine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_modules(commands, COMMANDS)
    _add_modules(commands, {name: spec for name, spec in OPTIONAL_COMMANDS.items()
                            if importlib.util.find_spec(spec[0]) is not None})
    simulate = commands.add_parser("simulate", help="run the simulator", description="Run the simulator.")
    _add_modules(simulate.add_subparsers(dest="simulation", required=True, metavar="KIND"), SIMULATIONS)
    bench = commands.add_parser("bench", help="run a benchmark and print JSON", description="Run a benchmark.")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module in _bench_registry().items():
        doc = (importlib.import_module(module).__doc__ or name).strip().splitlines()[0]
        sub = benches.add_parser(name, help=doc, description=doc)
        importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(_module=module, _kind="bench")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script. Returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        module = importlib.import_module(args._module)
        if args._kind == "bench":
            result: Any = module.run(args)
            print(json.dumps(result, indent=2, sort_keys=True))
            return 0
        return int(module.run(args) or 0)
    except SwitchboardError as exc:
        print(f"switchboard {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
