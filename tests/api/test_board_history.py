"""The board in the past over HTTP: pages of `GET /api/clusters?as_of=&known_at=` and what
changed between two dates (`GET /api/clusters/changes`), from the bitemporal view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from domain.commands import Command
from domain.facts import AppealOutcome, Ground
from infra.application import ClusterLedger
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    XIAMEN,
    Verbs,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    xm_dossier,
)

Auth = Callable[..., dict[str, str]]
TAG = uuid4().hex[:6]  # in every name here: a name filter selects this module's cases


def _ledger(client: TestClient[Any]) -> Any:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return Verbs(ledger)


def _head(client: TestClient[Any]) -> str:
    return str(_ledger(client).recorder.max_notification_id())


class Cases:
    def __init__(self, overturned: UUID, paid: UUID, appealed_at: datetime) -> None:
        self.overturned = overturned
        self.paid = paid
        self.appealed_at = appealed_at  # when the appeal was recorded (before the decision)


@pytest.fixture(scope="module")
def cases(client: TestClient[Any]) -> Cases:
    """FJ: certified 2023-05-22, revoked 2025-09-24, appealed, overturned 2025-11-14 (validity
    ends 2026-05-22). XM: certified 2025-01-20, year 1 paid 2025-03-20."""
    ledger = _ledger(client)
    fj = certified_fj(ledger, fj_dossier(f"晋江市回溯{TAG}甲产业集群"))
    ledger.issue(
        Command.REVOKE,
        fj,
        meta(
            "province",
            FJ_PROVINCE,
            date(2025, 9, 24),
            user_id="prov-c",
            document_number="闽工信〔2025〕77号",
            comment="重大安全事故",
        ),
        4,
        ground=Ground.MAJOR_INCIDENT,
        received_on=date(2025, 9, 26),
    )
    ledger.issue(
        Command.APPEAL,
        fj,
        meta("county", JINJIANG, date(2025, 10, 10), comment="事故企业已迁出"),
        5,
    )
    appealed_at = ledger.get_cluster(fj).modified_on
    result = ledger.issue(
        Command.DECIDE_APPEAL,
        fj,
        meta(
            "province",
            FJ_PROVINCE,
            date(2025, 11, 14),
            user_id="prov-d",
            comment="事故不属于集群企业",
        ),
        6,
        outcome=AppealOutcome.OVERTURNED,
    )
    assert result.version == 7
    xm = certified_xm(ledger, xm_dossier(f"厦门市思明区回溯{TAG}乙产业集群"))
    fund_year_one(ledger, xm, 3)
    return Cases(fj, xm, appealed_at)


def _changes(
    client: TestClient[Any],
    auth: Auth,
    role: str = "province",
    jurisdiction: str = FJ_PROVINCE,
    **params: str,
) -> Any:
    query = {"name": TAG, "after": _head(client), **params}
    return client.get("/api/clusters/changes", params=query, headers=auth(role, jurisdiction))


def _kinds(body: Any, cid: UUID) -> list[tuple[str, str]]:
    return [(i["on"], i["kind"]) for i in body["items"] if i["cluster_id"] == str(cid)]


def test_changes_list_each_certification_step_of_a_year_by_date(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    response = _changes(client, auth, **{"from": "2022-12-31", "to": "2023-12-31"})
    assert response.status_code == 200, response.text
    assert _kinds(response.json(), cases.overturned) == [
        ("2023-03-01", "applied"),
        ("2023-04-03", "status"),
        ("2023-05-04", "status"),
        ("2023-05-22", "certified"),
    ]
    certified = response.json()["items"][-1]
    assert (certified["status_from"], certified["status_to"]) == ("under_notice", "certified")
    assert certified["valid_until_to"] == "2026-05-22"


def test_changes_show_a_revocation_its_reinstatement_and_the_expiry_by_date_alone(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    body = _changes(client, auth, **{"from": "2025-01-01", "to": "2026-12-31"}).json()
    assert _kinds(body, cases.overturned) == [
        ("2025-09-24", "revoked"),
        ("2025-11-14", "reinstated"),
        ("2026-05-23", "expired"),
    ]


def test_changes_as_known_before_the_appeal_decision_keep_the_revocation(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    before = cases.appealed_at.isoformat()
    body = _changes(
        client, auth, known_at=before, **{"from": "2025-01-01", "to": "2026-12-31"}
    ).json()
    assert _kinds(body, cases.overturned) == [("2025-09-24", "revoked")]
    assert body["known_at"] is not None


def test_changes_report_payments_with_the_amount(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    body = _changes(
        client, auth, "city", XIAMEN, kind="payment", **{"from": "2025-01-01", "to": "2025-12-31"}
    ).json()
    payments = [i for i in body["items"] if i["cluster_id"] == str(cases.paid)]
    assert [(p["on"], p["amount_fen"], p["paid_fen"]) for p in payments] == [
        ("2025-03-20", 100_000_000, 100_000_000)
    ]


def test_changes_stay_inside_the_callers_jurisdiction(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    body = _changes(
        client, auth, "city", XIAMEN, **{"from": "2022-01-01", "to": "2026-12-31"}
    ).json()
    assert str(cases.overturned) not in {i["cluster_id"] for i in body["items"]}
    assert {i["city_code"] for i in body["items"]} == {XIAMEN}


def test_changes_page_by_keyset(client: TestClient[Any], auth: Auth, cases: Cases) -> None:
    whole = _changes(client, auth, **{"from": "2022-01-01", "to": "2026-12-31"}).json()
    seen: list[Any] = []
    cursor: str | None = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        page = _changes(
            client, auth, limit="2", **extra, **{"from": "2022-01-01", "to": "2026-12-31"}
        ).json()
        seen += page["items"]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == whole["items"]
    assert len(seen) > 4


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2025-12-31", "to": "2025-01-01"}, "changes_range_reversed"),
        ({"from": "2025-02-30", "to": "2025-03-01"}, "invalid_request"),
        ({"from": "1900-01-01", "to": "2025-03-01"}, "invalid_request"),
        ({"to": "2025-03-01"}, "invalid_request"),
        (
            {"from": "2025-01-01", "to": "2025-03-01", "known_at": "2025-03-01T00:00:00"},
            "known_at_needs_time_zone",
        ),
    ],
)
def test_changes_refuse_bad_dates_and_ranges_with_a_400_problem(
    client: TestClient[Any], auth: Auth, params: dict[str, str], code: str
) -> None:
    response = client.get(
        "/api/clusters/changes", params=params, headers=auth("province", FJ_PROVINCE)
    )
    assert response.status_code in {400, 422}
    assert response.json()["code"] == code
    if code != "known_at_needs_time_zone":
        assert response.status_code == 400


def test_changes_answer_in_chinese_when_asked(client: TestClient[Any], auth: Auth) -> None:
    response = client.get(
        "/api/clusters/changes",
        params={"from": "2025-12-31", "to": "2025-01-01"},
        headers=auth("province", FJ_PROVINCE, **{"Accept-Language": "zh-CN"}),
    )
    assert response.status_code == 400
    assert response.json()["title"] == "区间有误"


def test_changes_as_csv(client: TestClient[Any], auth: Auth, cases: Cases) -> None:
    response = client.get(
        "/api/clusters/changes",
        params={"from": "2025-01-01", "to": "2026-12-31", "name": TAG, "after": _head(client)},
        headers=auth("province", FJ_PROVINCE, Accept="text/csv"),
    )
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0].startswith("cluster_id,name,programme")
    assert any(",reinstated," in line for line in lines[1:])


# ---- the board as of a date: pages, CSV, refusals ---------------------------------------------


def _board(client: TestClient[Any], auth: Auth, **params: str) -> Any:
    query = {"name": TAG, "after": _head(client), **params}
    return client.get("/api/clusters", params=query, headers=auth("province", FJ_PROVINCE))


def test_board_as_of_pages_by_keyset_in_the_live_boards_shape(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    first = _board(client, auth, as_of="2025-10-01", limit="1").json()
    assert set(first) == {"items", "next"}
    assert first["next"] is not None
    second = _board(client, auth, as_of="2025-10-01", limit="1", cursor=first["next"]).json()
    assert second["next"] is None
    items = first["items"] + second["items"]
    assert {i["id"] for i in items} == {str(cases.overturned), str(cases.paid)}
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)
    by_id = {i["id"]: i for i in items}
    assert by_id[str(cases.overturned)]["status"] == "revoked"
    assert by_id[str(cases.paid)]["status"] == "certified"
    # Revoked on 2025-09-24, not yet appealed on 2025-10-01: the appeal window is open.
    appeal_deadline = _ledger(client).get_cluster(cases.overturned).case.revocation.appeal_deadline
    assert by_id[str(cases.overturned)]["next_due_kind"] == "appeal_window"
    assert by_id[str(cases.overturned)]["next_due_on"] == appeal_deadline.isoformat()


def test_board_as_known_at_a_time_reads_the_record_then(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    before = cases.appealed_at.isoformat()
    then = _board(client, auth, as_of="2025-12-01", known_at=before).json()["items"]
    now = _board(client, auth, as_of="2025-12-01").json()["items"]
    status_then = {i["id"]: i["status"] for i in then}[str(cases.overturned)]
    status_now = {i["id"]: i["status"] for i in now}[str(cases.overturned)]
    assert (status_then, status_now) == ("revoked", "certified")


def test_board_as_of_filters_by_the_status_read_on_that_date(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    expired = _board(client, auth, as_of="2026-06-01", status="expired").json()["items"]
    assert [i["id"] for i in expired] == [str(cases.overturned)]


def test_board_as_of_filters_by_the_next_deadline_then(
    client: TestClient[Any], auth: Auth, cases: Cases
) -> None:
    """On 2025-10-01 the revoked case's next deadline is its appeal window (October 2025);
    the XM case's is its annual report on 2025 (April 2026)."""
    soon = _board(client, auth, as_of="2025-10-01", due_before="2026-01-01").json()["items"]
    assert [i["id"] for i in soon] == [str(cases.overturned)]
    assert soon[0]["next_due_overdue"] is False
    later = _board(client, auth, as_of="2025-12-31", due_before="2026-12-31").json()["items"]
    assert {i["id"] for i in later} == {str(cases.overturned), str(cases.paid)}


def test_board_as_of_as_csv(client: TestClient[Any], auth: Auth, cases: Cases) -> None:
    response = client.get(
        "/api/clusters",
        params={"as_of": "2025-10-01", "name": TAG, "after": _head(client)},
        headers=auth("province", FJ_PROVINCE, Accept="text/csv"),
    )
    assert response.status_code == 200
    assert response.text.splitlines()[0].startswith("id,name,programme")
    assert f"{cases.overturned}," in response.text


def test_openapi_documents_the_changes_list(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/api/clusters/changes"]["get"]
    assert operation["operationId"] == "listBoardChanges"
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "known_at", "kind"}
    assert "BoardChange" in schema["components"]["schemas"]
    assert "400" in operation["responses"]
