"""Builders shared by the test suites: actors, event metadata, dossiers, whole lifecycles.

Lifecycles drive the real application service (`ClusterLedger`) through its commands, the
same way the API and the demo data do.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.actors import Actor, EventMeta, Role
from domain.commands import Command
from domain.facts import Dossier, PlanLine, PlanTarget, ScoreStage
from domain.indicators import Indicators
from domain.rulebook import Programme
from infra.application import ClusterLedger

FJ_PROVINCE = "350000"
QUANZHOU = "350500"
JINJIANG = "350582"
XIAMEN = "350200"
SIMING = "350203"
JIMEI = "350211"


def actor(role: Role | str, jurisdiction: str, user_id: str | None = None) -> Actor:
    role = Role(role)
    return Actor(
        user_id=user_id or f"{role}-{jurisdiction}",
        role=role,
        organisation=f"{role} office {jurisdiction}",
        jurisdiction=jurisdiction,
    )


def meta(
    role: Role | str,
    jurisdiction: str,
    on: date,
    *,
    user_id: str | None = None,
    document_number: str | None = None,
    comment: str = "",
) -> EventMeta:
    return EventMeta(
        actor=actor(role, jurisdiction, user_id),
        effective_date=on,
        document_number=document_number,
        comment=comment,
    )


def strong_indicators() -> Indicators:
    """Figures that pass FJ 2022 and the national 2022 standards."""
    return Indicators(
        area_km2=Decimal(60),
        output_value_yuan=(4_500_000_000, 4_800_000_000, 5_200_000_000),
        sme_output_share_pct=Decimal(75),
        leading_industry_share_pct=Decimal(78),
        output_growth_avg_pct=Decimal("12.5"),
        champion_or_little_giant_count=2,
        specialised_innovative_hightech_count=14,
        sme_rd_growth_avg_pct=Decimal(9),
        invention_patent_growth_avg_pct=Decimal(14),
        invention_patents_per_10k_people=Decimal(18),
        industrial_internet_adoption_pct=Decimal(25),
        co2_intensity_falling=True,
        energy_water_better_than_benchmark=True,
        negative_list_clear=True,
    )


def fj_dossier(name: str = "晋江市运动鞋原辅材料产业集群", county: str = JINJIANG) -> Dossier:
    return Dossier(
        name=name,
        programme=Programme.FJ,
        county_code=county,
        leading_industry="运动鞋原辅材料",
        indicators=strong_indicators(),
        plan_targets=(
            PlanTarget(
                indicator="total_output_100m_yuan",
                baseline=Decimal(52),
                target=Decimal(65),
                by_year=2026,
            ),
        ),
        negative_list_clear=True,
    )


def xm_dossier(name: str = "厦门市思明区智慧城市智能系统产业集群", county: str = SIMING) -> Dossier:
    return Dossier(
        name=name,
        programme=Programme.XM,
        county_code=county,
        leading_industry="智慧城市智能系统",
        operating_unit="厦门市思明区软件园运营管理有限公司",
        indicators=strong_indicators(),
        negative_list_clear=True,
    )


def certified_fj(ledger: ClusterLedger, dossier: Dossier | None = None) -> UUID:
    """An FJ cluster applied 2023-03-01 and certified by the province on 2023-05-22."""
    dossier = dossier or fj_dossier()
    county, city = dossier.county_code, dossier.county_code[:4] + "00"
    cid = ledger.issue(
        Command.APPLY, None, meta("county", county, date(2023, 3, 1)), None, dossier=dossier
    ).cluster_id
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", city, date(2023, 4, 3)), 1, onsite_verified=True
    )
    ledger.issue(
        Command.SHORTLIST, cid, meta("province", FJ_PROVINCE, date(2023, 5, 4), user_id="prov-a"), 2
    )
    ledger.issue(
        Command.CERTIFY, cid,
        meta(
            "province",
            FJ_PROVINCE,
            date(2023, 5, 22),
            user_id="prov-b",
            document_number="闽工信函中小〔2023〕118号",
        ),
        3,
    )
    return cid


def certified_xm(ledger: ClusterLedger, dossier: Dossier | None = None) -> UUID:
    """An XM cluster applied 2024-12-02, recommended, MIIT certification recorded 2025-01-20."""
    dossier = dossier or xm_dossier()
    cid = ledger.issue(
        Command.APPLY,
        None,
        meta("county", dossier.county_code, date(2024, 12, 2)),
        None,
        dossier=dossier,
    ).cluster_id
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", XIAMEN, date(2024, 12, 16)), 1, onsite_verified=True
    )
    ledger.issue(
        Command.CERTIFY, cid,
        meta(
            "miit_recorder", XIAMEN, date(2025, 1, 20), document_number="工信部企业函〔2025〕12号"
        ),
        2,
    )
    return cid


def plan_lines(total_fen: int) -> tuple[PlanLine, ...]:
    half = total_fen // 2
    return (
        PlanLine(category="public_service_platform", amount_fen=half, description="平台运维"),
        PlanLine(category="brand_building", amount_fen=total_fen - half, description="品牌建设"),
    )


def plan_and_approve(
    ledger: ClusterLedger,
    cid: UUID,
    version: int,
    *,
    funding_year: int,
    amount_fen: int,
    submitted_on: date,
    reviewed_on: date | None = None,
    approved_on: date | None = None,
    county: str = SIMING,
    approver: str = "city-approver",
    approve: bool = True,
) -> int:
    """Fund-use plan by the operating unit, district review, and (unless `approve` is False)
    the city's approval of `amount_fen`. Returns the version after the last step."""
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN, cid,
        meta("operating_unit", county, submitted_on),
        version,
        funding_year=funding_year,
        lines=plan_lines(amount_fen),
    )
    ledger.issue(
        Command.REVIEW_FUND_USE_PLAN, cid,
        meta("county", county, reviewed_on or submitted_on),
        version + 1,
        funding_year=funding_year,
        passed=True,
    )
    if not approve:
        return version + 2
    ledger.issue(
        Command.APPROVE_SUBSIDY, cid,
        meta("city", XIAMEN, approved_on or submitted_on, user_id=approver),
        version + 2,
        funding_year=funding_year,
        amount_fen=amount_fen,
    )
    return version + 3


