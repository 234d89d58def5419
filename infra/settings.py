"""Settings, read once and explicitly from the environment (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from domain.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_LENGTH = 32  # characters of a configured HMAC secret (the CSRF tokens' key)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None  # None: start the embedded PostgreSQL under data_dir
    data_dir: Path = PROJECT_ROOT / "var"
    host: str = "127.0.0.1"
    port: int = 8000
    snapshot_interval: int = 50
    aggregate_cache: int = 2000  # cases kept in memory by the API process (0: none)
    history_cache: int = 100_000  # event heads kept for state-at-date look-ups (0: none)
    jwt_public_key: str | None = None  # PEM; None in development: keys under data_dir/keys
    jwt_private_key: str | None = None  # only needed to mint tokens
    jwt_issuer: str = "cluster-ledger"
    jwt_audience: str = "cluster-ledger-api"
    checkpoint_private_key: str | None = None  # Ed25519 PEM for signed audit checkpoints
    checkpoint_every: int = 1000  # events between signed checkpoints
    max_request_bytes: int = 256 * 1024
    run_projector: bool = True  # serve runs projections in-process unless disabled
    read_wait_seconds: float = 5.0  # read-your-writes wait before 503
    ready_max_lag: int = 1000  # /ready answers 503 when a read view is further behind
    db_connect_timeout: float = 1.5  # s to get a database connection (new, or free in a pool)
    db_statement_timeout: float = 5.0  # s a statement may run (lock waits included)
    projector_max_backoff: float = 30.0  # s: cap of the projector's retry delay (from 0.5 s)
    log_json: bool = True
    # Pages (api/web): server-side sessions, their cookie, CSRF, and failed sign-in throttling.
    session_idle_seconds: int = 30 * 60  # a session unused this long ends
    session_absolute_seconds: int = 12 * 3600  # ... and any session ends this long after sign-in
    cookie_secure: bool = False  # cookies only over HTTPS: turn on behind TLS
    csrf_secret: str | None = None  # None in development: a secret under data_dir/keys
    login_max_failures: int = 5  # failed sign-ins per username within the window ...
    login_max_failures_per_address: int = 30  # ... and per client address (shared NATs)
    login_window_seconds: int = 15 * 60  # the window failures are counted in
    login_lock_seconds: int = 15 * 60  # how long further attempts are refused then

    def __post_init__(self) -> None:
        for name in ("db_connect_timeout", "db_statement_timeout", "projector_max_backoff"):
            if not getattr(self, name) > 0:
                raise ConfigError("invalid_setting", f"{name} must be a positive number of seconds")
        for name in (
            "session_idle_seconds", "session_absolute_seconds", "login_max_failures",
            "login_max_failures_per_address", "login_window_seconds", "login_lock_seconds",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError("invalid_setting", f"{name} must be a positive whole number")
        if self.csrf_secret is not None and len(self.csrf_secret.strip()) < MIN_SECRET_LENGTH:
            raise ConfigError(
                "invalid_setting",
                f"the CSRF secret must be at least {MIN_SECRET_LENGTH} characters long",
            )

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def pem(name: str) -> str | None:
            value = env.get(name)
            file_value = env.get(f"{name}_FILE")
            if file_value:
                return Path(file_value).read_text(encoding="utf-8")
            return value or None

        try:
            return cls(
                database_url=env.get("DATABASE_URL") or None,
                data_dir=Path(env.get("CLUSTER_LEDGER_DATA_DIR", str(PROJECT_ROOT / "var"))),
                host=env.get("CLUSTER_LEDGER_HOST", "127.0.0.1"),
                port=int(env.get("CLUSTER_LEDGER_PORT", "8000")),
                snapshot_interval=int(env.get("CLUSTER_LEDGER_SNAPSHOT_INTERVAL", "50")),
                aggregate_cache=int(env.get("CLUSTER_LEDGER_AGGREGATE_CACHE", "2000")),
                history_cache=int(env.get("CLUSTER_LEDGER_HISTORY_CACHE", "100000")),
                jwt_public_key=pem("CLUSTER_LEDGER_JWT_PUBLIC_KEY"),
                jwt_private_key=pem("CLUSTER_LEDGER_JWT_PRIVATE_KEY"),
                checkpoint_private_key=pem("CLUSTER_LEDGER_CHECKPOINT_KEY"),
                checkpoint_every=int(env.get("CLUSTER_LEDGER_CHECKPOINT_EVERY", "1000")),
                max_request_bytes=int(env.get("CLUSTER_LEDGER_MAX_REQUEST_BYTES", str(256 * 1024))),
                run_projector=env.get("CLUSTER_LEDGER_RUN_PROJECTOR", "1")
                not in {"0", "false", "no"},
                read_wait_seconds=float(env.get("CLUSTER_LEDGER_READ_WAIT_SECONDS", "5")),
                ready_max_lag=int(env.get("CLUSTER_LEDGER_READY_MAX_LAG", "1000")),
                db_connect_timeout=float(env.get("CLUSTER_LEDGER_DB_CONNECT_TIMEOUT", "1.5")),
                db_statement_timeout=float(env.get("CLUSTER_LEDGER_DB_STATEMENT_TIMEOUT", "5")),
                projector_max_backoff=float(
                    env.get("CLUSTER_LEDGER_PROJECTOR_MAX_BACKOFF", "30")
                ),
                log_json=env.get("CLUSTER_LEDGER_LOG_FORMAT", "json") == "json",
                session_idle_seconds=int(env.get("CLUSTER_LEDGER_SESSION_IDLE_SECONDS", "1800")),
                session_absolute_seconds=int(
                    env.get("CLUSTER_LEDGER_SESSION_ABSOLUTE_SECONDS", "43200")
                ),
                cookie_secure=env.get("CLUSTER_LEDGER_COOKIE_SECURE", "0")
                in {"1", "true", "yes"},
                csrf_secret=pem("CLUSTER_LEDGER_CSRF_SECRET"),
                login_max_failures=int(env.get("CLUSTER_LEDGER_LOGIN_MAX_FAILURES", "5")),
                login_max_failures_per_address=int(
                    env.get("CLUSTER_LEDGER_LOGIN_MAX_FAILURES_PER_ADDRESS", "30")
                ),
                login_window_seconds=int(env.get("CLUSTER_LEDGER_LOGIN_WINDOW_SECONDS", "900")),
                login_lock_seconds=int(env.get("CLUSTER_LEDGER_LOGIN_LOCK_SECONDS", "900")),
            )
        except ValueError as exc:
            raise ConfigError(
                "invalid_setting", f"a numeric setting is not a number: {exc}"
            ) from exc
