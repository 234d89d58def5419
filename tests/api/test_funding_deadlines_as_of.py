"""The funding ledger and the deadlines as of a date and as known at a time, from the
bitemporal view (GET /api/funding, /api/clusters/{id}/funding and /api/deadlines with
`as_of` / `known_at`): what was approved and paid by then, the obligations open then and
whether they were overdue on the date, with the live reads' filters, pages, CSV and scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from infra.application import ClusterLedger
from tests.factories import certified_xm, fund_year_one, xm_dossier

Auth = Callable[..., dict[str, str]]
YEAR_ONE = 100_000_000  # fund_year_one: approved 2025-03-03, paid 2025-03-20, 1,000,000 yuan


class Case:
    def __init__(self, cid: UUID, approved_at: Any, voucher: str) -> None:
        self.cid = cid
        self.approved_at = approved_at  # when the approval was recorded (before the payment)
        self.voucher = voucher


def _ledger(client: TestClient[Any]) -> ClusterLedger:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return ledger


def _head(client: TestClient[Any]) -> str:
    return str(_ledger(client).recorder.max_notification_id())


@pytest.fixture(scope="module")
def case(client: TestClient[Any]) -> Case:
    """XM, Siming: certified 2025-01-20; year 1 planned 02-10, reviewed 02-20, approved
    03-03 (fund-use notice), paid 03-20."""
    ledger = _ledger(client)
    cid = certified_xm(ledger, xm_dossier(f"厦门市思明区资金回溯{uuid4().hex[:6]}产业集群"))
    fund_year_one(ledger, cid, 3)
    events = list(ledger.recorder.select_events(cid))
    approved_at = ledger.mapper.to_domain_event(events[-2]).timestamp
    return Case(cid, approved_at, f"XM-2025-{cid.hex[:8]}-1")


def _funding(client: TestClient[Any], auth: Auth, case: Case, role: str = "city",
             jurisdiction: str = "350200", **params: str) -> Any:
    response = client.get(
        f"/api/clusters/{case.cid}/funding", params={"after": _head(client), **params},
        headers=auth(role, jurisdiction),
    )
    assert response.status_code == 200, response.text
    return response.json()


def _funding_list(client: TestClient[Any], auth: Auth, role: str, jurisdiction: str,
                  **params: str) -> Any:
    response = client.get(
        "/api/funding", params={"after": _head(client), "limit": "500", **params},
        headers=auth(role, jurisdiction),
    )
    assert response.status_code == 200, response.text
    return response.json()


def _deadlines(client: TestClient[Any], auth: Auth, case: Case, **params: str) -> list[Any]:
    response = client.get(
        "/api/deadlines",
        params={"after": _head(client), "cluster_id": str(case.cid), **params},
        headers=auth("city", "350200"),
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


# ---- funding -------------------------------------------------------------------------------


def test_funding_as_of_shows_what_was_approved_and_paid_by_that_date(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    assert _funding(client, auth, case, as_of="2025-02-09")["items"] == []  # no plan yet
    planned = _funding(client, auth, case, as_of="2025-02-10")["items"]
    assert [(r["funding_year"], r["district_passed"], r["approved_fen"], r["paid_fen"])
            for r in planned] == [(1, None, 0, 0)]
    approved = _funding(client, auth, case, as_of="2025-03-19")
    row = approved["items"][0]
    assert (row["approved_fen"], row["paid_fen"], row["remaining_fen"], row["payments"]) == (
        YEAR_ONE, 0, YEAR_ONE, [])
    assert row["entitled_fen"] == YEAR_ONE
    assert row["entitlement_fixed"] is True
    assert approved["totals"]["overall"]["remaining_fen"] == YEAR_ONE
    paid = _funding(client, auth, case, as_of="2025-03-20")["items"][0]
    assert (paid["paid_fen"], paid["remaining_fen"]) == (YEAR_ONE, 0)
    assert paid["payments"] == [
        {"voucher": case.voucher, "paid_on": "2025-03-20", "amount_fen": YEAR_ONE}
    ]


def test_funding_as_known_before_the_payment_was_recorded_shows_it_unpaid(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    known = case.approved_at.isoformat()
    then = _funding(client, auth, case, known_at=known)["items"][0]
    assert (then["approved_fen"], then["paid_fen"]) == (YEAR_ONE, 0)
    both = _funding(client, auth, case, as_of="2025-12-31", known_at=known)["items"][0]
    assert both["paid_fen"] == 0
    live = _funding(client, auth, case)["items"][0]
    assert live["paid_fen"] == YEAR_ONE


def test_funding_list_as_of_keeps_its_filters_totals_and_pages(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    body = _funding_list(client, auth, "city", "350200", as_of="2025-03-19", region="350203",
                         funding_year="1", year="2025")
    rows = [r for r in body["items"] if r["cluster_id"] == str(case.cid)]
    assert [(r["paid_fen"], r["budget_year"]) for r in rows] == [(0, 2025)]
    assert body["totals"]["overall"]["paid_fen"] == sum(r["paid_fen"] for r in body["items"])
    assert _funding_list(client, auth, "city", "350200", as_of="2025-03-19", year="2024",
                         region="350203")["items"] == []
    first = _funding_list(client, auth, "city", "350200", as_of="2025-12-31", limit="1")
    if first["next"] is not None:  # another case of the session funded by then: page on
        second = _funding_list(client, auth, "city", "350200", as_of="2025-12-31", limit="1",
                               cursor=first["next"])
        assert second["items"][0]["cluster_id"] != first["items"][0]["cluster_id"] or (
            second["items"][0]["funding_year"] != first["items"][0]["funding_year"])


def test_funding_as_of_stays_inside_the_callers_jurisdiction(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    elsewhere = _funding_list(client, auth, "city", "350500", as_of="2025-12-31")
    assert str(case.cid) not in {r["cluster_id"] for r in elsewhere["items"]}
    home = _funding_list(client, auth, "county", "350203", as_of="2025-12-31")
    assert str(case.cid) in {r["cluster_id"] for r in home["items"]}
    response = client.get(f"/api/clusters/{case.cid}/funding", params={"as_of": "2025-12-31"},
                          headers=auth("city", "350500"))
    assert response.status_code == 403


def test_funding_as_of_as_csv(client: TestClient[Any], auth: Auth, case: Case) -> None:
    response = client.get(
        "/api/funding", params={"as_of": "2025-03-19", "region": "350203", "limit": "500",
                                "after": _head(client)},
        headers=auth("city", "350200", Accept="text/csv"),
    )
    assert response.status_code == 200
    assert response.text.splitlines()[0].startswith("cluster_id,funding_year,name")
    row = next(r for r in csv.DictReader(io.StringIO(response.text))
               if r["cluster_id"] == str(case.cid))
    assert (row["approved_fen"], row["paid_fen"], row["remaining_fen"], row["payments"]) == (
        str(YEAR_ONE), "0", str(YEAR_ONE), "")


# ---- deadlines -----------------------------------------------------------------------------


def test_deadlines_as_of_are_the_obligations_open_then(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    notice = _deadlines(client, auth, case, as_of="2025-03-10")
    assert {d["kind"] for d in notice} == {"annual_report", "renewal", "subsidy_notice"}
    after_payment = _deadlines(client, auth, case, as_of="2025-03-20")
    assert {d["kind"] for d in after_payment} == {"annual_report", "renewal"}
    assert _deadlines(client, auth, case, as_of="2025-01-19") == []  # not certified yet
    report = next(d for d in after_payment if d["kind"] == "annual_report")
    assert (report["subject"], report["due_on"]) == ("2025", "2026-04-30")  # XM Art. 9


def test_deadlines_as_of_are_overdue_by_the_date_alone(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    """The report on 2025 is due 2026-04-30: in time on that day, overdue the day after."""
    due = date(2026, 4, 30)

    def report_overdue(day: date) -> bool:
        rows = _deadlines(client, auth, case, as_of=day.isoformat(), kind="annual_report")
        return bool(rows[0]["overdue"])

    assert report_overdue(due) is False
    assert report_overdue(due + timedelta(days=1)) is True
    overdue_only = _deadlines(client, auth, case, as_of="2026-05-01",
                              overdue_on="2026-05-01")
    assert [d["kind"] for d in overdue_only] == ["annual_report"]


def test_deadlines_as_known_at_a_time_alone_read_the_record_then(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    then = _deadlines(client, auth, case, known_at=case.approved_at.isoformat())
    assert "subsidy_notice" in {d["kind"] for d in then}  # approved, not yet paid as known


def test_deadlines_as_of_stay_inside_the_callers_jurisdiction(
    client: TestClient[Any], auth: Auth, case: Case
) -> None:
    response = client.get(
        "/api/deadlines",
        params={"as_of": "2025-06-01", "cluster_id": str(case.cid), "after": _head(client)},
        headers=auth("city", "350500"),
    )
    assert response.status_code == 200
    assert response.json()["items"] == []


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/funding", "/api/deadlines"])
@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "2025-02-30"},  # no such day
        {"as_of": "1800-01-01"},  # outside 1990..2200
        {"as_of": "yesterday"},
        {"known_at": "not-an-instant"},
        {"known_at": "1800-01-01T00:00:00Z"},
    ],
)
def test_as_of_reads_refuse_bad_dates_with_a_400_problem(
    client: TestClient[Any], auth: Auth, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params, headers=auth("province", "350000"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/api/funding", "/api/deadlines"])
def test_as_of_reads_refuse_an_instant_without_its_time_zone(
    client: TestClient[Any], auth: Auth, path: str
) -> None:
    """As the board does: an instant without a zone is well-formed but ambiguous (422)."""
    response = client.get(path, params={"known_at": "2025-06-01T08:00:00"},
                          headers=auth("province", "350000"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "known_at_needs_time_zone"
