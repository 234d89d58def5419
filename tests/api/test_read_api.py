"""The read API over the projections: filters, keyset pagination, CSV, jurisdiction,
read-your-writes.

Clusters made here share a leading industry unique to this module's run, so that the shared
session database (other tests add clusters too) does not disturb the lists; filters narrow to it.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from domain.commands import Command
from domain.facts import AnnualFigures
from infra.application import ClusterLedger
from infra.settings import Settings
from projections.positions import wait_for_position
from projections.queries import ClusterPage
from projections.schema import VIEWS
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    SIMING,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    xm_dossier,
)

PINGTAN, FUZHOU, GULOU = "350128", "350100", "350102"
TOKEN = f"读测{uuid.uuid4().hex[:6]}"  # this run's leading industry


@pytest.fixture(scope="module")
def reads(api_settings: Settings) -> Iterator[TestClient[Any]]:
    """The real app with a short read-your-writes wait, projecting in-process."""
    settings = msgspec.structs.replace(api_settings, read_wait_seconds=1.0, run_projector=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def ledger(reads: TestClient[Any]) -> ClusterLedger:
    runtime = reads.app.state.runtime
    return runtime.ledger  # type: ignore[no-any-return]


def _dossier(name: str, county: str, industry: str = TOKEN) -> Any:
    return msgspec.structs.replace(fj_dossier(name, county), leading_industry=industry)


@pytest.fixture(scope="module")
def seeded(ledger: ClusterLedger, api_settings: Settings) -> dict[str, UUID]:
    """Five FJ cases (Jinjiang certified, Jinjiang applied, Gulou, Pingtan, Jinjiang with a
    report filed) and one XM case with year 1 paid, all of this run's industry."""
    ids = {
        "jinjiang_certified": certified_fj(ledger, _dossier("甲 晋江已认定", JINJIANG)),
        "jinjiang_reported": certified_fj(ledger, _dossier("乙 晋江已报送", JINJIANG)),
    }
    ledger.issue(
        Command.FILE_ANNUAL_REPORT,
        ids["jinjiang_reported"],
        meta("county", JINJIANG, date(2024, 3, 20)),
        4,
        year=2023,
        figures=AnnualFigures(total_output_yuan=4_900_000_000),
    )
    for key, name, county in (
        ("jinjiang_applied", "丙 晋江申报", JINJIANG),
        ("gulou", "丁 鼓楼申报", GULOU),
        ("pingtan", "戊 平潭申报", PINGTAN),
    ):
        ids[key] = ledger.issue(
            Command.APPLY,
            None,
            meta("county", county, date(2025, 3, 3)),
            None,
            dossier=_dossier(name, county),
        ).cluster_id
    xm = certified_xm(ledger, msgspec.structs.replace(
        xm_dossier("己 思明资金"), leading_industry=TOKEN))
    last = fund_year_one(ledger, xm, 3)
    ids["xm"] = xm
    assert last == 7
    # The in-process projector may still be catching up with the session's whole log.
    assert wait_for_position(api_settings.database_url or "", _head(ledger), timeout=60)
    return ids


def _get(client: TestClient[Any], path: str, headers: dict[str, str], **params: Any) -> Any:
    return client.get(path, params={k: v for k, v in params.items() if v is not None},
                      headers=headers)


def _head(ledger: ClusterLedger) -> int:
    position = ledger.recorder.max_notification_id()
    assert position is not None
    return position


