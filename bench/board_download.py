"""The whole status board as a page download (XLSX, and CSV beside it), timed end to end in a
process of its own, with its peak memory against the same for the board's first 10 %.

    python -m bench.board_download STATS.json --format xlsx [--rows N]

The child reads the board as the board page does (`projections.queries.list_clusters`, pages
of 500 by keyset, sorted by name, the province's counties) inside one read-only snapshot
(`api.web.downloads.snapshot`), and writes it with `api.web.downloads.build` into a temporary
file, exactly what a page's `?format=xlsx` does before it streams the file. `--rows N` stops
after the first N rows of the board. Wall time runs from opening the connection to the file's
last byte; peak RSS is the kernel's high-water mark of the child (`VmHWM`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.child import peak_rss_mb
from bench.context import Context
from bench.server import child_env
from bench.stats import Figure, NotAvailable
from infra.settings import PROJECT_ROOT

SECTION = "6. Downloads: the whole board as XLSX"


def board_columns(regions: Any) -> list[Any]:
    """The board's columns as the board page shows them: every field of a row, region names
    beside the codes (福州市 · 鼓楼区), Chinese headers."""
    from api.web.downloads import Column, Kind

    def county(row: Any) -> str:
        return f"{regions.get(row.county_code).name} · {row.county_code}"

    def city(row: Any) -> str:
        return f"{regions.get(row.city_code).name} · {row.city_code}"

    return [
        Column(key="name", header="集群名称"),
        Column(key="programme", header="项目"),
        Column(key="city", header="设区市", value=city),
        Column(key="county", header="县（市、区）", value=county),
        Column(key="leading_industry", header="主导产业"),
        Column(key="operating_unit", header="运营单位"),
        Column(key="status", header="状态"),
        Column(key="recorded_status", header="记录状态"),
        Column(key="applied_on", header="申报日期", kind=Kind.DATE),
        Column(key="certified_on", header="认定日期", kind=Kind.DATE),
        Column(key="valid_until", header="有效期至", kind=Kind.DATE),
        Column(key="renewal_pending", header="复核中", kind=Kind.BOOL),
        Column(key="last_report_year", header="最近年报年度", kind=Kind.INT),
        Column(key="last_final_score", header="最近得分", kind=Kind.DECIMAL, places=2),
        Column(key="next_due_on", header="下一期限", kind=Kind.DATE),
        Column(key="next_due_kind", header="期限事项"),
        Column(key="next_due_overdue", header="逾期", kind=Kind.BOOL),
        Column(key="version", header="版本", kind=Kind.INT),
        Column(key="position", header="日志位置", kind=Kind.INT),
        Column(key="id", header="案件编号"),
    ]


async def _write_board(fmt: str, rows_wanted: int | None, directory: Path) -> dict[str, Any]:
    import asyncpg

    from api.scope import visible_counties
    from api.web.downloads import (
        ExportedBy,
        Format,
        Provenance,
        Table,
        all_pages,
        build,
        snapshot,
    )
    from domain.actors import Actor, Role
    from infra.database import parse_url
    from infra.rules import load_regions
    from projections.queries import ClusterFilters, ClusterItem, list_clusters

    regions = load_regions()
    province = Actor(user_id="bench", role=Role.PROVINCE, organisation="福建省工业和信息化厅",
                     jurisdiction="350000")
    counties = visible_counties(regions, province)
    table = Table(title="集群状态一览", sheet="集群状态", ascii_name="cluster-board",
                  columns=board_columns(regions))
    on = datetime.now(UTC).date()
    path = directory / f"board.{fmt}"
    baseline = peak_rss_mb()
    started = time.perf_counter()
    pool = await asyncpg.create_pool(**parse_url(os.environ["DATABASE_URL"]).asyncpg_kwargs(),
                                     min_size=1, max_size=1)
    written, reading = 0, 0.0
    try:
        async with snapshot(pool) as snap:
            async def fetch(cursor: str | None) -> Any:
                nonlocal reading
                t0 = time.perf_counter()
                page = await list_clusters(
                    snap.conn, on=on, counties=counties, prefix=None, filters=ClusterFilters(),
                    sort="name", limit=500, cursor=cursor,
                )
                reading += time.perf_counter() - t0
                return page

            async def rows() -> AsyncIterator[ClusterItem]:
                nonlocal written
                async for item in all_pages(fetch):
                    if rows_wanted is not None and written >= rows_wanted:
                        return
                    written += 1
                    yield item

            provenance = Provenance(
                exported_by=ExportedBy(user="bench", role="省级", organisation="省工信厅"),
                exported_at=datetime.now(UTC), as_of_position=snap.position,
                as_of_time=snap.read_at,
            )
            await build(Format(fmt), table, rows(), provenance, path, tmpdir=directory)
    finally:
        await pool.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": written, "bytes": path.stat().st_size,
            "baseline_rss_mb": baseline, "reading_seconds": reading}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.board_download")
    parser.add_argument("stats")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cluster-ledger-download-") as directory:
        result = asyncio.run(_write_board(args.format, args.rows, Path(directory)))
    result["max_rss_mb"] = peak_rss_mb()
    Path(args.stats).write_text(json.dumps(result), encoding="utf-8")
    return 0


# ---- the measurement (parent side) --------------------------------------------------------------


def _run_child(ctx: Context, fmt: str, rows: int | None) -> dict[str, Any]:
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as stats_file:
        stats_path = Path(stats_file.name)
    try:
        command = [sys.executable, "-m", "bench.board_download", str(stats_path),
                   "--format", fmt, *(["--rows", str(rows)] if rows is not None else [])]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=1800, env=child_env(ctx.conn, ctx.data_dir),
                              cwd=PROJECT_ROOT)
        if done.returncode != 0:
            msg = f"board download ({fmt}) exited {done.returncode}: {done.stderr[-1500:]}"
            raise RuntimeError(msg)
        result: dict[str, Any] = json.loads(stats_path.read_text(encoding="utf-8"))
    finally:
        stats_path.unlink(missing_ok=True)
    return result


def _ensure_status_view(ctx: Context) -> None:
    """The board reads the status view: rebuilt here (not timed) unless it has caught up."""
    from bench.server import run_cli
    from projections.positions import read_positions

    status = next(p for p in read_positions(ctx.conn.url) if p.view == "status")
    if status.lag:
        run = run_cli(ctx.conn, ctx.data_dir, "project", "rebuild", "status")
        if run.returncode != 0:
            msg = f"project rebuild status exited {run.returncode}: {run.stderr[-1500:]}"
            raise RuntimeError(msg)


def measure_board_download(ctx: Context) -> None:
    try:
        import xlsxwriter  # noqa: F401

        from api.web import downloads  # noqa: F401
    except ImportError as exc:
        raise NotAvailable(f"page downloads: {exc}") from None
    _ensure_status_view(ctx)
    full = _run_child(ctx, "xlsx", None)
    rows = int(full["rows"])
    part = _run_child(ctx, "xlsx", max(1, rows // 10))
    csv = _run_child(ctx, "csv", None)
    seconds = float(full["seconds"])
    budget = 5.0 * max(1.0, rows / 10_000)  # "a few seconds" for 10,000 clusters
    ctx.add(Figure(
        key="board_xlsx", section=SECTION,
        label=f"XLSX of the whole board ({rows:,} clusters × 20 columns, province user): "
              "list_clusters pages of 500 in one snapshot → XlsxWriter constant_memory → file",
        value=rows / seconds if seconds else None, unit="rows/s", count=rows, seconds=seconds,
        target="a few seconds (≤ 5 s at 10,000 clusters)", met=seconds <= budget,
        note=f"of which reading the pages {float(full['reading_seconds']):,.2f} s; file "
             f"{full['bytes'] / 1e6:,.1f} MB; own process (start-up not counted)",
    ))
    peak, small = float(full["max_rss_mb"]), float(part["max_rss_mb"])
    ctx.add(Figure(
        key="board_xlsx_memory", section=SECTION,
        label=f"its peak RSS, whole board ({rows:,} rows) vs its first 10 % "
              f"({part['rows']:,} rows)",
        value=peak, unit="MB", ratio=peak / small if small else None,
        target="flat in the number of rows", met=peak <= small * 1.25 + 20,
        note=f"ratio = whole / 10 %; after imports, before the first row: "
             f"{float(full['baseline_rss_mb']):,.0f} MB; growth over the 10 % run "
             f"{(peak - small) * 1024 / max(1, rows - int(part['rows'])):,.2f} KB per row",
    ))
    csv_seconds = float(csv["seconds"])
    ctx.add(Figure(
        key="board_csv", section=SECTION,
        label=f"CSV (UTF-8 BOM) of the whole board, the same way ({rows:,} rows)",
        value=rows / csv_seconds if csv_seconds else None, unit="rows/s", count=rows,
        seconds=csv_seconds,
        note=f"file {csv['bytes'] / 1e6:,.1f} MB; peak RSS {float(csv['max_rss_mb']):,.0f} MB",
    ))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
