"""The XM national-cluster lifecycle of DOMAIN.md, end to end over HTTP (XM Art. 5-17).

The district applies with an operating unit, the city recommends, MIIT's certification is
recorded; then the three-year city subsidy: fund-use plans, district review, city approval
within the entitlement, a 5-working-day notice (with an objection), payments by voucher; annual
reports and the annual assessment; after funding, a special audit finding and its rectification
confirmed by district and city.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.testing import TestClient

from tests.factories import SIMING, XIAMEN, xm_dossier

Auth = Callable[..., dict[str, str]]
ACTORS = {
    "district": ("county", SIMING, "siming-clerk"),
    "district_assessor": ("county", SIMING, "siming-assessor"),
    "operator": ("operating_unit", SIMING, "siming-operator"),
    "city": ("city", XIAMEN, "xiamen-reviewer"),
    "city_approver": ("city", XIAMEN, "xiamen-approver"),
    "city_treasurer": ("city", XIAMEN, "xiamen-treasurer"),
    "miit": ("miit_recorder", XIAMEN, "xiamen-miit-desk"),
    "auditor": ("auditor", "350000", "auditor-1"),
}
YUAN = 100  # fen


class HttpCase:
    def __init__(self, client: TestClient[Any], auth: Auth) -> None:
        self.client, self.auth = client, auth
        self.cid = ""
        self.version = 0

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        role, jurisdiction, user = ACTORS[who]
        return self.auth(role, jurisdiction, user, **extra)

    def apply(self, who: str, body: dict[str, Any]) -> None:
        self.step("", who, body, expect=201)

    def step(self, resource: str, who: str, body: dict[str, Any], expect: int = 200) -> Any:
        path = f"/api/clusters/{self.cid}/{resource}" if self.cid else "/api/clusters"
        extra = {"Idempotency-Key": str(uuid.uuid4())}
        if self.cid:
            extra["If-Match"] = f'"{self.version}"'
        response = self.client.post(path, json=body, headers=self.headers(who, **extra))
        assert response.status_code == expect, response.text
        if expect in (200, 201):
            assert response.json()["version"] == self.version + 1
            self.cid, self.version = response.json()["cluster_id"], response.json()["version"]
        return response.json()

    def refused(
        self, resource: str, who: str, body: dict[str, Any], status: int, code: str
    ) -> None:
        assert self.step(resource, who, body, expect=status)["code"] == code

    def state(self, who: str = "auditor") -> dict[str, Any]:
        response = self.client.get(f"/api/clusters/{self.cid}", headers=self.headers(who))
        assert response.status_code == 200
        case: dict[str, Any] = response.json()["case"]
        return case

    def fund_year(self, year: int, fen: int, plan_on: str, approve_on: str) -> None:
        self.step(
            "fund-use-plans",
            "operator",
            {
                "effective_date": plan_on,
                "funding_year": year,
                "lines": [
                    {
                        "category": "public_service_platform",
                        "amount_fen": fen // 2,
                        "description": "公共服务平台运维",
                    },
                    {"category": "brand_building", "amount_fen": fen - fen // 2},
                ],
            },
        )
        self.step(
            f"fund-use-plans/{year}/review",
            "district",
            {"effective_date": plan_on[:8] + "20", "passed": True},
        )
        self.step(
            "subsidy-approvals",
            "city_approver",
            {"effective_date": approve_on, "funding_year": year, "amount_fen": fen},
        )

    def pay(self, year: int, fen: int, on: str, voucher: str, expect: int = 200) -> Any:
        return self.step(
            "payments",
            "city_treasurer",
            {
                "effective_date": on,
                "funding_year": year,
                "amount_fen": fen,
                "voucher": voucher,
            },
            expect=expect,
        )

    def assess(self, year: int, initial: str, final: str) -> None:
        self.step(
            "scores",
            "district_assessor",
            {
                "effective_date": f"{year + 1}-02-10",
                "year": year,
                "stage": "district_initial",
                "score": initial,
            },
        )
        self.step(
            "scores",
            "city",
            {
                "effective_date": f"{year + 1}-03-10",
                "year": year,
                "stage": "city_final",
                "score": final,
            },
        )


def test_xm_lifecycle_through_three_funded_years_audit_and_rectification(
    client: TestClient[Any], auth: Auth
) -> None:
    case = HttpCase(client, auth)
    voucher = f"XM-{uuid.uuid4().hex[:10]}"

    # Application, recommendation, MIIT's certification recorded by the city (XM Art. 6-8)
    case.apply(
        "district", {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    )
    case.step("recommendation", "city", {"effective_date": "2024-12-16", "onsite_verified": True})
    case.refused(
        "certification", "miit", {"effective_date": "2025-01-20"}, 422, "document_number_required"
    )
    case.step(
        "certification",
        "miit",
        {"effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"},
    )
    assert case.state()["certifying_body"] == "MIIT"

    # Year 1: lump sum of 1,000,000 yuan once certified (XM Art. 13); 5-working-day notice
    case.fund_year(1, 1_000_000 * YUAN, "2025-02-10", "2025-03-03")
    assert case.state()["funding"]["1"]["notice"]["ends_on"] == "2025-03-07"
    assert case.pay(1, 1_000_000 * YUAN, "2025-03-05", voucher + "-1", expect=422)["code"] == (
        "notice_not_over"
    )
    case.refused(
        "payments",
        "city_approver",
        {
            "effective_date": "2025-03-20",
            "funding_year": 1,
            "amount_fen": 1_000_000 * YUAN,
            "voucher": voucher + "-1",
        },
        422,
        "four_eyes",
    )
    case.pay(1, 1_000_000 * YUAN, "2025-03-20", voucher + "-1")

    # Annual report for 2025 by April 30 (XM Art. 9), then the first assessment (Art. 10)
    case.step(
        "annual-reports",
        "operator",
        {
            "effective_date": "2026-02-05",
            "year": 2025,
            "figures": {"total_output_yuan": 15_200_000_000},
        },
    )
    case.assess(2025, initial="82", final="78.5")
    assessment = case.state()["assessments"]["2025"]
    assert assessment["final_score"] == "78.5"

    # Year 2 by the 1st assessment: 70 (incl.)-80 -> 400,000 yuan
    case.step(
        "fund-use-plans",
        "operator",
        {
            "effective_date": "2026-04-01",
            "funding_year": 2,
            "lines": [
                {"category": "industrial_exchange_and_matchmaking", "amount_fen": 600_000 * YUAN}
            ],
        },
    )
    case.step(
        "fund-use-plans/2/review", "district", {"effective_date": "2026-04-08", "passed": True}
    )
    case.refused(
        "subsidy-approvals",
        "city_approver",
        {"effective_date": "2026-04-15", "funding_year": 2, "amount_fen": 600_000 * YUAN},
        422,
        "approval_exceeds_entitlement",
    )
    case.step(
        "subsidy-approvals",
        "city_approver",
        {"effective_date": "2026-04-15", "funding_year": 2, "amount_fen": 400_000 * YUAN},
    )
    case.step(
        "objections",
        "city",
        {
            "effective_date": "2026-04-16",
            "subject": "subsidy:2",
            "summary": "有企业反映经费用途不明",
        },
    )
    case.refused(
        "payments",
        "city_treasurer",
        {
            "effective_date": "2026-05-06",
            "funding_year": 2,
            "amount_fen": 400_000 * YUAN,
            "voucher": voucher + "-2",
        },
        422,
        "objection_open",
    )
    case.step(
        "objections/1/resolution",
        "city",
        {"effective_date": "2026-04-28", "upheld": False, "comment": "用途清楚"},
    )
    case.pay(2, 400_000 * YUAN, "2026-05-06", voucher + "-2")

    # Year 3 by the 2nd assessment: 60 (incl.)-70 -> 200,000 yuan, paid in two instalments
    case.step("annual-reports", "district", {"effective_date": "2027-04-28", "year": 2026})
    case.assess(2026, initial="65", final="61")
    case.fund_year(3, 200_000 * YUAN, "2027-04-05", "2027-04-21")
    case.pay(3, 120_000 * YUAN, "2027-05-10", voucher + "-3a")
    case.refused(
        "payments",
        "city_treasurer",
        {
            "effective_date": "2027-05-11",
            "funding_year": 3,
            "amount_fen": 80_000 * YUAN,
            "voucher": voucher + "-3a",
        },
        422,
        "voucher_already_paid",
    )
    case.refused(
        "payments",
        "city_treasurer",
        {
            "effective_date": "2027-05-11",
            "funding_year": 3,
            "amount_fen": 80_001 * YUAN,
            "voucher": voucher + "-3b",
        },
        422,
        "payment_exceeds_approval",
    )
    case.pay(3, 80_000 * YUAN, "2027-05-11", voucher + "-3b")

    funding = case.state()["funding"]
    assert {year: funding[year]["paid_fen"] for year in funding} == {
        "1": 1_000_000 * YUAN,
        "2": 400_000 * YUAN,
        "3": 200_000 * YUAN,
    }

    # Special audit after the funding ends (Art. 16); rectification confirmed by both (Art. 17)
    case.step(
        "audit-findings",
        "city",
        {
            "effective_date": "2028-06-01",
            "summary": "部分培训费票据缺失",
            "amount_questioned_fen": 12_000 * YUAN,
        },
    )
    case.step(
        "audit-findings/1/rectification-confirmations",
        "district",
        {"effective_date": "2028-07-01", "comment": "已补齐票据"},
    )
    finding = case.state()["audit_findings"][0]
    assert finding["county_confirmed_on"] == "2028-07-01"
    assert finding["city_confirmed_on"] is None
    case.step(
        "audit-findings/1/rectification-confirmations",
        "city_approver",
        {"effective_date": "2028-07-15"},
    )
    assert case.state()["audit_findings"][0]["city_confirmed_on"] == "2028-07-15"

    history = client.get(f"/api/clusters/{case.cid}/events", headers=case.headers("auditor"))
    events = history.json()["events"]
    assert [e["type"] for e in events].count("SubsidyPaid") == 4
    paid = [e for e in events if e["type"] == "SubsidyPaid"]
    assert {e["actor"]["user_id"] for e in paid} == {"xiamen-treasurer"}
    assert paid[0]["payload"] == {
        "funding_year": 1,
        "amount_fen": 1_000_000 * YUAN,
        "voucher_number": voucher + "-1",
    }
    assert [e["version"] for e in events] == list(range(1, case.version + 1))


def test_xm_failed_assessment_entitles_to_nothing(client: TestClient[Any], auth: Auth) -> None:
    case = HttpCase(client, auth)
    case.apply(
        "district", {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    )
    case.step("recommendation", "city", {"effective_date": "2024-12-16", "onsite_verified": True})
    case.step(
        "certification",
        "miit",
        {"effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"},
    )
    case.fund_year(1, 1_000_000 * YUAN, "2025-02-10", "2025-03-03")
    case.pay(1, 1_000_000 * YUAN, "2025-03-20", f"XM-{uuid.uuid4().hex[:10]}")
    case.step(
        "scores",
        "district_assessor",
        {
            "effective_date": "2026-02-10",
            "year": 2025,
            "stage": "district_initial",
            "score": "95",
            "failure_grounds": ["annual_report_missing"],
        },
    )
    case.step(
        "scores",
        "city",
        {
            "effective_date": "2026-03-10",
            "year": 2025,
            "stage": "city_final",
            "score": "95",
            "failure_grounds": ["annual_report_missing"],
        },
    )
    case.step(
        "fund-use-plans",
        "operator",
        {
            "effective_date": "2026-04-01",
            "funding_year": 2,
            "lines": [{"category": "brand_building", "amount_fen": 100 * YUAN}],
        },
    )
    case.step(
        "fund-use-plans/2/review", "district", {"effective_date": "2026-04-08", "passed": True}
    )
    case.refused(
        "subsidy-approvals",
        "city_approver",
        {"effective_date": "2026-04-15", "funding_year": 2, "amount_fen": 100 * YUAN},
        422,
        "approval_exceeds_entitlement",
    )
