"""Core sub-commands: migrate, serve, demo, token (and the demo users' sign-ins)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.actors import Actor, Role
from infra.settings import Settings

if TYPE_CHECKING:
    from infra.database import ConnectionInfo


def register(subparsers: Any) -> None:
    migrate = subparsers.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=cmd_migrate)

    serve = subparsers.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--demo", action="store_true", help="load demo data first if empty")
    serve.set_defaults(handler=cmd_serve)

    demo = subparsers.add_parser("demo", help="load the demo data set (only into an empty store)")
    demo.set_defaults(handler=cmd_demo)

    token = subparsers.add_parser("token", help="mint a bearer token for a user")
    token.add_argument("--user", required=True)
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code")
    token.add_argument("--organisation", default="")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds until expiry")
    token.set_defaults(handler=cmd_token)


def cmd_migrate(_: argparse.Namespace) -> int:
    from infra.bootstrap import build_ledger
    from infra.database import database
    from infra.migrations import migrate

    settings = Settings.from_env()
    with database(settings) as conn:
        applied = migrate(conn.url)
        ledger, _calendar = build_ledger(conn, settings)  # creates eventsourcing's tables
        ledger.close()
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from infra.database import database
    from infra.migrations import migrate

    settings = Settings.from_env()
    with database(settings) as conn:
        migrate(conn.url)
        loaded = load_demo_and_logins(conn, settings)
    print(
        f"demo data: {loaded} clusters loaded" if loaded else "demo data: store not empty, skipped"
    )
    return 0


def demo_logins_path(settings: Settings) -> Path:
    from infra.demo import DEMO_LOGINS_FILE

    return settings.data_dir / DEMO_LOGINS_FILE


def load_demo_and_logins(conn: ConnectionInfo, settings: Settings) -> int:
    """The demo data set, and an account for each demo user, only into an empty store; returns
    how many clusters were loaded."""
    from infra.bootstrap import build_ledger
    from infra.demo import create_demo_accounts, load_demo

    ledger, _calendar = build_ledger(conn, settings)
    try:
        loaded = load_demo(ledger)
        if loaded:
            path = demo_logins_path(settings)
            logins = create_demo_accounts(conn.url, ledger.services.regions, DEMO_USERS, path)
            print(f"demo sign-ins: {len(logins)} accounts, passwords in {path}")
    finally:
        ledger.close()
    return loaded


def issuer(settings: Settings) -> Any:
    from api.auth import TokenIssuer
    from infra.keys import dev_key_pair

    private = settings.jwt_private_key or dev_key_pair(settings.data_dir / "keys", "jwt")[0]
    return TokenIssuer(private, settings.jwt_issuer, settings.jwt_audience)


def cmd_token(args: argparse.Namespace) -> int:
    from domain.permissions import check_jurisdiction_level
    from infra.rules import load_regions

    role = Role(args.role)
    # A token the API would refuse is not minted: one line, exit 2 (`api.cli.main`).
    check_jurisdiction_level(role, args.jurisdiction, load_regions())
    settings = Settings.from_env()
    actor = Actor(
        user_id=args.user,
        role=role,
        organisation=args.organisation,
        jurisdiction=args.jurisdiction,
    )
    print(issuer(settings).mint(actor, ttl_seconds=args.ttl))
    return 0


DEMO_USERS = (
    ("county-jinjiang", Role.COUNTY, "350582", "晋江市工业和信息化局"),
    ("city-quanzhou", Role.CITY, "350500", "泉州市工业和信息化局"),
    ("province-fj", Role.PROVINCE, "350000", "福建省工业和信息化厅"),
    ("district-siming", Role.COUNTY, "350203", "思明区工业和信息化局"),
    ("city-xiamen", Role.CITY, "350200", "厦门市工业和信息化局"),
    ("miit-recorder-xiamen", Role.MIIT_RECORDER, "350200", "厦门市工业和信息化局"),
    ("operator-siming", Role.OPERATING_UNIT, "350203", "思明区集群运营单位"),
    ("auditor-fj", Role.AUDITOR, "350000", "第三方审计机构"),
    ("admin", Role.ADMIN, "350000", "系统管理员"),
)


def pages_banner(settings: Settings, base: str) -> list[str]:
    """What `serve` prints first: where the pages and the API docs are, and how to sign in."""
    from infra.demo import read_demo_logins

    lines = [f"\nCluster Ledger: pages on {base}/  —  API docs: {base}/schema"]
    path = demo_logins_path(settings)
    if logins := read_demo_logins(path):
        lines.append(f"Sign in at {base}/login as a demo user (from {path}):")
        lines.extend(
            f"  {login.role:<15} {login.jurisdiction} {login.username:<22} {login.password}"
            for login in logins
        )
    else:
        lines.append(
            "No demo sign-ins: create a user with `cluster-ledger user add NAME --role ROLE"
            " --jurisdiction CODE --password-stdin`"
        )
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from infra.database import database

    settings = Settings.from_env()
    host = args.host or settings.host
    port = args.port or settings.port
    with database(settings) as conn:
        if args.demo:
            from infra.migrations import migrate

            migrate(conn.url)
            loaded = load_demo_and_logins(conn, settings)
            print(f"demo data: {loaded} clusters loaded" if loaded else "demo data: present")
        tokens = issuer(settings)
        print("\n".join(pages_banner(settings, f"http://{host}:{port}")))
        print("Tokens for the demo users (valid 8 hours):")
        for user, role, jurisdiction, org in DEMO_USERS:
            token = tokens.mint(
                Actor(user_id=user, role=role, organisation=org, jurisdiction=jurisdiction)
            )
            print(f"  {role:<15} {jurisdiction} {user:<22} {token}")
        sys.stdout.flush()
        app = create_app(settings, conn=conn)
        # The API logs every request itself (api.logging, one structured line with its
        # outcome); uvicorn's own access log would only repeat it.
        uvicorn.run(
            app, host=host, port=port, log_level="warning", lifespan="on", access_log=False
        )
    return 0
