"""`cluster-ledger bench-data --scale N`: a synthetic national-scale history through the real
commands, for benchmarks and load tests (`bench/generate.py`).

The generator lives in the source checkout's `bench/` package, beside `infra/`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from domain.errors import ConfigError
from infra.settings import PROJECT_ROOT, Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench-data",
        help="generate N synthetic clusters (~100 events each) through the real commands",
    )
    parser.add_argument("--scale", type=int, required=True, help="number of clusters")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=None,
                        help="last year of synthetic history (default: the generator's)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--batch", type=int, default=5,
                        help="clusters per transaction; 0 commits every command (as the API)")
    parser.add_argument("--long-case-events", type=int, default=1000,
                        help="also build one case with this many events (0: none)")
    parser.add_argument("--force", action="store_true",
                        help="add to a store that already holds events")
    parser.set_defaults(handler=cmd_bench_data)


def _generator() -> Any:
    # An installed console script does not have the checkout on sys.path; bench/ is not
    # packaged (it is a development tool), so look for it beside infra/.
    if not (PROJECT_ROOT / "bench" / "generate.py").is_file():
        raise ConfigError("bench_not_found", f"no bench/generate.py under {PROJECT_ROOT}")
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))
    from bench import generate

    return generate


def cmd_bench_data(args: argparse.Namespace) -> int:
    from infra.database import database

    generate = _generator()
    if args.horizon is None:
        args.horizon = generate.DEFAULT_HORIZON
    settings = Settings.from_env()
    with database(settings) as conn:
        if not args.force:
            ledger = generate.open_ledger(conn, batching=False)
            try:
                head = ledger.recorder.max_notification_id()
            finally:
                ledger.close()
            if head:
                print(f"cluster-ledger: the store already holds {head} events; use --force to "
                      "add to it", file=sys.stderr)
                return 1
        generate.run_from_args(args, conn)
    return 0
