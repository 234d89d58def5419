"""Value objects carried inside events: the dossier, plans, reports, payments.

Event schemas only grow: a new field gets a default, a type never changes.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from domain.indicators import Indicators
from domain.rulebook import Programme


class PlanTarget(msgspec.Struct, frozen=True, kw_only=True):
    """A measurable target of the 3-year development plan (FJ Annex §8)."""

    indicator: str
    baseline: Decimal
    target: Decimal
    by_year: int


class Dossier(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    programme: Programme
    county_code: str
    leading_industry: str
    operating_unit: str | None = None  # XM Art. 6: designated by the district
    indicators: Indicators = msgspec.field(default_factory=Indicators)
    plan_targets: tuple[PlanTarget, ...] = ()
    negative_list_clear: bool = False  # declaration: no major accident etc. in 3 years


class Ground(StrEnum):
    """The five revocation grounds (FJ Art. 16), which are also XM's assessment failures (Art. 10).

    Named rather than numbered: the two documents number them differently.
    """

    EXPIRED_WITHOUT_RENEWAL = "expired_without_renewal"  # FJ 16(1), XM 10(5)
    FALSE_APPLICATION = "false_application_or_violation"  # FJ 16(2), XM 10(1)
    ANNUAL_REPORT_MISSING = "annual_report_missing"  # FJ 16(3), XM 10(2)
    MAJOR_CHANGE_UNREPORTED = "major_change_unreported"  # FJ 16(4), XM 10(3)
    MAJOR_INCIDENT = "major_incident"  # FJ 16(5), XM 10(4)


class ScoreStage(StrEnum):
    DISTRICT_INITIAL = "district_initial"  # XM Art. 10: district initial review
    CITY_FINAL = "city_final"  # XM Art. 10: city re-review


class ChangeKind(StrEnum):
    LEADING_INDUSTRY = "leading_industry"
    SPATIAL_SCOPE = "spatial_scope"
    OPERATING_UNIT = "operating_unit"


class AppealOutcome(StrEnum):
    UPHELD = "upheld"  # revocation stands
    OVERTURNED = "overturned"  # certification restored with its original validity


class AnnualFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Key figures of an annual report (年度培育情况信息表); free text goes in meta.comment."""

    total_output_yuan: int | None = None
    rd_investment_yuan: int | None = None
    quality_sme_count: int | None = None
    key_enterprise_count: int | None = None
    valid_invention_patents: int | None = None


class PlanLine(msgspec.Struct, frozen=True, kw_only=True):
    category: str  # one of the rulebook's fund_use_categories (XM Art. 14)
    amount_fen: int
    description: str = ""
