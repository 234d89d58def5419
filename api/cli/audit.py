"""Audit sub-commands: export, verify, checkpoint.

`verify` needs no database and no configuration: an auditor runs it on their own machine with
the export file and the publisher's checkpoint public key. Its exit code is its result, so that
a script cannot take what was not checked for a pass:

    0  OK: no problem, and the signed checkpoints verify with a key given (`--public-key`), or
       with the file's own key when the auditor trusts it (`--trust-embedded-key`)
    1  FAILED: problems found
    2  a file could not be read (or bad usage)
    3  UNPINNED: no problem, but the signatures were checked only against the key the file
       names, and neither `--public-key` nor `--trust-embedded-key` was given
    4  UNSIGNED: no problem, but no signed checkpoint in the file: the chain alone covers it

A file a command cannot read or write is one line on stderr and exit 2, never a traceback.
`export FILE` never overwrites without `--force`, and never leaves a half-written file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import IO, Any

from infra.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE, EXIT_UNPINNED, EXIT_UNSIGNED = 0, 1, 2, 3, 4
_RESULT_EXIT = {
    "ok": EXIT_OK, "failed": EXIT_FAILED, "unpinned": EXIT_UNPINNED, "unsigned": EXIT_UNSIGNED,
}
_MAX_KEY_BYTES = 64 * 1024  # a PEM public key is a few hundred bytes: anything longer is not one


class _Unusable(Exception):
    """A file the command cannot use: reported as one line, exit 2."""


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
    export.add_argument(
        "--force", action="store_true", help="overwrite FILE if it exists",
    )
    export.set_defaults(handler=cmd_export)

    verify = subparsers.add_parser(
        "verify", help="verify an export offline: chain, signatures, replay, summary"
    )
    verify.add_argument("file", help="an export written by 'cluster-ledger export'")
    keys = verify.add_mutually_exclusive_group()
    keys.add_argument(
        "--public-key", dest="public_keys", action="append", default=[], metavar="KEY",
        help="PEM file of the publisher's checkpoint public key (pins the signer); repeat it "
        "for the keys used before a rotation",
    )
    keys.add_argument(
        "--trust-embedded-key", action="store_true",
        help="without --public-key: accept the key the file itself names (not pinned; the "
        "result says so). Without either, verify ends UNPINNED, exit 3",
    )
    verify.add_argument(
        "--on", default=None, type=_iso_date, metavar="DATE",
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


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _complain(command: str, message: str) -> int:
    print(f"cluster-ledger {command}: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def cmd_export(args: argparse.Namespace) -> int:
    target = None if args.file == "-" else Path(args.file)
    try:
        if target is not None:
            _check_writable(target, args.file, force=args.force)
        return _export(args, target)
    except _Unusable as exc:
        return _complain("export", str(exc))


def _check_writable(target: Path, shown: str, *, force: bool) -> None:
    """Refused before any work (checked again, without a race, when the file is put in place)."""
    if target.is_dir():
        raise _Unusable(f"cannot write {shown}: Is a directory")
    if not force and _exists(target):
        raise _Unusable(f"{shown} already exists (pass --force to overwrite it)")


def _export(args: argparse.Namespace, target: Path | None) -> int:
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
        out: IO[bytes]
        if target is None:
            out = sys.stdout.buffer
        else:  # first, so that a path it cannot write fails before the database starts
            out = stack.enter_context(_whole_file(target, args.file, force=args.force))
        conn = stack.enter_context(database(settings))
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
    if target is not None:
        last = f"position {stats.last_position}" if stats.last_position else "no position"
        print(
            f"exported {stats.events} events and {stats.checkpoints} checkpoints up to {last} "
            f"to {args.file}; last chain hash {stats.last_hash}",
            file=sys.stderr,
        )
    return 0


def _exists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


class _Output(io.BufferedWriter):
    """The export's file: a failed write is `_Unusable` (the disk is full), not a traceback."""

    def __init__(self, raw: io.FileIO, shown: str) -> None:
        super().__init__(raw)
        self.shown = shown

    def write(self, data: Any) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise _Unusable(f"cannot write {self.shown}: {_reason(exc)}") from exc

    def finish(self) -> None:
        try:
            self.flush()
            os.fsync(self.fileno())
            self.close()
        except OSError as exc:
            raise _Unusable(f"cannot write {self.shown}: {_reason(exc)}") from exc