def fund_year_one(ledger: ClusterLedger, cid: UUID, start_version: int) -> int:
    """Plan, district review, city approval and payment of year 1 (1,000,000 yuan). Returns the
    version after payment."""
    amount = 100_000_000
    v = plan_and_approve(
        ledger,
        cid,
        start_version,
        funding_year=1,
        amount_fen=amount,
        submitted_on=date(2025, 2, 10),
        reviewed_on=date(2025, 2, 20),
        approved_on=date(2025, 3, 3),
    )
    ledger.issue(
        Command.PAY_SUBSIDY, cid,
        meta("city", XIAMEN, date(2025, 3, 20), user_id="city-treasurer"),
        v,
        funding_year=1,
        amount_fen=amount,
        voucher=f"XM-2025-{cid.hex[:8]}-1",
    )
    return v + 1


def score_year(ledger: ClusterLedger, cid: UUID, version: int, year: int, score: Decimal) -> int:
    ledger.issue(
        Command.SCORE, cid,
        meta("county", SIMING, date(year + 1, 2, 10)),
        version,
        year=year,
        stage=ScoreStage.DISTRICT_INITIAL,
        score=score,
    )
    ledger.issue(
        Command.SCORE, cid,
        meta("city", XIAMEN, date(year + 1, 3, 10), user_id="city-assessor"),
        version + 1,
        year=year,
        stage=ScoreStage.CITY_FINAL,
        score=score,
    )
    return version + 2


class Verbs:
    """The ledger with each command as a method named after it (`ledger.revoke(cid, meta,
    version, **facts)`, `ledger.apply_for_certification(meta, dossier)`), each one
    `ClusterLedger.issue`; everything else is the ledger's own."""

    def __init__(self, ledger: ClusterLedger) -> None:
        self.ledger = ledger

    def apply_for_certification(self, meta: EventMeta, dossier: Dossier) -> Any:
        return self.ledger.issue(Command.APPLY, None, meta, None, dossier=dossier)

    def __getattr__(self, name: str) -> Any:
        command = Command.__members__.get(name.upper())
        if command is None:
            return getattr(self.ledger, name)

        def issue(cid: UUID, meta: EventMeta, version: int | None, **facts: Any) -> Any:
            return self.ledger.issue(command, cid, meta, version, **facts)

        return issue
