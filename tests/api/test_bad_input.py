"""Bad input is a 400/413/422 problem naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar.testing import TestClient

from domain.commands import Command
from infra.application import ClusterLedger
from tests.factories import SIMING, XIAMEN, certified_xm, xm_dossier

Auth = Callable[..., dict[str, str]]
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def _apply_body(**dossier_changes: Any) -> dict[str, Any]:
    dossier = msgspec.to_builtins(xm_dossier())
    dossier.update(dossier_changes)
    return {"effective_date": "2024-12-02", "dossier": dossier}


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _with_indicator(name: str, value: Any) -> bytes:
    body = _apply_body()
    body["dossier"]["indicators"][name] = value
    return _encode(body)


# (case id, raw body, status, problem code, field named)
APPLY_CASES: list[tuple[str, bytes, int, str, str | None]] = [
    ("truncated_json", b'{"effective_date": "2024-12-02"', 400, "malformed_json", None),
    ("not_json", b"effective_date=2024-12-02", 400, "malformed_json", None),
    ("invalid_utf8", b'{"effective_date": "\xff\xfe"}', 400, "malformed_json", None),
    ("empty_body", b"", 400, "invalid_request", "body"),
    ("array_body", b"[]", 400, "invalid_request", "body"),
    (
        "unknown_field",
        _encode({**_apply_body(), "surprise": 1}),
        400,
        "invalid_request",
        "surprise",
    ),
    (
        "actor_in_body",
        _encode({**_apply_body(), "actor": {"user_id": "x"}}),
        400,
        "invalid_request",
        "actor",
    ),
    (
        "unknown_nested_field",
        _with_indicator("bogus_pct", 1),
        400,
        "invalid_request",
        "dossier.indicators.bogus_pct",
    ),
    (
        "missing_field",
        _encode({"dossier": _apply_body()["dossier"]}),
        400,
        "invalid_request",
        "effective_date",
    ),
    (
        "impossible_date",
        _encode({**_apply_body(), "effective_date": "2025-02-30"}),
        400,
        "invalid_request",
        "effective_date",
    ),
    (
        "date_wrong_format",
        _encode({**_apply_body(), "effective_date": "02/12/2024"}),
        400,
        "invalid_request",
        "effective_date",
    ),
    (
        "date_as_number",
        _encode({**_apply_body(), "effective_date": 20241202}),
        400,
        "invalid_request",
        "effective_date",
    ),
    (
        "region_code_format",
        _encode(_apply_body(county_code="35020")),
        400,
        "invalid_request",
        "dossier.county_code",
    ),
    (
        "region_code_letters",
        _encode(_apply_body(county_code="35O203")),
        400,
        "invalid_request",
        "dossier.county_code",
    ),
    (
        "region_code_unknown",
        _encode(_apply_body(county_code="359999")),
        422,
        "unknown_region",
        "dossier.county_code",
    ),
    (
        "region_code_is_a_city",
        _encode(_apply_body(county_code=XIAMEN)),
        422,
        "unknown_region",
        "dossier.county_code",
    ),
    (
        "unknown_programme",
        _encode(_apply_body(programme="XX")),
        400,
        "invalid_request",
        "dossier.programme",
    ),
    (
        "bool_as_string",
        _encode(_apply_body(negative_list_clear="true")),
        400,
        "invalid_request",
        "dossier.negative_list_clear",
    ),
    (
        "int_as_string",
        _with_indicator("champion_or_little_giant_count", "2"),
        400,
        "invalid_request",
        "dossier.indicators.champion_or_little_giant_count",
    ),
    (
        "negative_count",
        _with_indicator("champion_or_little_giant_count", -1),
        400,
        "invalid_request",
        "dossier.indicators.champion_or_little_giant_count",
    ),
    (
        "share_over_100",
        _with_indicator("sme_output_share_pct", "150"),
        422,
        "indicator_out_of_range",
        None,
    ),
    (
        "share_not_a_number",
        _with_indicator("sme_output_share_pct", "lots"),
        400,
        "invalid_request",
        "dossier.indicators.sme_output_share_pct",
    ),
    (
        "bad_attachment_hash",
        _encode({**_apply_body(), "attachments": ["abc"]}),
        400,
        "invalid_request",
        "attachments[0]",
    ),
    (
        "uppercase_attachment_hash",
        _encode({**_apply_body(), "attachments": ["AB" * 32]}),
        400,
        "invalid_request",
        "attachments[0]",
    ),
    (
        "name_too_long",
        _encode(_apply_body(name="集" * 201)),
        400,
        "invalid_request",
        "dossier.name",
    ),
    (
        "null_for_required",
        _encode({**_apply_body(), "dossier": None}),
        400,
        "invalid_request",
        "dossier",
    ),
]


def _assert_problem(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem.keys() >= PROBLEM_KEYS
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("/" + code)
    if field is not None:
        assert field in problem["fields"], problem
        if status == 400:
            assert field in problem["detail"]


@pytest.mark.parametrize(
    ("raw", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in APPLY_CASES],
)
def test_bad_application_is_a_problem_naming_the_field(
    client: TestClient[Any], auth: Auth, raw: bytes, status: int, code: str, field: str | None
) -> None:
    response = client.post(
        "/api/clusters",
        content=raw,
        headers=auth("county", SIMING, **{"Content-Type": "application/json"}),
    )
    _assert_problem(response, status, code, field)


@pytest.fixture(scope="module")
def certified(client: TestClient[Any]) -> UUID:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return certified_xm(ledger)


COMMAND_CASES: list[tuple[str, str, dict[str, Any], int, str, str | None]] = [
    (
        "score_as_words",
        "scores",
        {"year": 2025, "stage": "district_initial", "score": "high"},
        400,
        "invalid_request",
        "score",
    ),
    (
        "score_nan",
        "scores",
        {"year": 2025, "stage": "district_initial", "score": "NaN"},
        400,
        "invalid_request",
        None,
    ),
    (
        "score_infinite",
        "scores",
        {"year": 2025, "stage": "district_initial", "score": "Infinity"},
        400,
        "invalid_request",
        None,
    ),
    (
        "score_out_of_range",
        "scores",
        {"year": 2025, "stage": "district_initial", "score": 101},
        422,
        "score_out_of_range",
        "score",
    ),
    (
        "unknown_stage",
        "scores",
        {"year": 2025, "stage": "final", "score": 80},
        400,
        "invalid_request",
        "stage",
    ),
    ("year_as_float", "annual-reports", {"year": 2025.5}, 400, "invalid_request", "year"),
    ("year_absurd", "annual-reports", {"year": 99999}, 400, "invalid_request", "year"),
    (
        "unknown_ground",
        "revocation",
        {"ground": "bad_luck", "received_on": "2026-01-05"},
        400,
        "invalid_request",
        "ground",
    ),
    (
        "unknown_change_kind",
        "major-changes",
        {"kind": "colour", "new_value": "蓝"},
        400,
        "invalid_request",
        "kind",
    ),
    (
        "unknown_fund_category",
        "fund-use-plans",
        {"funding_year": 1, "lines": [{"category": "parties", "amount_fen": 100}]},
        422,
        "unknown_fund_use_category",
        "lines.category",
    ),
    (
        "unknown_plan_line_field",
        "fund-use-plans",
        {"funding_year": 1, "lines": [{"category": "brand_building", "amount_fen": 1, "x": 1}]},
        400,
        "invalid_request",
        "lines[0].x",
    ),
    (
        "funding_year_4",
        "subsidy-approvals",
        {"funding_year": 4, "amount_fen": 1},
        400,
        "invalid_request",
        "funding_year",
    ),
    (
        "amount_negative",
        "payments",
        {"funding_year": 1, "amount_fen": -5, "voucher": "V"},
        400,
        "invalid_request",
        "amount_fen",
    ),
    (
        "amount_huge",
        "payments",
        {"funding_year": 1, "amount_fen": 10**30, "voucher": "V"},
        400,
        "invalid_request",
        "amount_fen",
    ),
    (
        "amount_as_string",
        "payments",
        {"funding_year": 1, "amount_fen": "100", "voucher": "V"},
        400,
        "invalid_request",
        "amount_fen",
    ),
    (
        "voucher_empty",
        "payments",
        {"funding_year": 1, "amount_fen": 5, "voucher": ""},
        400,
        "invalid_request",
        "voucher",
    ),
]

ROLE_FOR = {
    "scores": ("county", SIMING),
    "annual-reports": ("county", SIMING),
    "revocation": ("miit_recorder", XIAMEN),
    "major-changes": ("county", SIMING),
    "fund-use-plans": ("operating_unit", SIMING),
    "subsidy-approvals": ("city", XIAMEN),
    "payments": ("city", XIAMEN),
}


@pytest.mark.parametrize(
    ("resource", "facts", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in COMMAND_CASES],
)
def test_bad_command_is_a_problem_naming_the_field(
    client: TestClient[Any],
    auth: Auth,
    certified: UUID,
    resource: str,
    facts: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    role, jurisdiction = ROLE_FOR[resource]
    response = client.post(
        f"/api/clusters/{certified}/{resource}",
        json={"effective_date": "2026-02-10", **facts},
        headers=auth(role, jurisdiction, **{"If-Match": '"3"'}),
    )
    _assert_problem(response, status, code, field)


def test_bad_uuid_in_path_is_not_a_500(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/clusters/not-a-uuid/recommendation",
        json={"effective_date": "2024-12-16", "onsite_verified": True},
        headers=auth("city", XIAMEN, **{"If-Match": '"1"'}),
    )
    assert response.status_code in {400, 404}
    assert response.headers["content-type"].startswith("application/problem+json")


def test_body_over_the_limit_is_413_problem(client: TestClient[Any], auth: Auth) -> None:
    limit = client.app.state.runtime.settings.max_request_bytes
    body = _apply_body()
    body["comment"] = "x" * (limit + 1)
    response = client.post("/api/clusters", json=body, headers=auth("county", SIMING))
    _assert_problem(response, 413, "request_too_large", None)


def test_chunked_body_over_the_limit_is_413_problem(client: TestClient[Any], auth: Auth) -> None:
    limit = client.app.state.runtime.settings.max_request_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"effective_date": "2024-12-02", "comment": "'
        for _ in range(limit // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/api/clusters",
        content=chunks(),
        headers=auth("county", SIMING, **{"Content-Type": "application/json"}),
    )
    _assert_problem(response, 413, "request_too_large", None)


def test_body_just_under_the_limit_is_read(client: TestClient[Any], auth: Auth) -> None:
    """The limit is not a blanket refusal: a large but allowed body reaches validation."""
    limit = client.app.state.runtime.settings.max_request_bytes
    body = _apply_body()
    body["padding"] = "x" * (limit - len(_encode(body)) - 20)
    response = client.post("/api/clusters", json=body, headers=auth("county", SIMING))
    _assert_problem(response, 400, "invalid_request", "padding")


def test_unknown_route_is_404_problem(client: TestClient[Any], auth: Auth) -> None:
    response = client.get("/api/nowhere", headers=auth("city", XIAMEN))
    _assert_problem(response, 404, "not_found", None)


def test_wrong_method_is_405_problem(client: TestClient[Any], auth: Auth) -> None:
    response = client.delete(
        "/api/clusters/00000000-0000-0000-0000-000000000000", headers=auth("city", XIAMEN)
    )
    _assert_problem(response, 405, "method_not_allowed", None)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000],
)
def test_bad_credentials_are_401_problem(client: TestClient[Any], authorization: str) -> None:
    response = client.post(
        "/api/clusters", json=_apply_body(), headers={"Authorization": authorization}
    )
    _assert_problem(response, 401, "unauthenticated", None)
    assert response.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_401(client: TestClient[Any], token_for: Callable[..., str]) -> None:
    token = token_for("county", SIMING, None, -10)
    response = client.post(
        "/api/clusters", json=_apply_body(), headers={"Authorization": f"Bearer {token}"}
    )
    _assert_problem(response, 401, "unauthenticated", None)
    assert "expired" in response.json()["detail"]


def test_token_signed_by_another_key_is_401(client: TestClient[Any]) -> None:
    from api.auth import TokenIssuer
    from domain.actors import Actor, Role
    from infra.keys import generate_ed25519_pem

    forged = TokenIssuer(generate_ed25519_pem()[0], "cluster-ledger", "cluster-ledger-api").mint(
        Actor(user_id="mallory", role=Role.PROVINCE, organisation="", jurisdiction="350000")
    )
    response = client.get(
        "/api/clusters/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {forged}"},
    )
    _assert_problem(response, 401, "unauthenticated", None)


BAD_VALUES: list[Any] = [None, [], {}, "x", -1, 10**40, 1.5, "NaN", True, "2025-13-45", "\u0000"]


def test_no_bad_value_in_any_command_field_is_a_500(
    client: TestClient[Any], auth: Auth, certified: UUID
) -> None:
    from tests.api.test_authorisation_matrix import ALL_CASES, JURISDICTION

    tried, seen = 0, set()
    for case in ALL_CASES:  # each command once, in the first programme that has it
        if case.body is None or case.command is None or not case.allowed or case.name in seen:
            continue
        seen.add(case.name)
        role = next(iter(case.allowed))
        good = case.body(role)
        path = case.path.format(cid=certified)
        for field in good:
            for value in BAD_VALUES:
                response = client.request(
                    case.method,
                    path,
                    json={**good, field: value},
                    headers=auth(role, JURISDICTION[case.programme][role], **{"If-Match": '"3"'}),
                )
                tried += 1
                assert response.status_code < 500, (case.name, field, value, response.text)
                if response.status_code >= 400:
                    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(seen) == len(Command)
    assert tried > 300