@pytest.fixture(scope="module")
def province(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("province", FJ_PROVINCE)


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


# ---- status board --------------------------------------------------------------------------


def test_clusters_filter_by_industry_lists_this_runs_cases_by_name(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = _get(reads, "/api/clusters", province, industry=TOKEN, after=_head(ledger))
    assert _names(response) == ["丁 鼓楼申报", "丙 晋江申报", "乙 晋江已报送", "己 思明资金",
                                "戊 平潭申报", "甲 晋江已认定"]


def test_clusters_filter_by_programme(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = _get(reads, "/api/clusters", province, industry=TOKEN, programme="XM",
                    after=_head(ledger))
    assert _names(response) == ["己 思明资金"]


def test_clusters_sort_descending_reverses_the_order(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    ascending = _names(_get(reads, "/api/clusters", province, industry=TOKEN, after=_head(ledger)))
    descending = _names(_get(reads, "/api/clusters", province, industry=TOKEN, sort="-name"))
    assert descending == list(reversed(ascending))


@pytest.mark.parametrize("sort", ["name", "-name", "next_due_on", "-valid_until", "county_code"])
def test_keyset_pages_cover_every_row_once_in_order(
    sort: str, reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    whole = _get(reads, "/api/clusters", province, industry=TOKEN, sort=sort, limit=500,
                 after=_head(ledger)).json()
    pages: list[str] = []
    cursor = None
    while True:
        page = _get(reads, "/api/clusters", province, industry=TOKEN, sort=sort, limit=2,
                    cursor=cursor).json()
        pages.extend(item["id"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == [item["id"] for item in whole["items"]]
    assert len(pages) == 6


def test_status_reads_expired_the_day_after_validity(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    """valid_until 2026-05-22: still certified on that day, expired on the next."""
    on_last_day = _get(reads, "/api/clusters", province, industry=TOKEN, status="expired",
                       on="2026-05-22", after=_head(ledger))
    next_day = _get(reads, "/api/clusters", province, industry=TOKEN, status="expired",
                    on="2026-05-23")
    assert _names(on_last_day) == []
    assert _names(next_day) == ["乙 晋江已报送", "甲 晋江已认定"]


def test_due_before_filters_on_the_next_deadline(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    """Jinjiang certified owes its 2023 report by 2024-03-30; the reported one owes 2024's."""
    response = _get(reads, "/api/clusters", province, industry=TOKEN, due_before="2024-03-31",
                    after=_head(ledger))
    assert _names(response) == ["甲 晋江已认定"]
    item = response.json()["items"][0]
    assert (item["next_due_on"], item["next_due_kind"]) == ("2024-03-30", "annual_report")


def test_unknown_status_filter_is_refused(
    reads: TestClient[Any], province: dict[str, str]
) -> None:
    response = _get(reads, "/api/clusters", province, status="sleeping")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_status")


def test_cursor_not_from_this_list_is_refused(
    reads: TestClient[Any], province: dict[str, str]
) -> None:
    response = _get(reads, "/api/clusters", province, cursor="bm90LWEtY3Vyc29y")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor")


# ---- jurisdiction --------------------------------------------------------------------------


def test_fuzhou_city_does_not_see_pingtan(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/clusters", auth("city", FUZHOU), industry=TOKEN,
                    after=_head(ledger))
    assert _names(response) == ["丁 鼓楼申报"]


def test_pingtan_sees_only_its_own_clusters(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/clusters", auth("city", PINGTAN), industry=TOKEN,
                    after=_head(ledger))
    assert _names(response) == ["戊 平潭申报"]


def test_county_sees_only_itself(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/clusters", auth("county", JINJIANG), industry=TOKEN,
                    after=_head(ledger))
    assert _names(response) == ["丙 晋江申报", "乙 晋江已报送", "甲 晋江已认定"]


def test_region_code_filter_follows_pingtan_as_a_city(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    by_city = _get(reads, "/api/clusters", province, industry=TOKEN, region=FUZHOU,
                   after=_head(ledger))
    by_prefix = _get(reads, "/api/clusters", province, industry=TOKEN, region="3501")
    assert _names(by_city) == ["丁 鼓楼申报"]
    assert _names(by_prefix) == ["丁 鼓楼申报", "戊 平潭申报"]


def test_region_filter_cannot_widen_a_jurisdiction(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/clusters", auth("county", GULOU), industry=TOKEN,
                    region="350000", after=_head(ledger))
    assert _names(response) == ["丁 鼓楼申报"]


def test_auditor_reads_within_its_jurisdiction(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/clusters", auth("auditor", "350500"), industry=TOKEN,
                    after=_head(ledger))
    assert _names(response) == ["丙 晋江申报", "乙 晋江已报送", "甲 晋江已认定"]


def test_reads_need_a_token(reads: TestClient[Any]) -> None:
    assert reads.get("/api/clusters").status_code == 401


# ---- CSV -----------------------------------------------------------------------------------


def test_clusters_as_csv_have_a_header_and_one_line_per_cluster(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = _get(reads, "/api/clusters", {**province, "Accept": "text/csv"}, industry=TOKEN,
                    on="2025-01-01", after=_head(ledger))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == ["丁 鼓楼申报", "丙 晋江申报", "乙 晋江已报送",
                                         "己 思明资金", "戊 平潭申报", "甲 晋江已认定"]
    assert rows[-1]["status"] == "certified"


def test_csv_page_links_to_the_next_page(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    first = _get(reads, "/api/clusters", {**province, "Accept": "text/csv"}, industry=TOKEN,
                 limit=4, after=_head(ledger))
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    second = reads.get(link[1:link.index(">")], headers={**province, "Accept": "text/csv"})
    names = [r["name"] for r in csv.DictReader(io.StringIO(second.text))]
    assert names == ["戊 平潭申报", "甲 晋江已认定"]


def test_funding_as_csv_lists_vouchers(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = reads.get(f"/api/clusters/{seeded['xm']}/funding",
                         headers={**province, "Accept": "text/csv"},
                         params={"after": _head(ledger)})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["funding_year"], r["paid_fen"], r["remaining_fen"]) for r in rows] == [
        ("1", "100000000", "0")
    ]
    assert rows[0]["payments"] == f"XM-2025-{seeded['xm'].hex[:8]}-1 2025-03-20 100000000"


# ---- read-your-writes -------------------------------------------------------------------------


def test_read_after_a_command_position_sees_the_command(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    result = ledger.issue(
        Command.RECOMMEND,
        seeded["gulou"],
        meta("city", FUZHOU, date(2025, 4, 1)),
        1,
        onsite_verified=True,
    )
    assert result.position is not None
    response = _get(reads, "/api/clusters", province, industry=TOKEN, region=GULOU,
                    after=result.position)
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert (item["status"], item["version"], item["position"]) == (
        "recommended", 2, result.position
    )


def test_read_after_a_position_not_yet_projected_answers_503_with_retry_after(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str], api_settings: Settings,
) -> None:
    # Every projector of the session waits for the status view's lock while this
    # transaction holds it: the position below is written but not projected.
    with psycopg.connect(api_settings.database_url or "") as blocker:
        blocker.execute("SELECT pg_advisory_xact_lock(%s)", (VIEWS["status"].lock_key,))
        written = ledger.issue(
            Command.APPLY, None, meta("county", GULOU, date(2025, 3, 4)), None,
            dossier=_dossier("庚 鼓楼滞后", GULOU, industry=f"滞后{uuid.uuid4().hex[:6]}"),
        ).position
        response = _get(reads, "/api/stats", province, after=written)
        blocker.rollback()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "projection_lagging"


def test_read_after_a_position_beyond_the_log_head_is_refused_at_once(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    started = time.monotonic()
    response = _get(reads, "/api/stats", province, after=_head(ledger) + 1_000_000)
    waited = time.monotonic() - started
    assert response.status_code == 422
    assert response.json()["code"] == "position_beyond_log_head"
    assert response.json()["fields"] == ["after"]
    # `reads` waits up to 1 s for a lagging view; this answer must not wait for it at all.
    assert waited < 0.9


# ---- funding, deadlines, statistics ------------------------------------------------------------


def test_cluster_funding_shows_entitled_approved_paid_and_remaining(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = reads.get(f"/api/clusters/{seeded['xm']}/funding", headers=province,
                         params={"after": _head(ledger)})
    assert response.status_code == 200
    body = response.json()
    [row] = body["items"]
    assert (row["entitled_fen"], row["approved_fen"], row["paid_fen"], row["remaining_fen"]) == (
        100_000_000, 100_000_000, 100_000_000, 0
    )
    assert row["payments"] == [{"voucher": f"XM-2025-{seeded['xm'].hex[:8]}-1",
                                "paid_on": "2025-03-20", "amount_fen": 100_000_000}]
    assert body["totals"]["overall"]["paid_fen"] == 100_000_000


def test_cluster_funding_outside_jurisdiction_is_403(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = reads.get(f"/api/clusters/{seeded['xm']}/funding",
                         headers=auth("county", JINJIANG), params={"after": _head(ledger)})
    assert (response.status_code, response.json()["code"]) == (403, "outside_jurisdiction")


def test_cluster_funding_of_an_unknown_cluster_is_404(
    reads: TestClient[Any], province: dict[str, str]
) -> None:
    response = reads.get(f"/api/clusters/{uuid.uuid4()}/funding", headers=province)
    assert (response.status_code, response.json()["code"]) == (404, "cluster_not_found")


def test_funding_list_totals_by_county_city_and_year(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/funding", auth("county", SIMING), year=2025,
                    after=_head(ledger))
    body = response.json()
    paid = sum(item["paid_fen"] for item in body["items"])
    assert body["totals"]["overall"]["paid_fen"] == paid
    assert [(t["county_code"], t["year"]) for t in body["totals"]["by_county"]] == [
        (SIMING, 2025)
    ]
    assert body["totals"]["by_city"][0]["city_code"] == "350200"
    assert str(seeded["xm"]) in {item["cluster_id"] for item in body["items"]}


def test_deadlines_overdue_on_a_date_excludes_the_due_date_itself(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    jinjiang = auth("county", JINJIANG)
    cid = str(seeded["jinjiang_certified"])
    on_due = _get(reads, "/api/deadlines", jinjiang, cluster_id=cid, overdue_on="2024-03-30",
                  after=_head(ledger))
    after_due = _get(reads, "/api/deadlines", jinjiang, cluster_id=cid, overdue_on="2024-03-31")
    assert on_due.json()["items"] == []
    [overdue] = after_due.json()["items"]
    assert (overdue["kind"], overdue["subject"], overdue["due_on"], overdue["overdue"]) == (
        "annual_report", "2023", "2024-03-30", True
    )


def test_deadlines_list_every_open_obligation_of_a_case(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = _get(reads, "/api/deadlines", province, cluster_id=str(seeded["jinjiang_reported"]),
                    on="2025-01-01", after=_head(ledger))
    items = [(i["kind"], i["due_on"], i["overdue"]) for i in response.json()["items"]]
    assert items == [("annual_report", "2025-03-30", False), ("renewal", "2026-05-22", False)]


def test_stats_equal_the_pure_summary_of_the_views(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    from projections.rebuild import open_view
    from projections.summary import Summary, summarise

    response = _get(reads, "/api/stats", province, on="2026-06-01", after=_head(ledger))
    runtime = reads.app.state.runtime
    status, funding = open_view(runtime.conn, "status"), open_view(runtime.conn, "funding")
    try:
        expected = summarise(status.rows(), funding.rows(), on=date(2026, 6, 1))
    finally:
        status.datastore.close()
        funding.datastore.close()
    assert msgspec.convert(response.json(), Summary) == expected


def test_stats_count_only_the_callers_jurisdiction(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    auth: Callable[..., dict[str, str]],
) -> None:
    response = _get(reads, "/api/stats", auth("city", PINGTAN), after=_head(ledger))
    assert {c["county_code"] for c in response.json()["clusters"]} == {PINGTAN}


def test_page_struct_matches_the_json(
    reads: TestClient[Any], seeded: dict[str, UUID], ledger: ClusterLedger,
    province: dict[str, str],
) -> None:
    response = _get(reads, "/api/clusters", province, industry=TOKEN, after=_head(ledger))
    page = msgspec.convert(response.json(), ClusterPage, strict=False)
    assert {item.id for item in page.items} == set(seeded.values())
