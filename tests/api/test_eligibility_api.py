"""POST /api/eligibility: the pre-check over HTTP, storing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import psycopg
from litestar.testing import TestClient

from infra.settings import Settings
from tests.factories import FJ_PROVINCE, JINJIANG, QUANZHOU, strong_indicators

Auth = Callable[..., dict[str, str]]


def _indicators(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = msgspec.to_builtins(strong_indicators())
    figures.update(changes)
    return figures


def test_strong_dossier_is_eligible_under_the_named_version(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(), "rulebook_version": "FJ-2022"},
        headers=auth("county", JINJIANG),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rulebook_version"] == "FJ-2022"
    assert report["eligible"] is True
    assert report["shortfalls"] == []
    assert "governance_and_services" in report["for_review"]


def test_version_is_chosen_by_programme_and_date(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(), "programme": "XM", "on": "2025-01-02"},
        headers=auth("city", "350200"),
    )
    assert response.status_code == 200
    assert response.json()["rulebook_version"] == "XM-2024"


def test_share_just_below_the_threshold_is_a_shortfall_with_figure_and_threshold(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.post(
        "/api/eligibility",
        json={
            "indicators": _indicators(sme_output_share_pct="59.9"),
            "rulebook_version": "FJ-2022",
        },
        headers=auth("city", QUANZHOU),
    )
    report = response.json()
    assert report["eligible"] is False
    assert report["shortfalls"] == ["sme_output_share"]
    (criterion,) = [c for c in report["criteria"] if c["id"] == "sme_output_share"]
    assert criterion["outcome"] == "fail"
    assert criterion["figure"] == "59.9%"
    assert criterion["threshold"].startswith("≥ 60%")


def test_share_exactly_at_the_threshold_passes(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(sme_output_share_pct="60"), "rulebook_version": "FJ-2022"},
        headers=auth("city", QUANZHOU),
    )
    assert response.json()["eligible"] is True


def test_unknown_rulebook_version_is_422_naming_the_field(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(), "rulebook_version": "FJ-1999"},
        headers=auth("county", JINJIANG),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_rulebook_version"
    assert response.json()["fields"] == ["rulebook_version"]


def test_a_rulebook_must_be_chosen(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility", json={"indicators": _indicators()}, headers=auth("county", JINJIANG)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "rulebook_choice_required"


def test_no_version_in_force_is_a_problem_not_a_500(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(), "programme": "FJ", "on": "2001-01-01"},
        headers=auth("county", JINJIANG),
    )
    assert response.status_code == 404
    assert response.json()["code"] == "no_rulebook_in_force"


def test_precheck_stores_nothing(
    client: TestClient[Any], auth: Auth, api_settings: Settings
) -> None:
    assert api_settings.database_url is not None

    def last_position() -> Any:
        with psycopg.connect(api_settings.database_url or "") as conn:
            return conn.execute("SELECT max(notification_id) FROM clusterledger_events").fetchone()

    before = last_position()
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(), "rulebook_version": "FJ-2022"},
        headers=auth("province", FJ_PROVINCE),
    )
    assert response.status_code == 200
    assert last_position() == before


def test_unknown_indicator_is_400(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility",
        json={"indicators": _indicators(sparkle=3), "rulebook_version": "FJ-2022"},
        headers=auth("county", JINJIANG),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == ["indicators.sparkle"]
