"""``switchboard token`` and ``switchboard user``: API tokens and users in the store, from the shell, so a fresh
install and scripts can authenticate.

::

    switchboard token create --role admin --name NAME [--agent ID] [--teams T1,T2] [--ttl-days N] [--json]
    switchboard token list [--revoked] [--json]
    switchboard token revoke TOKEN_ID
    switchboard user add NAME --role ROLE [--agent ID] [--teams T1,T2] [--password-stdin]
    switchboard user passwd NAME [--password-stdin]
    switchboard user list [--json]
    switchboard user disable NAME

Every action takes ``--data-dir`` (default ``./var``: the server's store), or ``--store URL`` / ``--config FILE``
(``engine.store.target``). ``token create`` prints the secret
alone on a line (it is shown only this once; ``--json`` prints it with the token's record). Passwords are read
from standard input with ``--password-stdin`` (first line), else asked twice at the terminal. Changes made here
are audited as ``cli:<login name>``. A bad value is one line naming the option, exit status 2.

The agent a user or token acts as is not checked against the routing configuration here (it lives in the
server's journal); the API checks it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from admin_api.auth import create_token
from admin_api.security import hash_password
from engine.errors import StoreError, SwitchboardError
from engine.store.access_records import ROLES
from engine.store.target import add_store_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Both commands share this module: the subcommand name picks the action set."""
    kind = parser.prog.split()[-1]
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", default="./var", help="where the store lives (default ./var)")
        add_store_arguments(sub)

    if kind == "token":
        sub = actions.add_parser("create", help="make an API token and print its secret (shown once)")
        sub.add_argument("--role", required=True, choices=ROLES)
        sub.add_argument("--name", required=True, help="what the token is for (shown in lists and the audit)")
        sub.add_argument("--agent", help="the agent an agent-role token acts as")
        sub.add_argument("--teams", default="", help="comma-separated teams a supervisor token oversees")
        sub.add_argument("--ttl-days", type=float, help="expire after this many days (default: never)")
        sub.add_argument("--json", action="store_true", help="print the secret with the token's record")
        common(sub)
        sub = actions.add_parser("list", help="list tokens (never their secrets)")
        sub.add_argument("--revoked", action="store_true", help="include revoked tokens")
        sub.add_argument("--json", action="store_true")
        common(sub)
        sub = actions.add_parser("revoke", help="revoke a token by its id (tok_...)")
        sub.add_argument("token_id", metavar="TOKEN_ID")
        common(sub)
    else:
        sub = actions.add_parser("add", help="add a user who logs in with a password")
        sub.add_argument("name", metavar="NAME")
        sub.add_argument("--role", required=True, choices=ROLES)
        sub.add_argument("--agent", help="the agent an agent user is")
        sub.add_argument("--teams", default="", help="comma-separated teams a supervisor oversees")
        sub.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        common(sub)
        sub = actions.add_parser("passwd", help="set a user's password (ends its sessions)")
        sub.add_argument("name", metavar="NAME")
        sub.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        common(sub)
        sub = actions.add_parser("list", help="list users")
        sub.add_argument("--json", action="store_true")
        common(sub)
        sub = actions.add_parser("disable", help="disable a user (revokes its tokens)")
        sub.add_argument("name", metavar="NAME")
        common(sub)


def _teams(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SwitchboardError("the two passwords differ")
    else:
        raise SwitchboardError("--password-stdin: give the password on standard input (no terminal to ask at)")
    try:
        return hash_password(password)
    except ValueError as exc:
        raise SwitchboardError(str(exc)) from None


def _who() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _token_action(args: argparse.Namespace, store: Any) -> None:
    if args.action == "create":
        if args.ttl_days is not None and not args.ttl_days > 0:
            raise SwitchboardError(f"--ttl-days must be > 0, got {args.ttl_days}")
        if args.role == "agent" and not args.agent:
            raise SwitchboardError("--agent: an agent token needs the agent it acts as")
        ttl = None if args.ttl_days is None else args.ttl_days * 86400.0
        secret, token = create_token(store, args.name, args.role, agent_id=args.agent, teams=_teams(args.teams),
                                     ttl_s=ttl)
        store.add_audit(_who(), "create", f"token:{token.id}", {"after": token.public()})
        print(json.dumps({"token": secret, "info": token.public()}, indent=1) if args.json else secret)
    elif args.action == "list":
        tokens = store.tokens(include_revoked=args.revoked)
        if args.json:
            print(json.dumps([t.public() for t in tokens], indent=1))
        for t in [] if args.json else tokens:
            state = "revoked" if t.revoked else "active"
            print(f"{t.id}\t{t.role}\t{t.kind}\t{state}\t{t.name}")
    else:
        store.revoke_token(args.token_id)
        store.add_audit(_who(), "revoke", f"token:{args.token_id}")
        print(f"revoked {args.token_id}")


def _user_action(args: argparse.Namespace, store: Any) -> None:
    if args.action == "add":
        if args.role == "agent" and not args.agent:
            raise SwitchboardError("--agent: an agent user needs the agent it is")
        user = store.create_user(args.name, args.role, password_hash=_password(args.password_stdin),
                                 agent_id=args.agent, teams=_teams(args.teams))
        store.add_audit(_who(), "create", f"user:{user.name}", {"after": user.public()})
        print(f"added {user.name} ({user.role})")
    elif args.action == "passwd":
        store.update_user(args.name, password_hash=_password(args.password_stdin))
        store.add_audit(_who(), "password", f"user:{args.name}")
        print(f"password set for {args.name}")
    elif args.action == "list":
        users = store.users()
        if args.json:
            print(json.dumps([u.public() for u in users], indent=1))
        for u in [] if args.json else users:
            print(f"{u.name}\t{u.role}\t{u.agent_id or '-'}\t{','.join(u.teams) or '-'}"
                  f"\t{'disabled' if u.disabled else 'active'}")
    else:
        store.update_user(args.name, disabled=True)
        store.add_audit(_who(), "update", f"user:{args.name}", {"disabled": True})
        print(f"disabled {args.name}")


def run(args: argparse.Namespace) -> int:
    from engine.dnc_command import _open

    action: Callable[[argparse.Namespace, Any], None] = _token_action if args.command == "token" else _user_action
    store = _open(args)
    try:
        action(args, store)
    except StoreError as exc:
        raise SwitchboardError(str(exc)) from None
    finally:
        store.close()
    return 0
