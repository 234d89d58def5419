"""Audit sub-commands: export, verify, checkpoint.

`verify` needs no database and no configuration: an auditor runs it on their own machine with
the export file and the publisher's checkpoint public key.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from infra.settings import Settings


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export", help="write the event log as NDJSON (with chain hashes and signed checkpoints)"
    )
    export.add_argument("file", help="output file ('-' for standard output)")
    export.add_argument(
        "--from", dest="first", type=int, default=None, metavar="POSITION",
        help="first position to export (default: the beginning of the log)",
    )
    export.add_argument(
        "--to", dest="last", type=int, default=None, metavar="POSITION",
        help="last position to export (default: the head when the export starts)",
    )
    export.set_defaults(handler=cmd_export)

    verify = subparsers.add_parser(
        "verify", help="verify an export offline: chain, signatures, replay, summary"
    )
    verify.add_argument("file", help="an export written by 'cluster-ledger export'")
    verify.add_argument(
        "--public-key", dest="public_keys", action="append", default=[], metavar="KEY",
        help="PEM file of the publisher's checkpoint public key (pins the signer); repeat it "
        "for the keys used before a rotation",
    )
    verify.add_argument(
        "--on", default=None, metavar="DATE",
        help="date the status summary is read on (default: the export's date)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--processes", type=int, choices=(1, 2), default=2,
        help="2 (default): a second process replays part of the cases, on a second core; "
        "1: everything in this process (same checks, same report)",
    )
    verify.set_defaults(handler=cmd_verify)

    checkpoint = subparsers.add_parser(
        "checkpoint", help="sign the audit checkpoints that are due (every CHECKPOINT_EVERY events)"
    )
    checkpoint.add_argument(
        "--head", action="store_true", help="also sign the latest chain entry"
    )
    checkpoint.add_argument(
        "--public-key", dest="print_key", action="store_true",
        help="print the checkpoint public key (PEM) to hand to auditors, and exit",
    )
    checkpoint.set_defaults(handler=cmd_checkpoint)


def cmd_export(args: argparse.Namespace) -> int:
    import psycopg
    from psycopg import IsolationLevel
    from psycopg.rows import dict_row

    from infra.audit.checkpoints import signer_for
    from infra.audit.export import write_export
    from infra.database import database
    from infra.progress import Progress

    settings = Settings.from_env()
    signer = signer_for(settings)
    after = max((args.first or 1) - 1, 0)
    with ExitStack() as stack:
        conn = stack.enter_context(database(settings))
        out: IO[bytes]
        if args.file == "-":
            out = sys.stdout.buffer
        else:
            out = stack.enter_context(Path(args.file).open("wb"))
        progress = stack.enter_context(Progress("export", unit="positions"))
        db = stack.enter_context(psycopg.connect(conn.url, row_factory=dict_row))
        # One snapshot for the whole export, and no writes.
        db.isolation_level = IsolationLevel.REPEATABLE_READ
        db.read_only = True
        stats = write_export(
            db.cursor(), out, after=after, to=args.last, public_pem=signer.public_pem,
            fingerprint=signer.fingerprint, progress=progress,
        )
        db.rollback()
    if args.file != "-":
        last = f"position {stats.last_position}" if stats.last_position else "no position"
        print(
            f"exported {stats.events} events and {stats.checkpoints} checkpoints up to {last} "
            f"to {args.file}; last chain hash {stats.last_hash}",
            file=sys.stderr,
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from datetime import date

    from infra.audit.report import render_report
    from infra.audit.verify import verify_file
    from infra.progress import Progress
    from infra.rules import load_regions, load_rulebook
    from projections.folds import Rules

    public_keys = [Path(path).read_text(encoding="utf-8") for path in args.public_keys]
    on = date.fromisoformat(args.on) if args.on else None
    rules = Rules(rulebook=load_rulebook(), regions=load_regions())
    with Progress("verify", unit="bytes", check_every=1 << 20) as progress:
        report = verify_file(
            Path(args.file), rules, public_keys=public_keys, on=on, progress=progress,
            processes=args.processes,
        )
    if args.json:
        import msgspec

        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report).decode()) + "\n")
    else:
        sys.stdout.write(render_report(report, args.file))
    return 0 if report.ok else 1


def cmd_checkpoint(args: argparse.Namespace) -> int:
    import psycopg

    from infra.audit.checkpoints import create_due_checkpoints, signer_for
    from infra.database import database
    from infra.migrations import migrate

    settings = Settings.from_env()
    signer = signer_for(settings)
    if args.print_key:
        sys.stdout.write(signer.public_pem)
        return 0
    with database(settings) as conn:
        migrate(conn.url)
        with psycopg.connect(conn.url) as db, db.transaction():
            made = create_due_checkpoints(
                db.cursor(), signer, settings.checkpoint_every, head=args.head
            )
    for checkpoint in made:
        print(f"signed checkpoint at position {checkpoint.position}: {checkpoint.hash}")
    if not made:
        print("no checkpoint due")
    print(f"key {signer.fingerprint}")
    return 0
