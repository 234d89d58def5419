"""The board as a download over the real views: every row once, page by page, from one
snapshot of the views (a write that lands meanwhile is not half in it), "as of" the position
the snapshot names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import openpyxl
import pytest
from litestar.testing import TestClient

from api.scope import visible_counties
from api.web.downloads import (
    Column,
    ExportedBy,
    Format,
    Kind,
    Provenance,
    Table,
    all_pages,
    build,
    snapshot,
)
from domain.commands import Command
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.positions import wait_for_position
from projections.queries import ClusterFilters, ClusterItem, list_clusters
from tests.factories import FJ_PROVINCE, JINJIANG, QUANZHOU, actor, fj_dossier, meta

TOKEN = f"下载{uuid.uuid4().hex[:6]}"  # this module's leading industry
ON = date(2026, 1, 1)


@pytest.fixture(scope="module")
def ledger(client: TestClient[Any]) -> ClusterLedger:
    return client.app.state.runtime.ledger  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def applied(ledger: ClusterLedger, migrated: ConnectionInfo) -> list[UUID]:
    """Five Jinjiang applications of this module's industry, projected."""
    ids = [
        ledger.issue(
            Command.APPLY,
            None,
            meta("county", JINJIANG, date(2025, 3, 3)),
            None,
            dossier=msgspec.structs.replace(
                fj_dossier(f"晋江下载测试{n}号集群"), leading_industry=TOKEN
            ),
        ).cluster_id
        for n in range(5)
    ]
    assert wait_for_position(migrated.url, ledger.recorder.max_notification_id() or 0, 60)
    return ids


@pytest.fixture
async def pool(migrated: ConnectionInfo) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(**migrated.asyncpg_kwargs(), min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def _pages(conn: Any, ledger: ClusterLedger, limit: int) -> AsyncIterator[ClusterItem]:
    counties = visible_counties(ledger.services.regions, actor("province", FJ_PROVINCE))

    async def fetch(cursor: str | None) -> Any:
        return await list_clusters(
            conn, on=ON, counties=counties, prefix=None,
            filters=ClusterFilters(industry=TOKEN), sort="name", limit=limit, cursor=cursor,
        )

    return all_pages(fetch)


async def test_all_pages_reads_every_row_once_in_order(
    pool: asyncpg.Pool, ledger: ClusterLedger, applied: list[UUID]
) -> None:
    async with snapshot(pool) as snap:
        rows = [item async for item in _pages(snap.conn, ledger, limit=2)]
    assert [r.name for r in rows] == [f"晋江下载测试{n}号集群" for n in range(5)]
    assert {r.id for r in rows} == set(applied)


async def test_snapshot_names_the_position_every_view_has_processed(
    pool: asyncpg.Pool, ledger: ClusterLedger, applied: list[UUID]
) -> None:
    head = ledger.recorder.max_notification_id() or 0
    async with snapshot(pool) as snap:
        assert snap.position >= head  # the fixture waited for the views
        positions = [r.position async for r in _pages(snap.conn, ledger, 500)]
        assert max(positions) <= snap.position
        assert snap.read_at.tzinfo is not None


async def test_a_write_during_the_download_is_not_half_in_it(
    pool: asyncpg.Pool, ledger: ClusterLedger, applied: list[UUID], migrated: ConnectionInfo
) -> None:
    async with snapshot(pool) as snap:
        pages = _pages(snap.conn, ledger, limit=2)
        first = [await anext(pages), await anext(pages)]
        # The last case (by name) is recommended and projected while the download reads.
        result = ledger.issue(
            Command.RECOMMEND,
            applied[4],
            meta("city", QUANZHOU, date(2025, 4, 1)),
            None,
            onsite_verified=True,
        )
        assert wait_for_position(migrated.url, result.position or 0, 60)
        rest = [item async for item in pages]
    assert [r.status for r in first + rest] == ["applied"] * 5
    assert snap.position < (result.position or 0)
    async with snapshot(pool) as after:
        statuses = [r.status async for r in _pages(after.conn, ledger, 500)]
    assert statuses[4] == "recommended"


async def test_the_board_as_xlsx(
    pool: asyncpg.Pool, ledger: ClusterLedger, applied: list[UUID], tmp_path: Path
) -> None:
    table = Table(title="集群状态一览", sheet="集群状态", ascii_name="board", columns=[
        Column(key="name", header="集群名称"),
        Column(key="county_code", header="县（市、区）代码"),
        Column(key="applied_on", header="申报日期", kind=Kind.DATE),
        Column(key="status", header="状态"),
        Column(key="position", header="日志位置", kind=Kind.INT),
    ])
    path = tmp_path / "board.xlsx"
    async with snapshot(pool) as snap:
        provenance = Provenance(
            exported_by=ExportedBy(user="省厅测试", role="省级", organisation="省工信厅"),
            exported_at=datetime.now(UTC), as_of_position=snap.position,
            as_of_time=snap.read_at, filters=[("主导产业", TOKEN)],
        )
        await build(Format.XLSX, table, _pages(snap.conn, ledger, 2), provenance, path,
                    tmpdir=tmp_path)
    sheet = openpyxl.load_workbook(path)["集群状态"]
    assert sheet.freeze_panes == "A8"  # one filter: the block takes rows 1-6
    rows = list(sheet.iter_rows(min_row=8, values_only=True))
    assert [r[0] for r in rows] == [f"晋江下载测试{n}号集群" for n in range(5)]
    assert f"日志位置 {snap.position}" in str(sheet["B2"].value)
