"""GET load with `wrk` (Debian package `wrk`), when it is installed.

wrk costs the machine about a quarter of the CPU per request that the Python load generator
does, which matters when client and server share 2 cores. It is used for GET runs only: the
command runs need per-connection state (the case version for If-Match), which
`bench/loadgen.py` keeps. Bounded in time; loopback only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.loadgen import Result

_SCRIPT = """
local paths = {%(paths)s}
local headers = %(headers)s
local counter = 0
setup = function(thread)
  thread:set("offset", math.random(0, #paths - 1))
end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[((counter + (offset or 0)) %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"count":%%d,"errors":%%d,"status_errors":%%d,"seconds":%%f,'
    .. '"p50_ms":%%f,"p99_ms":%%f,"bytes":%%d}\\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, e.status,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.bytes))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_headers(token: str, cookie: str) -> str:
    """The Lua table of the request headers: the bearer token and/or the session cookie."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = cookie
    return "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"


def run_wrk(base: str, paths: list[str], token: str, *, connections: int, seconds: float,
            warmup_seconds: float, cookie: str = "") -> Result:
    if not base.startswith(("http://127.0.0.1:", "http://localhost:")):
        msg = "loopback only"
        raise ValueError(msg)
    quoted = ", ".join(json.dumps(p) for p in paths)
    script = _SCRIPT % {"paths": quoted, "headers": _lua_headers(token, cookie)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = f.name
    threads = min(2, connections)
    try:
        if warmup_seconds > 0:
            _wrk(base, script_path, threads, connections, max(1, round(warmup_seconds)))
        out = _wrk(base, script_path, threads, connections, max(1, round(seconds)))
    finally:
        Path(script_path).unlink(missing_ok=True)
    line = next((x for x in out.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        msg = f"wrk printed no result: {out[-1000:]}"
        raise RuntimeError(msg)
    data = json.loads(line.removeprefix("WRK_RESULT "))
    ok = data["count"] - data["status_errors"]
    return Result(count=ok, errors=data["errors"], seconds=data["seconds"],
                  p50_ms=data["p50_ms"], p99_ms=data["p99_ms"],
                  statuses={"non-2xx": data["status_errors"]},
                  bytes_per_request=data["bytes"] / max(1, data["count"]),
                  first_error="" if not data["errors"] else "wrk counted errors")


def _wrk(base: str, script: str, threads: int, connections: int, seconds: int) -> str:
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", script, base],
        capture_output=True, text=True, check=False, timeout=seconds + 60,
    )
    if done.returncode != 0:
        msg = f"wrk failed: {done.stderr[-1000:]}"
        raise RuntimeError(msg)
    return done.stdout
