"""Review: the city's recommendation, the province's shortlist and public notice, objections
(FJ Art. 11-13; XM Art. 6-7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    Notice,
    Objection,
    Status,
)
from domain.commands import Command, CommandBody, Rules, command
from domain.eligibility import EligibilityReport
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import Dossier, PlanTarget
from domain.indicators import Indicators
from domain.inputs import (
    Count,
    Figure,
    Growth,
    LongText,
    Name,
    Percent,
    PlanFigure,
    RegionCode,
    ShortText,
    Strict,
    Year,
    Yuan,
)
from domain.programmes import ProgrammeProfile
from domain.regions import Regions
from domain.rulebook import Programme
from domain.stage import (
    Stage,
    stored_as_cluster_events,
)

if TYPE_CHECKING:
    from domain.cluster import Cluster


@stored_as_cluster_events
class ReviewStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class Recommended(Aggregate.Event):
        meta: EventMeta
        rulebook_version: str
        onsite_verified: bool

    class NotRecommended(Aggregate.Event):
        meta: EventMeta

    class Withdrawn(Aggregate.Event):
        meta: EventMeta
        status_before: str

    class Shortlisted(Aggregate.Event):
        meta: EventMeta
        notice: Notice
        rulebook_version: str

    class ObjectionRaised(Aggregate.Event):
        meta: EventMeta
        number: int
        subject: str
        summary: str

    class ObjectionResolved(Aggregate.Event):
        meta: EventMeta
        number: int
        upheld: bool

    # ---- city review ------------------------------------------------------------------------

    def recommend(
        self, meta: EventMeta, eligibility: EligibilityReport, *, onsite_verified: bool
    ) -> None:
        """City recommends to the province (FJ Art. 12) or to MIIT (XM Art. 7), "on the basis
        of meeting the certification standards": a dossier with a shortfall is refused."""
        self._check_status(Status.APPLIED, "recommend")
        self._check_not_before_last(meta)
        if not onsite_verified:
            raise RuleViolation(
                "onsite_verification_required",
                "FJ Art. 12 / XM Art. 7: the city verifies on site before recommending",
            )
        if not eligibility.eligible:
            raise RuleViolation(
                "standards_not_met",
                "the dossier falls short of the certification standards: "
                + "; ".join(
                    f"{c.label} ({c.article}): {c.figure or 'not given'} vs {c.threshold}"
                    for c in eligibility.shortfalls
                ),
                rulebook=eligibility.rulebook_version,
                shortfalls=[c.id for c in eligibility.shortfalls],
            )
        self._recommended(
            meta=meta, rulebook_version=eligibility.rulebook_version, onsite_verified=True
        )

    @event(Recommended)
    def _recommended(self, meta: EventMeta, rulebook_version: str, onsite_verified: bool) -> None:
        self.case.status = Status.RECOMMENDED
        self.case.recommended_by = meta.actor.user_id
        self.case.recommended_on = meta.effective_date
        self._touch(meta)

    def decline_to_recommend(self, meta: EventMeta) -> None:
        self._check_status(Status.APPLIED, "decline to recommend")
        self._check_reason(meta)
        self._check_not_before_last(meta)
        self._not_recommended(meta=meta)

    @event(NotRecommended)
    def _not_recommended(self, meta: EventMeta) -> None:
        self.case.status = Status.NOT_RECOMMENDED
        self._touch(meta)

    def withdraw(self, meta: EventMeta) -> None:
        """The applicant withdraws before certification is decided (FJ Art. 10: 申报自愿;
        XM Art. 5: 遵循自愿原则). The reason goes in `comment`."""
        self._check_status_in(
            {Status.APPLIED, Status.RECOMMENDED, Status.UNDER_NOTICE}, "withdraw"
        )
        self._check_reason(meta)
        self._check_not_before_last(meta)
        self._withdrawn(meta=meta, status_before=str(self.case.status))

    @event(Withdrawn)
    def _withdrawn(self, meta: EventMeta, status_before: str) -> None:
        self.case.status = Status.WITHDRAWN
        self._touch(meta)

    # ---- province review and public notice (FJ Art. 13) ---------------------------------------

    def shortlist(
        self, meta: EventMeta, notice: Notice, rulebook_version: str, *, profile: ProgrammeProfile
    ) -> None:
        """The certifying body shortlists under public notice (FJ Art. 13), where the programme
        has that step."""
        if not profile.certification_notice:
            raise RuleViolation(
                "not_in_programme",
                f"the {profile.programme} programme has no shortlist under public notice",
            )
        self._check_status(Status.RECOMMENDED, "shortlist")
        self._check_not_before_last(meta)
        if notice.ends_on < notice.starts_on:
            raise InvalidInput("notice_ends_before_start", "a notice cannot end before it starts")
        self._shortlisted(meta=meta, notice=notice, rulebook_version=rulebook_version)

    @event(Shortlisted)
    def _shortlisted(self, meta: EventMeta, notice: Notice, rulebook_version: str) -> None:
        self.case.status = Status.UNDER_NOTICE
        self.case.notice = notice
        self._touch(meta)

    def raise_objection(self, meta: EventMeta, subject: str, summary: str) -> int:
        """Record an objection received during a public notice; it blocks the next step."""
        notice = self._notice_for(subject)
        if not notice.starts_on <= meta.effective_date <= notice.ends_on:
            raise RuleViolation(
                "objection_outside_notice",
                "objections are received during the notice, "
                f"{notice.starts_on.isoformat()} to {notice.ends_on.isoformat()}; "
                f"this one is dated {meta.effective_date.isoformat()}",
                notice_starts_on=notice.starts_on.isoformat(),
                notice_ends_on=notice.ends_on.isoformat(),
            )
        if not summary.strip():
            raise InvalidInput("summary_required", "an objection needs a summary", field="summary")
        number = len(self.case.objections) + 1
        self._objection_raised(meta=meta, number=number, subject=subject, summary=summary)
        return number

    @event(ObjectionRaised)
    def _objection_raised(self, meta: EventMeta, number: int, subject: str, summary: str) -> None:
        self.case.objections.append(
            Objection(
                number=number, subject=subject, raised_on=meta.effective_date, summary=summary
            )
        )
        self._touch(meta)

    def resolve_objection(self, meta: EventMeta, number: int, *, upheld: bool) -> None:
        objection = next((o for o in self.case.objections if o.number == number), None)
        if objection is None:
            raise InvalidInput("unknown_objection", f"there is no objection number {number}")
        if objection.resolution is not None:
            raise WrongState("objection_already_resolved", f"objection {number} is resolved")
        self._check_reason(meta)
        self._objection_resolved(meta=meta, number=number, upheld=upheld)

    @event(ObjectionResolved)
    def _objection_resolved(self, meta: EventMeta, number: int, upheld: bool) -> None:
        for objection in self.case.objections:
            if objection.number == number:
                objection.resolution = "upheld" if upheld else "dismissed"
                objection.resolved_on = meta.effective_date
        self._touch(meta)


