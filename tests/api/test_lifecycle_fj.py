"""The FJ provincial lifecycle of DOMAIN.md, end to end over HTTP (FJ Art. 11-16).

Application by the county, city recommendation, province shortlist and public notice with an
objection, certification, annual reports (one late), a major change, revocation with the
appeal deadline in working days, an appeal overturned, and renewal review.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.testing import TestClient

from tests.factories import FJ_PROVINCE, JINJIANG, QUANZHOU, fj_dossier

Auth = Callable[..., dict[str, str]]
ACTORS = {
    "county": ("county", JINJIANG, "jinjiang-clerk"),
    "city": ("city", QUANZHOU, "quanzhou-reviewer"),
    "province_a": ("province", FJ_PROVINCE, "province-reviewer"),
    "province_b": ("province", FJ_PROVINCE, "province-director"),
    "province_c": ("province", FJ_PROVINCE, "province-appeals"),
    "auditor": ("auditor", FJ_PROVINCE, "auditor-1"),
}


class HttpCase:
    """One case driven over HTTP, tracking its ETag."""

    def __init__(self, client: TestClient[Any], auth: Auth) -> None:
        self.client, self.auth = client, auth
        self.cid = ""
        self.version = 0

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        role, jurisdiction, user = ACTORS[who]
        return self.auth(role, jurisdiction, user, **extra)

    def apply(self, who: str, body: dict[str, Any]) -> None:
        response = self.client.post(
            "/api/clusters",
            json=body,
            headers=self.headers(who, **{"Idempotency-Key": str(uuid.uuid4())}),
        )
        assert response.status_code == 201, response.text
        self.cid, self.version = response.json()["cluster_id"], response.json()["version"]

    def step(self, resource: str, who: str, body: dict[str, Any], expect: int = 200) -> Any:
        response = self.client.post(
            f"/api/clusters/{self.cid}/{resource}",
            json=body,
            headers=self.headers(
                who, **{"If-Match": f'"{self.version}"', "Idempotency-Key": str(uuid.uuid4())}
            ),
        )
        assert response.status_code == expect, response.text
        if expect == 200:
            assert response.json()["version"] == self.version + 1
            self.version = response.json()["version"]
            assert response.headers["etag"] == f'"{self.version}"'
        return response.json()

    def refused(
        self, resource: str, who: str, body: dict[str, Any], status: int, code: str
    ) -> None:
        assert self.step(resource, who, body, expect=status)["code"] == code

    def state(self, who: str = "auditor") -> dict[str, Any]:
        response = self.client.get(f"/api/clusters/{self.cid}", headers=self.headers(who))
        assert response.status_code == 200
        assert response.headers["etag"] == f'"{self.version}"'
        case: dict[str, Any] = response.json()["case"]
        return case

    def event_types(self) -> list[str]:
        response = self.client.get(
            f"/api/clusters/{self.cid}/events", headers=self.headers("auditor")
        )
        return [event["type"] for event in response.json()["events"]]


def _certified(client: TestClient[Any], auth: Auth) -> HttpCase:
    case = HttpCase(client, auth)
    case.apply(
        "county", {"effective_date": "2023-03-01", "dossier": msgspec.to_builtins(fj_dossier())}
    )
    case.step(
        "recommendation",
        "city",
        {"effective_date": "2023-04-03", "onsite_verified": True, "comment": "现场核查通过"},
    )
    notice = case.step("shortlist", "province_a", {"effective_date": "2023-05-04"})
    assert notice["events"] == ["Shortlisted"]
    assert case.state()["notice"] == {
        "starts_on": "2023-05-04",
        "ends_on": "2023-05-09",
        "provisional": False,
    }
    case.step(
        "objections",
        "province_a",
        {"effective_date": "2023-05-05", "summary": "群众来信：产值数据存疑"},
    )
    case.refused(
        "certification",
        "province_b",
        {"effective_date": "2023-05-22", "document_number": "闽工信函中小〔2023〕118号"},
        422,
        "objection_open",
    )
    case.step(
        "objections/1/resolution",
        "province_a",
        {"effective_date": "2023-05-12", "upheld": False, "comment": "经核实数据无误"},
    )
    case.refused(
        "certification",
        "city",
        {"effective_date": "2023-05-22", "document_number": "闽工信函中小〔2023〕118号"},
        403,
        "role_not_permitted",
    )
    case.step(
        "certification",
        "province_b",
        {"effective_date": "2023-05-22", "document_number": "闽工信函中小〔2023〕118号"},
    )
    state = case.state("county")
    assert state["status"] == "certified"
    assert state["valid_until"] == "2026-05-22"
    assert state["certification_document"] == "闽工信函中小〔2023〕118号"
    return case


def test_fj_lifecycle_from_application_to_renewal(client: TestClient[Any], auth: Auth) -> None:
    case = _certified(client, auth)

    case.step(
        "annual-reports",
        "county",
        {
            "effective_date": "2024-03-25",
            "year": 2023,
            "figures": {"total_output_yuan": 5_400_000_000},
        },
    )
    case.step("annual-reports", "city", {"effective_date": "2025-04-02", "year": 2024})
    reports = case.state()["reports"]
    assert reports["2023"]["late"] is False
    assert reports["2024"] == {
        "year": 2024,
        "filed_on": "2025-04-02",
        "due_on": "2025-03-30",
        "late": True,
    }

    case.step(
        "major-changes",
        "county",
        {"effective_date": "2024-06-01", "kind": "leading_industry", "new_value": "运动鞋新材料"},
    )
    assert case.state()["dossier"]["leading_industry"] == "运动鞋新材料"

    case.step(
        "revocation",
        "province_a",
        {
            "effective_date": "2025-09-24",
            "received_on": "2025-09-26",
            "ground": "major_incident",
            "document_number": "闽工信〔2025〕77号",
            "comment": "发生较大安全生产事故",
        },
    )
    revocation = case.state()["revocation"]
    assert revocation["appeal_deadline"] == "2025-10-23"  # 15 working days, holidays skipped
    assert case.state()["status"] == "revoked"

    case.step(
        "appeals",
        "county",
        {
            "effective_date": "2025-10-20",
            "comment": "事故已整改，申请复核",
            "attachments": ["0" * 64],
        },
    )
    case.refused(
        "appeals/decision",
        "province_a",
        {"effective_date": "2025-11-10", "outcome": "overturned", "comment": "撤销依据不足"},
        422,
        "four_eyes",
    )
    case.step(
        "appeals/decision",
        "province_c",
        {"effective_date": "2025-11-10", "outcome": "overturned", "comment": "撤销依据不足"},
    )
    state = case.state()
    assert state["status"] == "certified"
    assert state["appeal"]["outcome"] == "overturned"
    assert state["valid_until"] == "2026-05-22"  # original validity kept

    case.step("renewal", "county", {"effective_date": "2026-04-01"})
    case.step(
        "renewal/decision",
        "province_b",
        {
            "effective_date": "2026-05-15",
            "passed": True,
            "plan_targets_met": True,
            "document_number": "闽工信函中小〔2026〕40号",
        },
    )
    assert case.state()["valid_until"] == "2029-05-22"

    assert case.event_types() == [
        "Applied",
        "Recommended",
        "Shortlisted",
        "ObjectionRaised",
        "ObjectionResolved",
        "Certified",
        "AnnualReportFiled",
        "AnnualReportFiled",
        "MajorChangeReported",
        "Revoked",
        "Appealed",
        "AppealDecided",
        "RenewalRequested",
        "RenewalDecided",
    ]


def test_fj_failed_renewal_leads_to_revocation_and_a_late_appeal_is_refused(
    client: TestClient[Any], auth: Auth
) -> None:
    case = _certified(client, auth)
    case.step("renewal", "county", {"effective_date": "2026-04-01"})
    case.refused(
        "revocation",
        "province_a",
        {
            "effective_date": "2026-04-20",
            "received_on": "2026-04-21",
            "ground": "expired_without_renewal",
            "document_number": "闽工信〔2026〕9号",
            "comment": "复核未通过",
        },
        422,
        "certification_still_valid",
    )
    case.step(
        "renewal/decision",
        "province_b",
        {
            "effective_date": "2026-05-15",
            "passed": False,
            "plan_targets_met": False,
            "document_number": "闽工信函中小〔2026〕41号",
            "comment": "三年目标未完成",
        },
    )
    assert case.state()["status"] == "renewal_failed"
    case.step(
        "revocation",
        "province_a",
        {
            "effective_date": "2026-06-01",
            "received_on": "2026-06-03",
            "ground": "expired_without_renewal",
            "document_number": "闽工信〔2026〕12号",
            "comment": "复核未通过，予以撤销",
        },
    )
    deadline = case.state()["revocation"]["appeal_deadline"]
    case.refused(
        "appeals",
        "county",
        {"effective_date": "2026-07-31", "comment": "申诉"},
        422,
        "appeal_window_closed",
    )
    assert deadline < "2026-07-31"
    assert case.event_types()[-1] == "Revoked"


def test_fj_city_declines_and_the_case_ends(client: TestClient[Any], auth: Auth) -> None:
    case = HttpCase(client, auth)
    case.apply(
        "county", {"effective_date": "2023-03-01", "dossier": msgspec.to_builtins(fj_dossier())}
    )
    case.refused("decline", "city", {"effective_date": "2023-04-03"}, 422, "reason_required")
    case.step("decline", "city", {"effective_date": "2023-04-03", "comment": "主导产业占比不足"})
    assert case.state()["status"] == "not_recommended"
    case.refused("shortlist", "province_a", {"effective_date": "2023-05-04"}, 409, "wrong_state")
