"""Request and response bodies of the HTTP API (msgspec Structs).

Every request Struct forbids unknown fields, so a misspelt field is a 400 naming it rather than
a silently ignored value. Every command body carries the provenance of its decision
(`effective_date`, `document_number`, `comment`, `attachments`); the actor never comes from a
body, only from the bearer token.

Domain value objects are reused where they are already the right shape; where the domain's
Struct does not forbid unknown fields, a subclass here adds that (and bounds every number and
text it declares), and `to_domain` converts back so that events only ever hold the domain's own
types. Bounds belong here, at the edge, and never on the domain's types: those also decode the
events already stored, which must keep loading whatever they hold.

Every body passes the one input policy (`api.input_policy`): text normalised and free of control,
bidi and invisible characters, every number and date within its bounds.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import msgspec

from api.input_policy import (
    MAX_COUNT,
    MAX_FEN,
    TextKind,
    date_meta,
    decimal_meta,
    enforce,
    text_meta,
)
from domain.actors import Actor
from domain.facts import (
    AnnualFigures,
    AppealOutcome,
    ChangeKind,
    Dossier,
    Ground,
    PlanLine,
    PlanTarget,
    ScoreStage,
)
from domain.indicators import Indicators
from domain.rulebook import Programme

Sha256Hex = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of an attached document, 64 lower-case hex digits",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ),
]
RegionCode = Annotated[
    str,
    msgspec.Meta(pattern=r"^\d{6}$", description="GB/T 2260 six-digit code", examples=["350203"]),
]
Name = Annotated[str, text_meta(min_length=1, max_length=200)]
ShortText = Annotated[str, text_meta(max_length=200)]
LongText = Annotated[str, text_meta(TextKind.PARAGRAPH, max_length=4000)]
DocumentNumber = Annotated[
    str, text_meta(min_length=1, max_length=100, description="文号, as on the document")
]
Year = Annotated[int, msgspec.Meta(ge=1990, le=2200)]
Day = Annotated[date, date_meta()]
FundingYear = Annotated[int, msgspec.Meta(ge=1, le=3, description="year 1 to 3 of the subsidy")]
Fen = Annotated[
    int,
    msgspec.Meta(
        ge=0, le=MAX_FEN, description="amount in fen (1 yuan = 100 fen), at most 10^13 (1,000亿元)"
    ),
]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Yuan = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT, description="whole yuan")]
Percent = Annotated[Decimal, decimal_meta(0, 100, description="percentage points (60 = 60 %)")]
Growth = Annotated[
    Decimal, decimal_meta(-100, 10_000, description="average annual growth, percentage points")
]
Figure = Annotated[Decimal, decimal_meta(0, 10**9)]
PlanFigure = Annotated[Decimal, decimal_meta(-(10**15), 10**15)]


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request values: keyword-only, unknown fields refused."""


class RequestBody(Strict, kw_only=True):
    """A whole request body: once decoded (every nested value included), it passes the input
    policy, which normalises its text in place or refuses it."""

    def __post_init__(self) -> None:
        enforce(self)


# ---- commands --------------------------------------------------------------------------------


class CommandBody(RequestBody, kw_only=True):
    """Provenance every command records beside its facts (DOMAIN.md, "Lifecycle")."""

    effective_date: Day  # the date on the decision document (valid time)
    document_number: DocumentNumber | None = None
    comment: LongText = ""  # the reason, where a decision needs one
    attachments: Annotated[tuple[Sha256Hex, ...], msgspec.Meta(max_length=50)] = ()


class IndicatorsIn(Indicators, frozen=True, forbid_unknown_fields=True):
    """The dossier's certification figures (`domain.indicators.Indicators`), bounded."""

    area_km2: Figure | None = None
    output_value_yuan: Annotated[tuple[Yuan, ...], msgspec.Meta(max_length=10)] = ()
    sme_output_share_pct: Percent | None = None
    leading_industry_share_pct: Percent | None = None
    output_growth_avg_pct: Growth | None = None
    champion_or_little_giant_count: Count | None = None
    specialised_innovative_hightech_count: Count | None = None
    sme_rd_growth_avg_pct: Growth | None = None
    invention_patent_growth_avg_pct: Growth | None = None
    invention_patents_per_10k_people: Figure | None = None
    industrial_internet_adoption_pct: Percent | None = None

    def to_domain(self) -> Indicators:
        return Indicators(**msgspec.structs.asdict(self))


class PlanTargetIn(PlanTarget, frozen=True, forbid_unknown_fields=True):
    indicator: Name
    baseline: PlanFigure
    target: PlanFigure
    by_year: Year

    def to_domain(self) -> PlanTarget:
        return PlanTarget(**msgspec.structs.asdict(self))


class DossierIn(Strict, kw_only=True):
    name: Name
    programme: Programme
    county_code: RegionCode
    leading_industry: Name
    operating_unit: ShortText | None = None
    indicators: IndicatorsIn = msgspec.field(default_factory=IndicatorsIn)
    plan_targets: Annotated[tuple[PlanTargetIn, ...], msgspec.Meta(max_length=100)] = ()
    negative_list_clear: bool = False

    def to_domain(self) -> Dossier:
        return Dossier(
            name=self.name,
            programme=self.programme,
            county_code=self.county_code,
            leading_industry=self.leading_industry,
            operating_unit=self.operating_unit,
            indicators=self.indicators.to_domain(),
            plan_targets=tuple(t.to_domain() for t in self.plan_targets),
            negative_list_clear=self.negative_list_clear,
        )


class ApplyBody(CommandBody, kw_only=True):
    dossier: DossierIn


