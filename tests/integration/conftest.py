from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.application import ClusterLedger
from infra.bootstrap import build_ledger
from infra.database import ConnectionInfo
from infra.settings import Settings


@pytest.fixture(scope="session")
def ledger(migrated: ConnectionInfo) -> Iterator[ClusterLedger]:
    app, _ = build_ledger(migrated, Settings(database_url=migrated.url))
    yield app
    app.close()


@pytest.fixture
def uncached(migrated: ConnectionInfo) -> Iterator[ClusterLedger]:
    """A second ledger on the same store without a cache: another process, in effect."""
    app, _ = build_ledger(migrated, Settings(database_url=migrated.url, aggregate_cache=0))
    yield app
    app.close()
