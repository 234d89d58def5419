"""The API as a real server process on 127.0.0.1 (`cluster-ledger serve`), and child processes
whose wall time and peak memory are measured (`python -m bench.child`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

from infra.database import ConnectionInfo
from infra.settings import PROJECT_ROOT


class ChildRun(msgspec.Struct, kw_only=True):
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def child_env(conn: ConnectionInfo, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTER_LEDGER_")}
    env.update(DATABASE_URL=conn.url, CLUSTER_LEDGER_DATA_DIR=str(data_dir),
               PYTHONPATH=str(PROJECT_ROOT), **extra)
    return env


def run_cli(conn: ConnectionInfo, data_dir: Path, *args: str, timeout: float = 1800,
            optimize: bool = False) -> ChildRun:
    """Run `cluster-ledger ARGS` in a child process; its own wall time and peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as stats_file:
        stats_path = stats_file.name
    try:
        command = [sys.executable, *(["-O"] if optimize else []), "-m", "bench.child",
                   stats_path, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=timeout, env=child_env(conn, data_dir), cwd=PROJECT_ROOT)
        try:
            stats: dict[str, Any] = json.loads(Path(stats_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stats = {"seconds": 0.0, "max_rss_mb": 0.0}
    finally:
        Path(stats_path).unlink(missing_ok=True)
    return ChildRun(seconds=stats["seconds"], max_rss_mb=stats["max_rss_mb"],
                    returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """`cluster-ledger serve` on 127.0.0.1 with the bench database; stopped by its own pid."""

    def __init__(self, conn: ConnectionInfo, data_dir: Path, log_path: Path, *,
                 optimize: bool = False, env: dict[str, str] | None = None) -> None:
        self.optimize = optimize
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT,
            env=child_env(conn, data_dir, **({"PYTHONOPTIMIZE": "1"} if optimize else {}),
                          **(env or {})),
            cwd=PROJECT_ROOT,
        )

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.base}/ready", timeout=5) as response:  # noqa: S310
                    body: dict[str, Any] = json.loads(response.read())
                    return body
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.3)
        self.stop()
        log = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        msg = f"the server did not become ready ({last}); its log ends:\n{log}"
        raise RuntimeError(msg)

    def wait_idle(self, timeout: float = 60) -> None:
        """Until every projection has caught up with the log (as `/ready` reports), so that
        one run's events are not still being projected during the next run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.wait_ready()
            views = (ready.get("projections") or {}).get("views") or []
            if all(v.get("lag", 0) == 0 for v in views):
                return
            time.sleep(0.2)

    def stack(self) -> str:
        """Which event loop and HTTP parser uvicorn picks here (it takes the fast ones if
        installed)."""
        loop = "uvloop" if _importable("uvloop") else "asyncio"
        parser = "httptools" if _importable("httptools") else "h11"
        return f"uvicorn, 1 worker, {loop} + {parser}"

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
