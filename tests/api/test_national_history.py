"""A national cluster in Xiamen certified by MIIT before Xiamen's rules (2024-11-25) is entered
with its real dates, then assessed and funded under Xiamen's rules (XM Art. 2, 5, 13, 15(一), 19).

厦门市思明区智慧城市智能系统产业集群 was in MIIT's 2023 batch (工信部企业函〔2023〕283号, dated
2023-10-17). Its application and recommendation dates are illustrative; the batch's deadlines were
set by 工信厅企业函〔2023〕44号. Before 2024-11-25 MIIT's measures govern the case (NATIONAL-2022,
then NATIONAL-2024 from 2024-01-01); from that day Xiamen's layer does.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import TestClient

from tests.api.test_lifecycle_xm import YUAN, Auth, HttpCase
from tests.factories import xm_dossier

MIIT_2023_BATCH = "工信部企业函〔2023〕283号"


def certified_in_2023(client: TestClient[Any], auth: Auth) -> HttpCase:
    case = HttpCase(client, auth)
    case.apply(
        "district", {"effective_date": "2023-03-20", "dossier": msgspec.to_builtins(xm_dossier())}
    )
    case.step("recommendation", "city", {"effective_date": "2023-04-10", "onsite_verified": True})
    case.step(
        "certification", "miit",
        {"effective_date": "2023-10-17", "document_number": MIIT_2023_BATCH},
    )
    return case


def test_a_cluster_certified_by_miit_in_2023_is_entered_with_its_real_dates(
    client: TestClient[Any], auth: Auth
) -> None:
    case = certified_in_2023(client, auth)
    state = case.state()
    assert state["status"] == "certified"
    assert state["rulebook_version"] == "NATIONAL-2022"  # the measures in force on 2023-03-20
    assert (state["certified_on"], state["valid_until"]) == ("2023-10-17", "2026-10-17")
    assert state["certification_document"] == MIIT_2023_BATCH


def test_annual_reports_fall_due_under_the_rules_in_force_each_year(
    client: TestClient[Any], auth: Auth
) -> None:
    case = certified_in_2023(client, auth)
    figures = {"total_output_yuan": 15_200_000_000}
    case.step("annual-reports", "operator",
              {"effective_date": "2024-03-20", "year": 2023, "figures": figures})
    case.step("annual-reports", "operator",
              {"effective_date": "2025-04-10", "year": 2024, "figures": figures})
    reports = case.state()["reports"]
    assert reports["2023"]["due_on"] == "2024-03-31"  # NATIONAL-2024: March 31
    assert reports["2024"]["due_on"] == "2025-04-30"  # XM-2024 Art. 9: April 30


def test_no_subsidy_plan_before_xiamens_rules_and_one_on_the_day_after(
    client: TestClient[Any], auth: Auth
) -> None:
    case = certified_in_2023(client, auth)
    lines = [{"category": "brand_building", "amount_fen": 1_000_000 * YUAN}]
    case.refused("fund-use-plans", "operator",
                 {"effective_date": "2024-11-24", "funding_year": 1, "lines": lines},
                 422, "subsidy_before_rules")
    case.step("fund-use-plans", "operator",
              {"effective_date": "2024-11-25", "funding_year": 1, "lines": lines})
    assert case.state()["funding"]["1"]["plan_submitted_on"] == "2024-11-25"


def test_the_first_assessment_is_of_2024_and_decides_funding_year_two(
    client: TestClient[Any], auth: Auth
) -> None:
    case = certified_in_2023(client, auth)
    case.fund_year(1, 1_000_000 * YUAN, "2024-12-02", "2025-01-06")
    assert case.state()["funding"]["1"]["notice"]["ends_on"] == "2025-01-10"
    case.pay(1, 1_000_000 * YUAN, "2025-01-20", "XMGX-2025-350203-HIST-1")
    # 2023 was assessed by no one: Xiamen's assessment starts with the year 2024
    case.refused(
        "scores", "district_assessor",
        {"effective_date": "2025-02-10", "year": 2023, "stage": "district_initial", "score": "80"},
        422, "assessment_before_rules",
    )
    case.assess(2024, initial="81", final="78.5")
    case.step("fund-use-plans", "operator", {
        "effective_date": "2025-04-01", "funding_year": 2,
        "lines": [{"category": "brand_building", "amount_fen": 600_000 * YUAN}],
    })
    case.step("fund-use-plans/2/review", "district",
              {"effective_date": "2025-04-20", "passed": True})
    case.refused("subsidy-approvals", "city_approver",
                 {"effective_date": "2025-05-06", "funding_year": 2,
                  "amount_fen": 400_000 * YUAN + 1},
                 422, "approval_exceeds_entitlement")
    case.step("subsidy-approvals", "city_approver",
              {"effective_date": "2025-05-06", "funding_year": 2, "amount_fen": 400_000 * YUAN})
    year_two = case.state()["funding"]["2"]
    assert year_two["entitlement_fen"] == 400_000 * YUAN  # 70 (incl.) to 80 in 2024: 400,000
    assert year_two["rulebook_version"] == "XM-2024"


def test_each_decision_records_its_layers_and_the_conventions_it_relied_on(
    client: TestClient[Any], auth: Auth
) -> None:
    case = certified_in_2023(client, auth)
    case.step("fund-use-plans", "operator", {
        "effective_date": "2024-12-02", "funding_year": 1,
        "lines": [{"category": "brand_building", "amount_fen": 1_000_000 * YUAN}],
    })
    case.step("fund-use-plans/1/review", "district",
              {"effective_date": "2024-12-20", "passed": True})
    approval = case.step("subsidy-approvals", "city_approver",
                         {"effective_date": "2025-01-06", "funding_year": 1,
                          "amount_fen": 1_000_000 * YUAN})
    assert approval["rulebooks"] == ["NATIONAL-2024", "XM-2024"]
    assert {c["id"]: c["article"] for c in approval["conventions"]} == {
        "subsidy_notice_counts_publication_day": "XM Art. 15(三)",
        "funding_years_of_clusters_certified_before_the_rules": "XM Art. 13, 15(一), 19",
    }
    history = client.get(f"/api/clusters/{case.cid}/events", headers=case.headers("auditor"))
    assert history.status_code == 200, history.text
    by_type = {e["type"]: e for e in history.json()["events"]}
    assert by_type["Certified"]["rulebooks"] == ["NATIONAL-2022"]  # before Xiamen's layer
    assert by_type["Certified"]["conventions"] == []
    assert by_type["SubsidyApproved"]["conventions"] == [
        "subsidy_notice_counts_publication_day",
        "funding_years_of_clusters_certified_before_the_rules",
    ]


def test_a_cluster_certified_under_xiamens_rules_relies_on_no_funding_year_convention(
    client: TestClient[Any], auth: Auth
) -> None:
    case = HttpCase(client, auth)
    case.apply(
        "district", {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    )
    case.step("recommendation", "city", {"effective_date": "2024-12-16", "onsite_verified": True})
    case.step("certification", "miit",
              {"effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"})
    case.fund_year(1, 1_000_000 * YUAN, "2025-02-10", "2025-03-03")
    history = client.get(f"/api/clusters/{case.cid}/events", headers=case.headers("auditor"))
    approved = next(e for e in history.json()["events"] if e["type"] == "SubsidyApproved")
    assert approved["rulebooks"] == ["NATIONAL-2024", "XM-2024"]
    assert approved["conventions"] == ["subsidy_notice_counts_publication_day"]
