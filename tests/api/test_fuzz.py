"""Fuzzing the served API with Schemathesis: every operation, with the tokens of every role, in
every phase (the document's examples, coverage of each parameter's edges, random data, and the
stateful phase that opens cases and walks them along the document's links).

The app is served by uvicorn over real HTTP, on a database of its own. Every check Schemathesis
has runs (see `tests/fuzz/schemathesis.toml` for the one left out, and why): no answer is a 5xx,
and every answer is one the OpenAPI document describes (status, content type, headers, schema).
A summary (requests, statuses, 5xx, cases opened) is written to
`var/test-output/fuzz-summary.json`, the CLI's reports beside it.

`CLUSTER_LEDGER_FUZZ_EXAMPLES` (default 12 per operation and phase), `CLUSTER_LEDGER_FUZZ_SECONDS`
and `..._STATEFUL_SECONDS` (defaults 60 and 40: each run stops there, whatever it has not
reached) and `CLUSTER_LEDGER_FUZZ_SEED` (default fixed, so that CI is repeatable) tune a longer
run.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvicorn

from api.app import create_app
from api.auth import TokenIssuer
from domain.actors import Actor, Role
from domain.commands import Command
from infra.database import ConnectionInfo
from infra.rules import load_programmes
from infra.settings import PROJECT_ROOT, Settings
from tests.integration.audit_support import fresh_database

pytestmark = pytest.mark.slow

OUTPUT = PROJECT_ROOT / "var" / "test-output"
EXAMPLES = os.environ.get("CLUSTER_LEDGER_FUZZ_EXAMPLES", "12")
SEED = os.environ.get("CLUSTER_LEDGER_FUZZ_SEED", "20261203")
MAX_SECONDS = os.environ.get("CLUSTER_LEDGER_FUZZ_SECONDS", "60")  # single requests' budget
STATEFUL_SECONDS = os.environ.get("CLUSTER_LEDGER_FUZZ_STATEFUL_SECONDS", "40")
ROUTE_MODULES = ("api.routes.clusters", "api.routes.commands")
# Who the fuzzer acts as: each role at the levels it may hold, in Xiamen (XM) and Quanzhou (FJ).
PEOPLE = {
    Role.COUNTY: ("350203", "350582"),
    Role.CITY: ("350200", "350500"),
    Role.PROVINCE: ("350000",),
    Role.MIIT_RECORDER: ("350200",),
    Role.OPERATING_UNIT: ("350203",),
    Role.AUDITOR: ("350000", "350200"),
    Role.ADMIN: ("350000",),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(
    pg: ConnectionInfo, jwt_keys: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app on a port of its own, over a database of its own."""
    database = fresh_database(pg)
    audit_db = next(database)
    private, public = jwt_keys
    settings = Settings(
        database_url=audit_db.conn.url, data_dir=tmp_path_factory.mktemp("fuzz-data"),
        jwt_public_key=public, jwt_private_key=private,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings, conn=audit_db.conn), host="127.0.0.1", port=port,
        log_level="warning", lifespan="on", access_log=False,
    ))
    thread = threading.Thread(target=server.run, name="fuzz-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        next(database, None)


def _tokens(private_key: str) -> dict[str, Any]:
    import importlib

    defaults = Settings()
    issuer = TokenIssuer(private_key, defaults.jwt_issuer, defaults.jwt_audience)
    minted = {
        (role, code): issuer.mint(Actor(
            user_id=f"fuzz-{role}-{code}", role=role, organisation="fuzz", jurisdiction=code,
        ))
        for role, codes in PEOPLE.items() for code in codes
    }
    commands: dict[str, list[str]] = {}
    for module in ROUTE_MODULES:
        for handler in importlib.import_module(module).ROUTES:
            command: Command | None = (handler.opt or {}).get("command")
            if command is not None:
                roles = load_programmes().issuable_roles(command)
                commands[handler.operation_id] = [
                    token for (role, _), token in minted.items() if role in roles
                ]
    return {
        "commands": commands,
        "readers": list(minted.values()),
        "counties": {code: minted[(Role.COUNTY, code)] for code in PEOPLE[Role.COUNTY]},
    }


def _interactions(report: Path) -> Iterator[dict[str, Any]]:
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "interactions" and isinstance(value, dict):
                    yield from value.values()
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    with report.open() as lines:
        for line in lines:
            yield from walk(json.loads(line))


def _summary(report: Path) -> dict[str, Any]:
    statuses: collections.Counter[int] = collections.Counter()
    created = 0
    server_errors: list[str] = []
    for interaction in _interactions(report):
        status = int((interaction.get("response") or {}).get("status_code") or 0)
        request = interaction.get("request") or {}
        statuses[status] += 1
        created += status == 201
        if status >= 500:
            body = ((interaction.get("response") or {}).get("content") or {}).get("$base64", "")
            server_errors.append(
                f"{request.get('method')} {request.get('uri')}: "
                f"{base64.b64decode(body).decode(errors='replace')[:300]}"
            )
    return {
        "requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
        "cases_opened": created, "server_errors": server_errors,
    }


def _fuzz(served: str, tokens: dict[str, Any], report: Path, phases: str, seconds: str) -> Any:
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "CLUSTER_LEDGER_FUZZ_TOKENS": json.dumps(tokens),
        "CLUSTER_LEDGER_FUZZ_SEED": SEED,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return subprocess.run(  # noqa: S603 - our own venv's schemathesis, fixed arguments
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file", str(PROJECT_ROOT / "tests" / "fuzz" / "schemathesis.toml"),
            "run", f"{served}/schema/openapi.json", "--phases", phases,
            "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1",
            "--max-time", seconds, "--no-color",
            "--report", "ndjson", "--report-ndjson-path", str(report),
        ],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def test_no_operation_answers_a_5xx_or_anything_the_document_does_not_describe(
    served: str, jwt_keys: tuple[str, str], tmp_path: Path
) -> None:
    """Two runs: the document's examples, each parameter's edges and random data first; then
    the stateful phase, with a budget of its own, walking cases along the links."""
    tokens = _tokens(jwt_keys[0])
    OUTPUT.mkdir(parents=True, exist_ok=True)
    summaries, failures = {}, []
    for name, phases, seconds in (
        ("single requests", "examples,coverage,fuzzing", MAX_SECONDS),
        ("stateful", "stateful", STATEFUL_SECONDS),
    ):
        report = tmp_path / f"{name.replace(' ', '-')}.ndjson"
        started = time.monotonic()
        run = _fuzz(served, tokens, report, phases, seconds)
        summaries[name] = {**_summary(report), "seconds": round(time.monotonic() - started, 1)}
        (OUTPUT / f"fuzz-{name.replace(' ', '-')}.txt").write_text(
            run.stdout + run.stderr, encoding="utf-8"
        )
        if run.returncode != 0:
            failures.append(f"{name}: {run.stdout[-6000:]}{run.stderr[-2000:]}")
    summary = {"examples": int(EXAMPLES), "seed": SEED, **summaries}
    (OUTPUT / "fuzz-summary.json").write_bytes(msgspec.json.format(msgspec.json.encode(summary)))
    for name, part in summaries.items():
        assert part["server_errors"] == [], (name, part["server_errors"])
    assert failures == []
    # Both runs did their work (a run cut short by a fault sends little). How far the stateful
    # phase gets within its time budget depends on the machine's load, so the cases it opened
    # are reported, not asserted; that the links walk a case through its life is proven
    # deterministically in `tests/api/test_openapi.py`.
    assert summaries["single requests"]["requests"] > 1000, summary
    assert summaries["stateful"]["requests"] > 50, summary
