"""`cluster-ledger` (or `python -m api.cli`): the console command.

It sits on top of every other package (`serve` runs the ASGI app, `verify` the read side's
folds), hence in `api/`. Each sub-command lives in the module named in `COMMAND_MODULES`, which
exposes `register(subparsers)`; modules are imported only when the command line is parsed.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import io
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "api.cli.core",  # migrate, serve, demo, token, calendar
    "api.cli.audit",  # export, verify, checkpoint
    "api.cli.project",  # project run | rebuild NAME | status
    "api.cli.users",  # user add | passwd | disable | list
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cluster-ledger",
        description="Event-sourced case management for SME characteristic industrial clusters.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from domain.errors import DomainError

    # A crash in a C extension (SIGSEGV, SIGABRT) prints every thread's Python stack to stderr
    # before the process dies, so that the operator's log says where it happened.
    with contextlib.suppress(io.UnsupportedOperation, ValueError):  # stderr is not a file
        faulthandler.enable()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except DomainError as exc:
        print(f"cluster-ledger: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result
