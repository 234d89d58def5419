"""Audit over HTTP: the NDJSON log, checkpoints, the state of a case at a date, the diff, and
the status board on a date. Cases are driven through the real application service; recording
times for `known_at` are taken between two commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from litestar.testing import TestClient

from domain.commands import Command
from domain.facts import AppealOutcome, Ground, ScoreStage
from infra.application import ClusterLedger
from infra.audit.checkpoints import create_due_checkpoints, list_checkpoints, signer_for
from infra.audit.format import LINE_DECODER, EndLine, EventLine, Header
from infra.database import ConnectionInfo
from infra.rules import load_programmes, load_regions, load_rulebook
from infra.settings import Settings
from projections.audit_replay import verify_lines
from projections.folds import Rules
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    SIMING,
    XIAMEN,
    certified_fj,
    certified_xm,
    fj_dossier,
    fund_year_one,
    meta,
    xm_dossier,
)

Auth = Callable[..., dict[str, str]]
FUZHOU_GULOU = "350102"


def _ledger(client: TestClient[Any]) -> ClusterLedger:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return ledger


def _name(base: str) -> str:
    return f"{base}-{uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def overturned(client: TestClient[Any]) -> UUID:
    """FJ: certified 2023-05-22, revoked 2025-09-24, appealed 2025-10-10, overturned
    2025-11-14."""
    ledger = _ledger(client)
    cid = certified_fj(ledger, fj_dossier(_name("晋江市审计复核产业集群")))
    ledger.issue(
        Command.REVOKE, cid, meta("province", FJ_PROVINCE, date(2025, 9, 24), user_id="prov-c",
                  document_number="闽工信〔2025〕77号", comment="重大安全事故"),
        4, ground=Ground.MAJOR_INCIDENT, received_on=date(2025, 9, 26),
    )
    ledger.issue(
        Command.APPEAL,
        cid,
        meta("county", JINJIANG, date(2025, 10, 10), comment="事故企业已迁出"),
        5,
    )
    ledger.issue(
        Command.DECIDE_APPEAL,
        cid,
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
    return cid


def _state(
    client: TestClient[Any], auth: Auth, cid: UUID, role: str = "province",
    jurisdiction: str = FJ_PROVINCE, **params: str,
) -> Any:
    return client.get(
        f"/api/clusters/{cid}/state", params=params, headers=auth(role, jurisdiction)
    )


# ---- the log -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["auditor", "province", "admin"])
def test_province_level_log_readers_may_export(
    client: TestClient[Any], auth: Auth, overturned: UUID, role: str
) -> None:
    response = client.get("/api/audit/events", headers=auth(role, FJ_PROVINCE))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [LINE_DECODER.decode(line) for line in response.content.splitlines()]
    assert isinstance(lines[0], Header)
    assert isinstance(lines[-1], EndLine)
    assert any(isinstance(line, EventLine) and line.cluster_id == overturned for line in lines)


@pytest.mark.parametrize(
    ("role", "jurisdiction"),
    [("county", SIMING), ("city", XIAMEN), ("operating_unit", SIMING), ("miit_recorder", XIAMEN)],
)
def test_case_roles_may_not_read_the_whole_log(
    client: TestClient[Any], auth: Auth, role: str, jurisdiction: str
) -> None:
    response = client.get("/api/audit/events", headers=auth(role, jurisdiction))
    assert response.status_code == 403
    assert response.json()["code"] == "log_reader_role"


def test_auditor_of_one_city_may_not_read_the_whole_log(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.get("/api/audit/events", headers=auth("auditor", XIAMEN))
    assert response.status_code == 403
    assert response.json()["code"] == "log_needs_province_jurisdiction"


def test_export_needs_a_token(client: TestClient[Any]) -> None:
    assert client.get("/api/audit/events").status_code == 401


def test_exported_log_verifies_offline_with_the_published_key(
    client: TestClient[Any], auth: Auth, api_settings: Settings, migrated: ConnectionInfo,
    overturned: UUID,
) -> None:
    with psycopg.connect(migrated.url) as conn, conn.transaction():  # the head signed first
        create_due_checkpoints(conn.cursor(), signer_for(api_settings), 10**9, head=True)
    key = client.get("/api/audit/checkpoints", headers=auth("county", SIMING)).json()
    body = client.get("/api/audit/events", headers=auth("auditor", FJ_PROVINCE)).content
    report = verify_lines(
        body.splitlines(keepends=True),
        Rules(rulebook=load_rulebook(), programmes=load_programmes(), regions=load_regions()),
        public_keys=[key["public_key"]],
    )
    assert report.ok, report.problems
    assert report.checkpoints_verified >= 1
    assert report.complete
    assert report.summary is not None


def test_export_pages_with_after_and_limit(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    headers = auth("auditor", FJ_PROVINCE)
    first = client.get("/api/audit/events", params={"limit": 3}, headers=headers)
    events = [e for e in map(LINE_DECODER.decode, first.content.splitlines())
              if isinstance(e, EventLine)]
    assert len(events) == 3
    after = events[-1].position
    assert first.headers["x-export-to"] == str(after)
    second = client.get("/api/audit/events", params={"after": after, "limit": 2}, headers=headers)
    lines = [LINE_DECODER.decode(line) for line in second.content.splitlines()]
    header = lines[0]
    assert isinstance(header, Header)
    assert header.anchor.position == after
    assert header.anchor.hash == events[-1].hash
    assert next(e.position for e in lines if isinstance(e, EventLine)) > after


def test_export_refuses_a_negative_after(client: TestClient[Any], auth: Auth) -> None:
    response = client.get(
        "/api/audit/events", params={"after": -1}, headers=auth("auditor", FJ_PROVINCE)
    )
    assert response.status_code == 400


# ---- checkpoints -------------------------------------------------------------------------------


def test_checkpoints_list_signed_head_with_the_public_key(
    client: TestClient[Any], auth: Auth, api_settings: Settings, migrated: ConnectionInfo,
    overturned: UUID,
) -> None:
    signer = signer_for(api_settings)
    with psycopg.connect(migrated.url) as conn, conn.transaction():
        create_due_checkpoints(conn.cursor(), signer, 10**9, head=True)  # if not signed yet
        row = conn.execute("SELECT max(notification_id) FROM ledger_chain").fetchone()
        assert row is not None
        head = int(row[0])
        made = list_checkpoints(conn.cursor(), after=head - 1)
    assert [c.position for c in made] == [head]
    response = client.get(
        "/api/audit/checkpoints", params={"after": made[-1].position - 1},
        headers=auth("county", SIMING),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["public_key"] == signer.public_pem
    assert body["public_key_fingerprint"] == signer.fingerprint
    assert body["checkpoints"][0]["position"] == made[-1].position
    assert body["checkpoints"][0]["hash"] == made[-1].hash
    assert body["next_after"] is None


# ---- state at a date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "status"),
    [("2025-09-01", "certified"), ("2025-10-20", "revoked"), ("2025-11-20", "certified")],
)
def test_revoked_then_overturned_reads_by_date(
    client: TestClient[Any], auth: Auth, overturned: UUID, as_of: str, status: str
) -> None:
    response = _state(client, auth, overturned, as_of=as_of)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


def test_state_lists_the_events_used_with_positions(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    body = _state(client, auth, overturned, as_of="2025-10-20").json()
    assert [e["type"] for e in body["used"]][-2:] == ["Revoked", "Appealed"]
    assert all(isinstance(e["position"], int) for e in body["used"])
    assert [(e["type"], e["reason"]) for e in body["excluded"]] == [
        ("AppealDecided", "effective_after_as_of")
    ]


def test_state_outside_the_jurisdiction_is_refused(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    response = _state(client, auth, overturned, "county", FUZHOU_GULOU, as_of="2025-10-20")
    assert response.status_code == 403
    assert response.json()["code"] == "outside_jurisdiction"


def test_state_of_an_unknown_case_is_404(client: TestClient[Any], auth: Auth) -> None:
    response = _state(client, auth, uuid4(), as_of="2025-10-20")
    assert response.status_code == 404
    assert response.json()["code"] == "cluster_not_found"


def test_known_at_without_a_time_zone_is_refused(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    response = _state(client, auth, overturned, known_at="2025-10-20T08:00:00")
    assert response.status_code == 422
    assert response.json()["code"] == "known_at_needs_time_zone"


def test_late_score_correction_as_known_before_and_after_it_was_recorded(
    client: TestClient[Any], auth: Auth
) -> None:
    ledger = _ledger(client)
    cid = certified_xm(ledger, xm_dossier(_name("思明区审计更正产业集群")))
    ledger.issue(Command.SCORE, cid, meta("county", SIMING, date(2026, 2, 10)), 3, year=2025,
                 stage=ScoreStage.DISTRICT_INITIAL, score=Decimal(72))
    ledger.issue(
        Command.SCORE,
        cid,
        meta("city", XIAMEN, date(2026, 3, 10), user_id="city-assessor"),
        4,
        year=2025,
        stage=ScoreStage.CITY_FINAL,
        score=Decimal(72),
    )
    between = datetime.now(UTC)
    ledger.issue(
        Command.SCORE,
        cid,
        meta(
            "city",
            XIAMEN,
            date(2026, 3, 10),
            user_id="city-assessor",
            comment="研发投入统计口径更正",
        ),
        5,
        year=2025,
        stage=ScoreStage.CITY_FINAL,
        score=Decimal(81),
        correction=True,
    )

    def final(**params: str) -> str:
        response = _state(client, auth, cid, "city", XIAMEN, as_of="2026-03-31", **params)
        assert response.status_code == 200, response.text
        assessment = response.json()["case"]["assessments"]["2025"]
        return str(assessment["final_score"])

    assert final(known_at=between.isoformat()) == "72"
    assert final() == "81"


def test_payment_while_certified_then_revocation_recorded_with_an_earlier_date(
    client: TestClient[Any], auth: Auth
) -> None:
    ledger = _ledger(client)
    cid = certified_xm(ledger, xm_dossier(_name("思明区审计支付产业集群")))
    version = fund_year_one(ledger, cid, 3)  # paid 2025-03-20
    paid_known = datetime.now(UTC)
    ledger.issue(
        Command.REVOKE, cid, meta("miit_recorder", XIAMEN, date(2025, 3, 15),
                  document_number="工信部企业函〔2025〕31号", comment="申报材料虚假"),
        version, ground=Ground.FALSE_APPLICATION, received_on=date(2025, 3, 25),
    )
    then = _state(client, auth, cid, "city", XIAMEN, as_of="2025-03-20",
                  known_at=paid_known.isoformat()).json()
    now = _state(client, auth, cid, "city", XIAMEN, as_of="2025-03-20").json()
    assert then["status"] == "certified"
    assert now["status"] == "revoked"
    assert then["case"]["funding"]["1"]["paid_fen"] == now["case"]["funding"]["1"]["paid_fen"]
    assert now["case"]["funding"]["1"]["paid_fen"] == 100_000_000


def test_diff_between_two_dates(client: TestClient[Any], auth: Auth, overturned: UUID) -> None:
    response = client.get(
        f"/api/clusters/{overturned}/diff", params={"from": "2025-09-01", "to": "2025-10-20"},
        headers=auth("province", FJ_PROVINCE),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2025-09-01"
    assert body["to"] == "2025-10-20"
    assert {"path": "status", "old": "certified", "new": "revoked"} in body["changes"]
    assert [e["type"] for e in body["events"]] == ["Revoked", "Appealed"]


def test_diff_with_to_before_from_is_refused(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    response = client.get(
        f"/api/clusters/{overturned}/diff", params={"from": "2025-10-20", "to": "2025-09-01"},
        headers=auth("province", FJ_PROVINCE),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "to_before_from"


# ---- the board on a date -------------------------------------------------------------------------


def _board(
    client: TestClient[Any], auth: Auth, role: str, jurisdiction: str, **params: str
) -> list[dict[str, Any]]:
    """Every item of the board in the past (all pages), once the views hold every event."""
    head = _ledger(client).recorder.max_notification_id()
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "after": str(head), "limit": "50"}
        if cursor is not None:
            query["cursor"] = cursor
        response = client.get("/api/clusters", params=query, headers=auth(role, jurisdiction))
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next"]
        if cursor is None:
            return items


def test_board_on_a_date_shows_the_status_then(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    rows = _board(client, auth, "province", FJ_PROVINCE, as_of="2025-10-20")
    row = next(r for r in rows if r["id"] == str(overturned))
    assert row["status"] == "revoked"
    assert row["recorded_status"] == "revoked"
    assert row["certified_on"] == "2023-05-22"


def test_board_on_a_date_leaves_out_cases_not_yet_applied_for(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    rows = _board(client, auth, "province", FJ_PROVINCE, as_of="2023-02-01")
    assert str(overturned) not in {r["id"] for r in rows}


def test_board_on_a_date_keeps_to_the_jurisdiction(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    rows = _board(client, auth, "city", XIAMEN, as_of="2025-10-20")
    assert str(overturned) not in {r["id"] for r in rows}
    assert all(r["city_code"] == XIAMEN for r in rows)


def test_board_on_a_date_after_the_appeal_shows_the_certification_restored(
    client: TestClient[Any], auth: Auth, overturned: UUID
) -> None:
    rows = _board(client, auth, "auditor", FJ_PROVINCE, as_of="2025-11-20")
    assert next(r for r in rows if r["id"] == str(overturned))["status"] == "certified"
