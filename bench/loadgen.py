"""A small HTTP/1.1 load generator: N keep-alive connections on one asyncio loop, in its own
process, bounded in time and in count, loopback only.

    python -m bench.loadgen SPEC.json      # prints one JSON line of results

The spec names the server and one script per connection. A script is either a list of GETs
cycled through, or a command loop: POST a body built from a template with the connection's
token, `If-Match` (the case version, taken from the previous response's ETag) and a fresh
`Idempotency-Key`, exactly as a client of the API does. Every response status is counted; an
unexpected one is an error, never a success.

It speaks just enough HTTP/1.1 for this (Content-Length and chunked bodies), so that the client
costs little CPU beside the server on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import msgspec


class Get(msgspec.Struct, kw_only=True):
    path: str
    token: str = ""  # bearer token (the API)
    cookie: str = ""  # Cookie header (a signed-in page session)


class CommandLoop(msgspec.Struct, kw_only=True):
    path: str
    token: str
    version: int
    body: str  # JSON with "{n}" replaced by a counter


class Script(msgspec.Struct, kw_only=True):
    gets: list[Get] = msgspec.field(default_factory=list)
    command: CommandLoop | None = None


class Spec(msgspec.Struct, kw_only=True):
    host: str
    port: int
    seconds: float
    warmup_seconds: float = 0.5
    max_ops: int = 1_000_000
    scripts: list[Script]


class Result(msgspec.Struct, kw_only=True):
    count: int
    errors: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int]
    first_error: str = ""
    # Keep-alive connections the server closed before answering, each retried once on a new
    # connection (a command with the same Idempotency-Key, as a client should): reported, so
    # that a server dropping connections cannot pass unnoticed.
    reconnects: int = 0
    first_reconnect: str = ""
    # Mean size of a response (wrk: status line, headers and body; loadgen: the body), so that
    # a run answered by something else than the page (a redirect to /login) shows.
    bytes_per_request: float = 0.0


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        if self.reader is None or self.writer is None:
            raise ConnectionError("not connected")
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        response_headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if response_headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            payload = b"".join(chunks)
        else:
            payload = await self.reader.readexactly(int(response_headers.get("content-length", 0)))
        return status, response_headers, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def run(spec: Spec) -> Result:
    latencies: list[float] = []
    body_bytes = [0]
    statuses: dict[str, int] = {}
    errors: list[str] = []
    budget = [spec.max_ops]
    measuring = [False]

    reconnects: list[str] = []

    async def drive(script: Script, stop_at: float) -> None:
        conn = Connection(spec.host, spec.port)
        await conn.open()

        async def send(method: str, path: str, headers: dict[str, str],
                       body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
            nonlocal conn
            try:
                return await conn.request(method, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                reconnects.append(f"{method} {path} (request {n} on its connection, "
                                  f"{time.perf_counter() - begun:.2f} s into the run): {exc}")
                conn.close()
                conn = Connection(spec.host, spec.port)
                await conn.open()
                return await conn.request(method, path, headers, body)  # a second failure raises

        try:
            n = 0
            version = script.command.version if script.command else 0
            while time.perf_counter() < stop_at and budget[0] > 0:
                n += 1
                t0 = time.perf_counter()
                if script.command is not None:
                    c = script.command
                    status, headers, payload = await send(
                        "POST", c.path,
                        {"Authorization": f"Bearer {c.token}", "If-Match": f'"{version}"',
                         "Idempotency-Key": str(uuid.uuid4())},
                        c.body.replace("{n}", f"{n}-{uuid.uuid4().hex[:6]}").encode(),
                    )
                    ok = status in (200, 201)
                    if ok:
                        version = int(headers.get("etag", "0").strip('W/"'))
                else:
                    get = script.gets[n % len(script.gets)]
                    headers = {"Authorization": f"Bearer {get.token}"} if get.token else {}
                    if get.cookie:
                        headers["Cookie"] = get.cookie
                    status, _, payload = await send("GET", get.path, headers)
                    ok = status == 200
                elapsed = time.perf_counter() - t0
                if not measuring[0]:
                    continue
                budget[0] -= 1
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if ok:
                    latencies.append(elapsed)
                    body_bytes[0] += len(payload)
                elif len(errors) < 1:
                    errors.append(f"{status}: {payload[:300].decode('utf-8', 'replace')}")
                else:
                    errors.append("")
        finally:
            conn.close()

    begun = time.perf_counter()
    warm_end = begun + spec.warmup_seconds
    stop_at = warm_end + spec.seconds
    tasks = [asyncio.create_task(drive(s, stop_at)) for s in spec.scripts]
    await asyncio.sleep(max(0.0, warm_end - time.perf_counter()))
    measuring[0] = True
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    return Result(
        count=len(latencies), errors=len(errors), seconds=seconds,
        p50_ms=p50 * 1000 if p50 is not None else None,
        p99_ms=p99 * 1000 if p99 is not None else None,
        statuses=statuses, first_error=errors[0] if errors else "",
        reconnects=len(reconnects), first_reconnect=reconnects[0] if reconnects else "",
        bytes_per_request=body_bytes[0] / max(1, len(latencies)),
    )


def main(argv: list[str]) -> int:
    with open(argv[0], "rb") as f:
        spec = msgspec.json.decode(f.read(), type=Spec)
    if spec.host not in {"127.0.0.1", "localhost", "::1"}:
        print(json.dumps({"error": "loopback only"}))
        return 2
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    result = asyncio.run(run(spec))
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
