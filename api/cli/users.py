"""`cluster-ledger user add | passwd | disable | list`: local accounts for the pages.

A password is read from standard input (`--password-stdin`: one line, its line ending
removed), never from the command line, where other users of the machine could read it in the
process list and where it would stay in the shell's history. A refusal is one line on stderr
and exit status 2 (`api.cli.main`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Any

from domain.actors import Role
from domain.errors import InvalidInput
from infra.settings import Settings

if TYPE_CHECKING:
    from infra.accounts import AccountStore


def register(subparsers: Any) -> None:
    user = subparsers.add_parser("user", help="local accounts for the pages")
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create an account")
    add.add_argument("name", help="the username (the user id recorded in events)")
    add.add_argument("--role", required=True, help=", ".join(r.value for r in Role))
    add.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code")
    add.add_argument("--organisation", default="", help="e.g. 晋江市工业和信息化局")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input (one line)")
    add.set_defaults(handler=cmd_add)

    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True,
                        help="read the password from standard input (one line)")
    passwd.set_defaults(handler=cmd_passwd)

    disable = actions.add_parser("disable", help="refuse further sign-ins, end sessions now")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_disable)

    listing = actions.add_parser("list", help="every account (no password hashes)")
    listing.set_defaults(handler=cmd_list)


@contextlib.contextmanager
def _accounts() -> Iterator[AccountStore]:
    """The account store on the configured database (its tables created if need be)."""
    from infra.accounts import AccountStore
    from infra.database import database
    from infra.migrations import migrate
    from infra.rules import load_regions

    with database(Settings.from_env()) as conn:
        migrate(conn.url)
        yield AccountStore(conn.url, load_regions())


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            "unknown_role",
            f"no role {value!r}; one of: {', '.join(r.value for r in Role)}",
            role=value,
        ) from None


def cmd_add(args: argparse.Namespace) -> int:
    from api.input_policy import clean_text

    role = _role(args.role)
    organisation = clean_text("organisation", args.organisation)
    password = _password_from_stdin()
    with _accounts() as store:
        account = store.add(
            args.name, role=role, jurisdiction=args.jurisdiction, organisation=organisation,
            password=password,
        )
    print(f"user {account.username} added: {account.role}, jurisdiction {account.jurisdiction}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    password = _password_from_stdin()
    with _accounts() as store:
        ended = store.set_password(args.name, password)
    print(f"password of {args.name} changed; {ended} session(s) ended")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    with _accounts() as store:
        ended = store.disable(args.name)
    print(f"user {args.name} disabled; {ended} session(s) ended")
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    with _accounts() as store:
        accounts = store.list()
    header = ("user", "role", "jurisdiction", "status", "created (UTC)", "organisation")
    rows = [
        (
            a.username, str(a.role), a.jurisdiction, "disabled" if a.disabled else "active",
            a.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"), a.organisation,
        )
        for a in accounts
    ]
    # Every column but the last (Chinese names: twice as wide on a terminal) is padded.
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]))
    return 0
