"""Wiring: build the application and its services from connection details and settings."""

from __future__ import annotations

from infra.application import ClusterLedger, Services
from infra.calendar_store import CalendarStore
from infra.database import ConnectionInfo, DatabaseLimits
from infra.rules import load_programmes, load_regions, load_rulebook
from infra.settings import Settings


def build_ledger(conn: ConnectionInfo, settings: Settings) -> tuple[ClusterLedger, CalendarStore]:
    limits = DatabaseLimits.of(settings)
    calendar = CalendarStore(limits.conninfo(conn.url))
    services = Services(
        rulebook=load_rulebook(), regions=load_regions(),
        programmes=load_programmes(), calendar=calendar.current
    )
    ledger = ClusterLedger(
        conn.eventsourcing_env(limits=limits),
        services,
        snapshot_interval=settings.snapshot_interval,
        cache_size=settings.aggregate_cache,
    )
    return ledger, calendar