@contextlib.contextmanager
def _whole_file(target: Path, shown: str, *, force: bool) -> Iterator[IO[bytes]]:
    """`target` as a whole or not at all: written to a temporary file beside it (same file
    system) that takes its name only when the export has ended well; on any failure the
    temporary file is removed and `target`, if it existed, is left as it was."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        out = _Output(io.FileIO(temporary, "xb"), shown)
    except OSError as exc:
        raise _Unusable(f"cannot write {shown}: {_reason(exc)}") from exc
    try:
        yield out
        out.finish()
        _put_in_place(temporary, target, shown, force=force)
    except BaseException:
        with contextlib.suppress(OSError):
            out.close()
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def _put_in_place(temporary: Path, target: Path, shown: str, *, force: bool) -> None:
    try:
        if force:
            os.replace(temporary, target)
            return
        try:
            os.link(temporary, target)  # fails if `target` exists: never overwrites
        except FileExistsError:
            raise
        except OSError:
            # No hard links on this file system (FAT, some network shares): check, then rename.
            if _exists(target):
                raise FileExistsError(target) from None
            os.replace(temporary, target)
        else:
            # The export is in place: a temporary name left behind is no reason to fail it.
            with contextlib.suppress(OSError):
                temporary.unlink()
    except FileExistsError:
        raise _Unusable(f"{shown} already exists (pass --force to overwrite it)") from None
    except OSError as exc:
        raise _Unusable(f"cannot write {shown}: {_reason(exc)}") from exc


def _check_readable(path: Path, shown: str) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise _Unusable(f"cannot read {shown}: {_reason(exc)}") from exc


def _read_public_key(shown: str) -> str:
    """The PEM text of an Ed25519 public key file, checked to be one."""
    from domain.errors import ConfigError
    from infra.audit.signing import CheckpointVerifier

    not_a_key = f"cannot read {shown}: not an Ed25519 public key (PEM)"
    try:
        with Path(shown).open("rb") as handle:
            data = handle.read(_MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise _Unusable(f"cannot read {shown}: {_reason(exc)}") from exc
    try:
        if len(data) > _MAX_KEY_BYTES:
            raise _Unusable(not_a_key)
        pem = data.decode("utf-8")
        CheckpointVerifier(pem)
    except (UnicodeDecodeError, ConfigError):
        raise _Unusable(not_a_key) from None
    return pem


def cmd_verify(args: argparse.Namespace) -> int:
    from api.cli.verify_report import render_report
    from infra.progress import Progress
    from infra.rules import load_programmes, load_regions, load_rulebook
    from projections.audit_replay import verify_file
    from projections.folds import Rules

    path = Path(args.file)
    try:
        _check_readable(path, args.file)
        public_keys = [_read_public_key(name) for name in args.public_keys]
    except _Unusable as exc:
        return _complain("verify", str(exc))
    rules = Rules(rulebook=load_rulebook(), programmes=load_programmes(), regions=load_regions())
    with Progress("verify", unit="bytes", check_every=1 << 20) as progress:
        report = verify_file(
            path, rules, public_keys=public_keys, trust_embedded_key=args.trust_embedded_key,
            on=args.on, progress=progress, processes=args.processes,
        )
    if args.json:
        import msgspec

        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report).decode()) + "\n")
    else:
        sys.stdout.write(render_report(report, args.file))
    return _RESULT_EXIT[report.result]


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
