"""`cluster-ledger project run|rebuild NAME|status`: the read projections as their own process."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from infra.settings import Settings


def register(subparsers: Any) -> None:
    project = subparsers.add_parser(
        "project", help="run, rebuild or inspect the read projections (status, funding, deadlines)"
    )
    actions = project.add_subparsers(dest="action", required=True, metavar="ACTION")

    run = actions.add_parser(
        "run",
        help="run the projections until stopped (Ctrl-C); a database outage is retried, "
        "any other failure exits 1",
    )
    run.add_argument("views", nargs="*", help="views to run (default: all)")
    run.set_defaults(handler=cmd_run)

    rebuild = actions.add_parser(
        "rebuild", help="rebuild a view from the whole log into a shadow table, then swap it in"
    )
    rebuild.add_argument("name", help="status, funding or deadlines")
    rebuild.set_defaults(handler=cmd_rebuild)

    status = actions.add_parser("status", help="each view's position in the log and its lag")
    status.set_defaults(handler=cmd_status)


def cmd_run(args: argparse.Namespace) -> int:
    from infra.database import DatabaseLimits, database
    from infra.migrations import migrate
    from projections.runner import VIEW_NAMES, Backoff, Projector

    settings = Settings.from_env()
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with database(settings) as conn:
        migrate(conn.url)
        projector = Projector(
            conn,
            args.views or VIEW_NAMES,
            limits=DatabaseLimits.of(settings),
            backoff=Backoff(cap=settings.projector_max_backoff),
        )
        projector.start()
        print(f"projecting {', '.join(projector.names)}; Ctrl-C stops", flush=True)
        try:
            while not stop.is_set() and not projector.failed.is_set():
                stop.wait(0.5)
        finally:
            projector.stop()
    failures = projector.failures()
    for failure in failures:
        print(
            f"cluster-ledger: projection {failure.view} stopped: {failure.error}",
            file=sys.stderr,
        )
    return 1 if failures else 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from infra.database import database
    from infra.migrations import migrate
    from infra.progress import Progress
    from projections.rebuild import rebuild, view_spec

    view_spec(args.name)  # an unknown name fails before any work
    settings = Settings.from_env()
    with database(settings) as conn:
        migrate(conn.url)
        with Progress(f"rebuild {args.name}") as progress:
            report = rebuild(conn, args.name, on_progress=progress.update)
    print(
        f"rebuilt {report.view}: {report.clusters} clusters from {report.events_folded} events, "
        f"{report.caught_up} more at the swap; position {report.position}"
    )
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    from infra.database import database
    from projections.positions import read_positions

    settings = Settings.from_env()
    with database(settings) as conn:
        positions = read_positions(conn.url)
    print(f"{'view':<10} {'position':>10} {'head':>10} {'lag':>8}")
    for view in positions:
        print(
            f"{view.view:<10} {_number(view.position):>10} {_number(view.head):>10} "
            f"{view.lag:>8}"
        )
    return 0


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)
