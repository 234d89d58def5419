"""The JSON API's CSV: one `text/csv; charset=utf-8` Content-Type, no BOM (programs read it),
and `/api/stats` answering `Accept: text/csv` with the table `table=` picks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from infra.application import ClusterLedger
from tests.factories import SIMING, XIAMEN, certified_xm, fund_year_one, xm_dossier

CSV_TYPE = "text/csv; charset=utf-8"


@pytest.fixture(scope="module")
def ledger(client: TestClient[Any]) -> ClusterLedger:
    return client.app.state.runtime.ledger  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def funded(ledger: ClusterLedger) -> UUID:
    """A certified Siming case with its first funding year paid."""
    cid = certified_xm(ledger, xm_dossier("思明区统计口径测试产业集群"))
    fund_year_one(ledger, cid, 3)
    return cid


@pytest.fixture(scope="module")
def xiamen(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("city", XIAMEN)


def _head(ledger: ClusterLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("path", ["/api/clusters", "/api/deadlines", "/api/funding"])
def test_list_csv_names_its_charset_once(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
    path: str,
) -> None:
    response = client.get(path, params={"after": _head(ledger)},
                          headers={**xiamen, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE


def test_api_csv_has_no_byte_order_mark(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
) -> None:
    response = client.get("/api/clusters", params={"after": _head(ledger)},
                          headers={**xiamen, "Accept": "text/csv"})
    assert response.content.startswith(b"id,name,programme,")


def test_stats_answer_csv_of_the_cluster_counts_by_default(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
) -> None:
    params = {"region": SIMING, "on": "2026-01-01", "after": str(_head(ledger))}
    summary = client.get("/api/stats", params=params, headers=xiamen).json()
    response = client.get("/api/stats", params=params, headers={**xiamen, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE
    rows = _rows(response.text)
    assert list(rows[0]) == ["on", "status", "city_code", "county_code", "year", "clusters"]
    assert rows == [
        {"on": "2026-01-01", **{k: str(v) for k, v in count.items()}}
        for count in summary["clusters"]
    ]
    assert any(r["status"] == "certified" for r in rows)


def test_stats_csv_of_the_funding_totals_in_fen(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
) -> None:
    params = {"region": SIMING, "on": "2026-01-01", "after": str(_head(ledger))}
    summary = client.get("/api/stats", params=params, headers=xiamen).json()
    response = client.get("/api/stats", params={**params, "table": "funding"},
                          headers={**xiamen, "Accept": "text/csv"})
    assert response.headers["content-type"] == CSV_TYPE
    rows = _rows(response.text)
    assert list(rows[0]) == ["on", "city_code", "county_code", "year", "entitled_fen",
                             "approved_fen", "paid_fen", "remaining_fen"]
    assert rows == [
        {"on": "2026-01-01", **{k: str(v) for k, v in total.items()}}
        for total in summary["funding"]
    ]
    assert sum(int(r["paid_fen"]) for r in rows) >= 100_000_000  # the year paid here


def test_stats_csv_links_the_other_table(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
) -> None:
    response = client.get("/api/stats", params={"region": SIMING, "after": _head(ledger)},
                          headers={**xiamen, "Accept": "text/csv"})
    link = response.headers["link"]
    assert link == '</api/stats?region=350203&table=funding>; rel="alternate"; type="text/csv"'
    other = client.get(link[1:link.index(">")], headers={**xiamen, "Accept": "text/csv"})
    assert "paid_fen" in other.text.splitlines()[0]


def test_stats_json_ignores_table_and_answers_both(
    client: TestClient[Any], funded: UUID, ledger: ClusterLedger, xiamen: dict[str, str],
) -> None:
    response = client.get("/api/stats", params={"region": SIMING, "table": "funding",
                                                "after": _head(ledger)}, headers=xiamen)
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"on", "clusters", "funding"}


def test_stats_refuse_an_unknown_table(
    client: TestClient[Any], xiamen: dict[str, str]
) -> None:
    response = client.get("/api/stats", params={"table": "vouchers"},
                          headers={**xiamen, "Accept": "text/csv"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