# ---- commands: one declaration each (domain.commands) -----------------------------------


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


class WithdrawalBody(CommandBody, kw_only=True):
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


def _check_located(dossier: Dossier, profile: ProgrammeProfile, regions: Regions) -> None:
    """A case lies in a county-level division of the region table, within its programme's
    region (the profile's)."""
    county_code = dossier.county_code
    if not any(r.code == county_code and r.level == "county" for r in regions):
        raise InvalidInput(
            "unknown_region",
            f"{county_code!r} is not a known county-level division (GB/T 2260)",
            field="dossier.county_code",
            region=county_code,
        )
    if not regions.covers(profile.region, county_code):
        raise RuleViolation(
            profile.outside_region,
            f"the {profile.programme} programme covers {regions.get(profile.region).name} "
            f"({profile.region}) only; {county_code} lies outside it",
            region=profile.region,
            county_code=county_code,
        )


@command(
    Command.APPLY,
    body=ApplyBody,
    path="",
    summary="Apply: open a case",
    opens_case=True,
)
def apply_for_certification(meta: EventMeta, body: ApplyBody, rules: Rules) -> Cluster:
    """The county/district applies (FJ Art. 11; XM Art. 5–6) with the dossier: name, county,
    leading industry, operating unit (XM), programme, certification figures, the 3-year plan's
    targets (FJ) and the negative-list declaration. Returns 201 with the new case's Location;
    no If-Match (there is no case yet)."""
    from domain.cluster import Cluster  # the aggregate is assembled from this module's stage

    dossier = body.dossier.to_domain()
    profile = rules.profile(dossier)
    _check_located(dossier, profile, rules.regions)
    version = rules.rulebook(dossier, meta.effective_date)
    return Cluster.apply(
        meta=meta, dossier=dossier, rulebook_version=version.id, profile=profile
    )


