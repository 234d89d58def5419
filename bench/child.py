"""Run `cluster-ledger ARGS` in this process and record its wall time and peak RSS.

    python -m bench.child STATS.json ARGS...

Peak RSS is the kernel's high-water mark of this process image (`VmHWM`), not `ru_maxrss`,
which on Linux also counts the parent's memory at fork time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    from api.cli import main as cli_main

    stats_path, args = Path(argv[0]), argv[1:]
    started = time.perf_counter()
    try:
        code = cli_main(args)
    finally:
        seconds = time.perf_counter() - started
        stats_path.write_text(json.dumps({"seconds": seconds, "max_rss_mb": peak_rss_mb()}),
                              encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