class RecommendBody(CommandBody, kw_only=True):
    onsite_verified: bool


class DeclineBody(CommandBody, kw_only=True):
    """The reason goes in `comment`."""


class ShortlistBody(CommandBody, kw_only=True):
    """The public notice starts on `effective_date`; its end comes from the rulebook."""


class ObjectionBody(CommandBody, kw_only=True):
    subject: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(certification|subsidy:[1-3])$",
            description='"certification", or "subsidy:<funding year>" for a subsidy notice',
        ),
    ] = "certification"
    summary: LongText


class ResolveObjectionBody(CommandBody, kw_only=True):
    upheld: bool


class CertifyBody(CommandBody, kw_only=True):
    """FJ: the province certifies; XM: the city records MIIT's certification."""


class RejectBody(CommandBody, kw_only=True):
    """The reason goes in `comment`."""


class AnnualFiguresIn(AnnualFigures, frozen=True, forbid_unknown_fields=True):
    total_output_yuan: Yuan | None = None
    rd_investment_yuan: Yuan | None = None
    quality_sme_count: Count | None = None
    key_enterprise_count: Count | None = None
    valid_invention_patents: Count | None = None

    def to_domain(self) -> AnnualFigures:
        return AnnualFigures(**msgspec.structs.asdict(self))


class AnnualReportBody(CommandBody, kw_only=True):
    year: Year
    figures: AnnualFiguresIn = msgspec.field(default_factory=AnnualFiguresIn)


class ScoreBody(CommandBody, kw_only=True):
    year: Year
    stage: ScoreStage
    score: Annotated[
        Decimal,
        msgspec.Meta(description="0–100 (XM Art. 13); the rulebook's range is checked by the "
                     "rule (422 `score_out_of_range`)"),
    ]
    failure_grounds: Annotated[tuple[Ground, ...], msgspec.Meta(max_length=5)] = ()
    correction: bool = False


class PlanLineIn(PlanLine, frozen=True, forbid_unknown_fields=True):
    category: Annotated[str, text_meta(min_length=1, max_length=100)]
    amount_fen: Fen
    description: ShortText = ""

    def to_domain(self) -> PlanLine:
        return PlanLine(**msgspec.structs.asdict(self))


class FundUsePlanBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    lines: Annotated[tuple[PlanLineIn, ...], msgspec.Meta(max_length=100)]


class FundUsePlanReviewBody(CommandBody, kw_only=True):
    passed: bool


class SubsidyApprovalBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    amount_fen: Fen


class PaymentBody(CommandBody, kw_only=True):
    funding_year: FundingYear
    amount_fen: Fen
    voucher: Annotated[str, text_meta(min_length=1, max_length=64)]


class MajorChangeBody(CommandBody, kw_only=True):
    kind: ChangeKind
    new_value: ShortText


class RenewalRequestBody(CommandBody, kw_only=True):
    pass


class RenewalDecisionBody(CommandBody, kw_only=True):
    passed: bool
    plan_targets_met: bool | None = None  # FJ Art. 14: required for FJ


class RevocationBody(CommandBody, kw_only=True):
    ground: Ground
    received_on: Day  # when the applicant received the decision: the appeal period runs from it


class AppealBody(CommandBody, kw_only=True):
    """The grounds of the appeal go in `comment`."""


class AppealDecisionBody(CommandBody, kw_only=True):
    outcome: AppealOutcome


class AuditFindingBody(CommandBody, kw_only=True):
    summary: LongText
    amount_questioned_fen: Fen = 0


class RectificationBody(CommandBody, kw_only=True):
    """The city or the district confirms; the level follows the caller's role."""


class CommandResponse(msgspec.Struct, kw_only=True):
    """What a command changed. `position` is where its last event landed in the log: pass it to
    reads that take `min_position` to read your own write."""

    cluster_id: UUID
    version: int
    position: int | None
    events: tuple[str, ...]


# ---- reads -------------------------------------------------------------------------------------


class EventView(msgspec.Struct, kw_only=True):
    """One recorded event: who, when recorded, the date it takes effect, and its facts."""

    type: str  # e.g. "Certified"
    version: int  # the case's version after this event
    position: int | None  # notification id in the whole log
    recorded_at: datetime  # transaction time (UTC)
    effective_date: date  # valid time: the date on the decision
    actor: Actor
    document_number: str | None
    comment: str
    attachments: tuple[str, ...]
    request_id: str | None
    correlation_id: str | None
    payload: dict[str, Any]


class EventHistory(msgspec.Struct, kw_only=True):
    cluster_id: UUID
    version: int
    events: list[EventView]


# ---- eligibility -------------------------------------------------------------------------------


class EligibilityRequest(RequestBody, kw_only=True):
    """Figures to pre-check, and which rulebook version to apply: `rulebook_version` by id, or
    the version of `programme` in force on `on` (default: today)."""

    indicators: IndicatorsIn
    programme: Programme | None = None
    rulebook_version: Annotated[str, text_meta(min_length=1, max_length=50)] | None = None
    on: Day | None = None


# ---- calendar ----------------------------------------------------------------------------------


class DayOverrideBody(RequestBody, kw_only=True):
    working: bool
    note: ShortText = ""


class DayOverrideView(msgspec.Struct, kw_only=True):
    day: date
    working: bool
    note: str
    entered_by: str
    entered_at: datetime


class CalendarYearView(msgspec.Struct, kw_only=True):
    year: int
    official: bool  # the year's schedule is known: deadlines in it are not provisional
    declared_by_admin: bool
    overrides: list[DayOverrideView]