@command(
    Command.RECOMMEND,
    body=RecommendBody,
    path="/recommendation",
    summary="City recommends the case",
)
def recommend(cluster: Cluster, meta: EventMeta, body: RecommendBody, rules: Rules) -> None:
    """The city, after its preliminary review and on-site verification, recommends the case to
    the province (FJ Art. 12) or to MIIT (XM Art. 7). Refused when the dossier falls short of the
    certification standards of the rulebook in force (`standards_not_met`, with each shortfall)
    or without on-site verification."""
    report = rules.eligibility(cluster.case.dossier, meta.effective_date)
    cluster.recommend(meta, report, onsite_verified=body.onsite_verified)


@command(
    Command.WITHDRAW,
    body=WithdrawalBody,
    path="/withdrawal",
    summary="The applicant withdraws the application",
)
def withdraw(
    cluster: Cluster, meta: EventMeta, body: WithdrawalBody, rules: Rules  # noqa: ARG001
) -> None:
    """The county/district withdraws its application before certification is decided (FJ
    Art. 10: 申报自愿; XM Art. 5: 遵循自愿原则): while applied, recommended or under notice. The
    case ends; the reason (`comment`) is required."""
    cluster.withdraw(meta)


@command(
    Command.DECLINE,
    body=DeclineBody,
    path="/decline",
    summary="City does not recommend the case",
)
def decline_to_recommend(
    cluster: Cluster, meta: EventMeta, body: DeclineBody, rules: Rules  # noqa: ARG001
) -> None:
    """The city does not recommend: the case ends; the reason (`comment`) is required."""
    cluster.decline_to_recommend(meta)


@command(
    Command.SHORTLIST,
    body=ShortlistBody,
    path="/shortlist",
    summary="Province shortlists: public notice opens",
    uses=("certification_notice",),
)
def shortlist(
    cluster: Cluster, meta: EventMeta, body: ShortlistBody, rules: Rules  # noqa: ARG001
) -> None:
    """FJ Art. 13: after re-review the province shortlists the case and publishes a notice
    starting on `effective_date`; its end is computed in working days from the rulebook."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    notice = rules.notice(meta.effective_date, version.certification_notice, version)
    cluster.shortlist(meta, notice, version.id, profile=rules.profile(cluster.case.dossier))


@command(
    Command.RAISE_OBJECTION,
    body=ObjectionBody,
    path="/objections",
    summary="Record an objection to a notice",
)
def raise_objection(
    cluster: Cluster, meta: EventMeta, body: ObjectionBody, rules: Rules  # noqa: ARG001
) -> None:
    """An objection received during a public notice (certification, or a subsidy list); it
    blocks the next step until resolved. Dated (`effective_date`) within the notice."""
    cluster.raise_objection(meta, body.subject, body.summary)


@command(
    Command.RESOLVE_OBJECTION,
    body=ResolveObjectionBody,
    path="/objections/{number:int}/resolution",
    summary="Resolve an objection",
)
def resolve_objection(
    cluster: Cluster,
    meta: EventMeta,
    body: ResolveObjectionBody,
    rules: Rules,  # noqa: ARG001
    *,
    number: int,
) -> None:
    """Uphold (the step cannot proceed) or dismiss objection `number`; a reason is required."""
    cluster.resolve_objection(meta, number, upheld=body.upheld)
