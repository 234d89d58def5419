"""The read side is total on every event already stored, whatever text it holds (issue 12.3).

Odd text is written straight into the store through the ClusterLedger application, bypassing
the API's input policy (the domain itself does not refuse it): U+0000, which PostgreSQL text
and jsonb cannot hold, BEL, bidi override, zero-width space, markup, literal backslashes. The
projector must go on, every view must rebuild, the rows must hold the visible escaped form
(`projections.text.storable`), the other cases must stay intact, and every read, the CSV and
the audit export + offline verify must answer. On a database of its own, so that no other
test sees these cases.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.cli import main
from domain.commands import Command
from domain.facts import ChangeKind
from infra.application import ClusterLedger
from infra.audit.checkpoints import create_due_checkpoints, signer_for
from infra.database import ConnectionInfo
from infra.settings import Settings
from projections.positions import read_positions, wait_for_position
from projections.queries import encode_cursor
from projections.rebuild import open_view
from projections.summary import Summary
from projections.text import restore
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    SIMING,
    XIAMEN,
    certified_fj,
    certified_xm,
    fj_dossier,
    meta,
    plan_and_approve,
    xm_dossier,
)
from tests.integration.audit_support import AuditDatabase, fresh_database, verify_bytes

Auth = Callable[..., dict[str, str]]
VIEWS = ("status", "funding", "deadlines")

NUL_NAME = "晋江市\x00鞋业产业集群"
NUL_NAME_STORED = "晋江市\\u0000鞋业产业集群"  # the six characters \u0000
BEL_INDUSTRY = "运动鞋\x07原辅材料"  # storable: kept as it is
MARKUP_NAME = "<script>alert(1)</script>思明区产业集群"
BIDI_UNIT = "思明区\u202e运营单位\u200b有限公司"  # right-to-left override, zero-width space
NUL_VOUCHER = "XM-2025\x00-0001"
NUL_VOUCHER_STORED = "XM-2025\\u0000-0001"
NUL_INDUSTRY = "智慧城市\x00智能系统"
NUL_INDUSTRY_STORED = "智慧城市\\u0000智能系统"
BACKSLASH_NAME = "C:\\u0000 is not NUL \\\\ nor this"  # literal backslashes, no NUL
BACKSLASH_NAME_STORED = "C:\\\\u0000 is not NUL \\\\\\\\ nor this"  # each backslash doubled
ORDINARY_NAME = "晋江市（寻常）运动鞋产业集群"


class OddCases(msgspec.Struct, kw_only=True):
    conn: ConnectionInfo
    settings: Settings
    ledger: ClusterLedger
    client: TestClient[Any]
    nul: UUID  # FJ, certified: name with U+0000, industry with BEL
    xm: UUID  # XM, certified and paid: markup name, bidi unit, voucher and new industry with NUL
    backslash: UUID  # FJ, applied: literal backslashes
    ordinary: UUID  # FJ, certified, written in between the others


def _write_odd_cases(ledger: ClusterLedger) -> dict[str, UUID]:
    nul = certified_fj(ledger, msgspec.structs.replace(
        fj_dossier(NUL_NAME), leading_industry=BEL_INDUSTRY
    ))
    ordinary = certified_fj(ledger, fj_dossier(ORDINARY_NAME))
    xm = certified_xm(ledger, msgspec.structs.replace(
        xm_dossier(MARKUP_NAME), operating_unit=BIDI_UNIT
    ))
    version = plan_and_approve(
        ledger, xm, 3, funding_year=1, amount_fen=100_000_000, submitted_on=date(2025, 2, 10),
        reviewed_on=date(2025, 2, 20), approved_on=date(2025, 3, 3),
    )
    ledger.issue(
        Command.PAY_SUBSIDY,
        xm,
        meta("city", XIAMEN, date(2025, 3, 20), user_id="city-treasurer"),
        version,
        funding_year=1,
        amount_fen=40_000_000,
        voucher=NUL_VOUCHER,
    )
    ledger.issue(
        Command.REPORT_MAJOR_CHANGE, xm, meta("county", SIMING, date(2025, 4, 1)), version + 1,
        kind=ChangeKind.LEADING_INDUSTRY, new_value=NUL_INDUSTRY,
    )
    backslash = ledger.issue(
        Command.APPLY,
        None,
        meta("county", JINJIANG, date(2025, 3, 3)),
        None,
        dossier=fj_dossier(BACKSLASH_NAME),
    ).cluster_id
    return {"nul": nul, "xm": xm, "backslash": backslash, "ordinary": ordinary}


@pytest.fixture(scope="module")
def database(pg: ConnectionInfo) -> Iterator[AuditDatabase]:
    yield from fresh_database(pg)


@pytest.fixture(scope="module")
def odd(
    database: AuditDatabase, jwt_keys: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OddCases]:
    private, public = jwt_keys
    settings = Settings(
        database_url=database.conn.url, data_dir=tmp_path_factory.mktemp("odd-data"),
        jwt_public_key=public, jwt_private_key=private,
    )
    ids = _write_odd_cases(database.ledger)
    app = create_app(settings, conn=database.conn)
    with TestClient(app, raise_server_exceptions=False) as client:
        _settle(database.ledger, database.conn)
        yield OddCases(
            conn=database.conn, settings=settings, ledger=database.ledger, client=client, **ids
        )


def _settle(ledger: ClusterLedger, conn: ConnectionInfo) -> int:
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(conn.url, head, timeout=30), "the projector did not get there"
    return head


def _rows(conn: ConnectionInfo, name: str) -> list[Any]:
    view = open_view(conn, name)
    try:
        return view.rows()
    finally:
        view.datastore.close()


def _by_id(conn: ConnectionInfo, name: str) -> dict[UUID, list[Any]]:
    rows: dict[UUID, list[Any]] = {}
    for row in _rows(conn, name):
        rows.setdefault(row.cluster_id, []).append(row)
    return rows


# ---- the projector -------------------------------------------------------------------------


def test_the_projector_goes_on_past_text_postgresql_cannot_hold(odd: OddCases) -> None:
    ready = odd.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["projections"]["failures"] == []
    # Still running: a later event is projected too.
    later = certified_fj(odd.ledger, fj_dossier("晋江市（其后）产业集群"))
    head = _settle(odd.ledger, odd.conn)
    assert {p.position for p in read_positions(odd.conn.url)} == {head}
    assert _by_id(odd.conn, "status")[later][0].status == "certified"


def test_status_rows_hold_the_escaped_text(odd: OddCases) -> None:
    rows = {cid: found[0] for cid, found in _by_id(odd.conn, "status").items()}
    nul, xm, backslash = rows[odd.nul], rows[odd.xm], rows[odd.backslash]
    assert (nul.name, nul.leading_industry, nul.status) == (
        NUL_NAME_STORED, BEL_INDUSTRY, "certified"
    )
    assert (xm.name, xm.operating_unit, xm.leading_industry) == (
        MARKUP_NAME, BIDI_UNIT, NUL_INDUSTRY_STORED
    )
    assert backslash.name == BACKSLASH_NAME_STORED
    # Lossless: the stored form gives back the event's text.
    assert [restore(t) for t in (nul.name, xm.leading_industry, backslash.name)] == [
        NUL_NAME, NUL_INDUSTRY, BACKSLASH_NAME
    ]


def test_funding_and_deadline_rows_hold_the_escaped_text(odd: OddCases) -> None:
    (funding,) = _by_id(odd.conn, "funding")[odd.xm]
    assert [p.voucher for p in funding.payments] == [NUL_VOUCHER_STORED]
    assert (funding.paid_fen, funding.remaining_fen) == (40_000_000, 60_000_000)
    deadlines = _by_id(odd.conn, "deadlines")
    assert {d.name for d in deadlines[odd.nul]} == {NUL_NAME_STORED}
    assert {d.kind for d in deadlines[odd.nul]} == {"annual_report", "renewal"}
    assert {d.name for d in deadlines[odd.xm]} == {MARKUP_NAME}


def test_the_other_cases_rows_are_intact(odd: OddCases) -> None:
    ordinary = _by_id(odd.conn, "status")[odd.ordinary][0]
    assert (ordinary.name, ordinary.leading_industry, ordinary.status) == (
        ORDINARY_NAME, "运动鞋原辅材料", "certified"
    )
    assert ordinary.version == 4
    assert {d.kind for d in _by_id(odd.conn, "deadlines")[odd.ordinary]} == {
        "annual_report", "renewal"
    }


@pytest.mark.parametrize("name", VIEWS)
def test_every_view_rebuilds_to_the_same_rows(
    name: str, odd: OddCases, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head = _settle(odd.ledger, odd.conn)
    before = _rows(odd.conn, name)
    monkeypatch.setenv("DATABASE_URL", odd.conn.url)
    assert main(["project", "rebuild", name]) == 0, capsys.readouterr().err
    assert f"position {head}" in capsys.readouterr().out
    assert _rows(odd.conn, name) == before


# ---- reads -----------------------------------------------------------------------------------


def test_the_board_answers_with_the_escaped_text(odd: OddCases, auth: Auth) -> None:
    response = odd.client.get("/api/clusters", headers=auth("province", FJ_PROVINCE))
    assert response.status_code == 200, response.text
    names = {UUID(item["id"]): item["name"] for item in response.json()["items"]}
    assert names[odd.nul] == NUL_NAME_STORED
    assert names[odd.backslash] == BACKSLASH_NAME_STORED
    assert names[odd.ordinary] == ORDINARY_NAME
    found = odd.client.get(
        "/api/clusters", params={"industry": "原辅"}, headers=auth("county", JINJIANG)
    )
    assert found.status_code == 200, found.text
    assert odd.nul in {UUID(item["id"]) for item in found.json()["items"]}


def test_an_industry_search_finds_the_stored_form_and_refuses_a_nul(
    odd: OddCases, auth: Auth
) -> None:
    """The edge's text policy refuses a NUL typed into a search (422); the stored form
    (the six characters `\\u0000`) is what the board shows, and searching it finds the case."""
    refused = odd.client.get(
        "/api/clusters", params={"industry": "城市\x00智能"}, headers=auth("county", SIMING)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "text_control_character"
    response = odd.client.get(
        "/api/clusters", params={"industry": "城市\\u0000智能"}, headers=auth("county", SIMING)
    )
    assert response.status_code == 200, response.text
    assert [UUID(item["id"]) for item in response.json()["items"]] == [odd.xm]


def test_a_cursor_with_text_postgresql_cannot_hold_is_not_one_the_board_returned(
    odd: OddCases, auth: Auth
) -> None:
    cursor = encode_cursor(["晋江\x00", str(odd.nul)])
    response = odd.client.get(
        "/api/clusters", params={"sort": "name", "cursor": cursor},
        headers=auth("county", JINJIANG),
    )
    assert response.status_code == 422, response.text  # as any cursor not from this list
    assert response.json()["code"] == "invalid_cursor"


def test_funding_and_deadlines_answer_with_the_escaped_text(odd: OddCases, auth: Auth) -> None:
    funding = odd.client.get("/api/funding", headers=auth("city", XIAMEN))
    assert funding.status_code == 200, funding.text
    (row,) = [r for r in funding.json()["items"] if UUID(r["cluster_id"]) == odd.xm]
    assert [p["voucher"] for p in row["payments"]] == [NUL_VOUCHER_STORED]
    one = odd.client.get(f"/api/clusters/{odd.xm}/funding", headers=auth("city", XIAMEN))
    assert one.status_code == 200, one.text
    deadlines = odd.client.get(
        "/api/deadlines", params={"cluster_id": str(odd.nul)}, headers=auth("county", JINJIANG)
    )
    assert deadlines.status_code == 200, deadlines.text
    assert {d["name"] for d in deadlines.json()["items"]} == {NUL_NAME_STORED}


@pytest.mark.parametrize(
    ("path", "role", "jurisdiction"),
    [("/api/clusters", "county", JINJIANG), ("/api/funding", "county", SIMING),
     ("/api/deadlines", "county", JINJIANG)],
)
def test_csv_answers_with_the_escaped_text(
    odd: OddCases, auth: Auth, path: str, role: str, jurisdiction: str
) -> None:
    response = odd.client.get(path, headers=auth(role, jurisdiction, Accept="text/csv"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert "\x00" not in text
    cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
    expected = NUL_VOUCHER_STORED if path == "/api/funding" else NUL_NAME_STORED
    assert any(expected in cell for cell in cells)


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return set()


@pytest.mark.parametrize("suffix", ["", "/events", "/state", "/state?as_of=2024-01-01"])
def test_the_case_itself_answers_with_the_event_text(
    odd: OddCases, auth: Auth, suffix: str
) -> None:
    response = odd.client.get(f"/api/clusters/{odd.nul}{suffix}", headers=auth("county", JINJIANG))
    assert response.status_code == 200, response.text
    # The case is read from the events: JSON carries U+0000 as \u0000, which decodes back.
    assert NUL_NAME in _strings(response.json())


def test_the_board_as_of_a_date_answers(odd: OddCases, auth: Auth) -> None:
    for accept in ("application/json", "text/csv"):
        response = odd.client.get(
            "/api/clusters", params={"as_of": "2025-06-01"},
            headers=auth("county", JINJIANG, Accept=accept),
        )
        assert response.status_code == 200, response.text


# ---- audit -------------------------------------------------------------------------------------


def test_the_audit_export_of_the_log_verifies(odd: OddCases, auth: Auth) -> None:
    with psycopg.connect(odd.conn.url) as conn, conn.transaction():  # the head signed first
        create_due_checkpoints(conn.cursor(), signer_for(odd.settings), 10**9, head=True)
    key = odd.client.get("/api/audit/checkpoints", headers=auth("county", JINJIANG)).json()
    export = odd.client.get("/api/audit/events", headers=auth("auditor", FJ_PROVINCE))
    assert export.status_code == 200, export.text
    report = verify_bytes(export.content, key["public_key"], on=date(2026, 6, 1))
    assert report.ok, report.problems
    assert report.complete
    stats = odd.client.get(
        "/api/stats", params={"on": "2026-06-01"}, headers=auth("province", FJ_PROVINCE)
    )
    assert stats.status_code == 200, stats.text
    assert msgspec.convert(stats.json(), Summary) == report.summary


# ---- a lone surrogate can never be stored ----------------------------------------------------


def test_a_lone_surrogate_is_never_stored(odd: OddCases, auth: Auth) -> None:
    """msgspec cannot UTF-8-encode a lone surrogate: the save fails before anything is written
    (so no stored event holds one), and a JSON body carrying one is malformed (400)."""
    head = odd.ledger.recorder.max_notification_id()
    with pytest.raises(UnicodeEncodeError):
        odd.ledger.issue(
            Command.APPLY,
            None,
            meta("county", JINJIANG, date(2025, 3, 3)),
            None,
            dossier=fj_dossier("晋江市\ud800产业集群"),
        )
    assert odd.ledger.recorder.max_notification_id() == head
    body = b'{"effective_date": "2025-03-03", "dossier": {"name": "\\ud800"}}'
    response = odd.client.post(
        "/api/clusters", content=body,
        headers=auth("county", JINJIANG, **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400, response.text
    assert odd.ledger.recorder.max_notification_id() == head
