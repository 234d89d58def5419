"""Application and review: the county applies, the city recommends or declines, the province
shortlists and publishes a notice, objections to a notice (FJ Art. 11–13; XM Art. 5–7)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from domain.actors import EventMeta
from domain.cluster import Cluster
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import InvalidInput, RuleViolation
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
from domain.regions import Regions
from domain.rulebook import Programme


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


def _check_located(dossier: Dossier, regions: Regions) -> None:
    """A case lies in a county-level division of the region table, under a programme managed
    here, and an XM case in Xiamen."""
    county_code = dossier.county_code
    if not any(r.code == county_code and r.level == "county" for r in regions):
        raise InvalidInput(
            "unknown_region",
            f"{county_code!r} is not a known county-level division (GB/T 2260)",
            field="dossier.county_code",
            region=county_code,
        )
    if dossier.programme == Programme.NATIONAL:
        raise RuleViolation(
            "programme_not_managed", "NATIONAL is a comparison standard, not a programme"
        )
    if dossier.programme == Programme.XM and regions.city_of(county_code).code != "350200":
        raise RuleViolation("xm_outside_xiamen", "the XM programme covers Xiamen's districts only")


@command(
    Command.APPLY,
    body=ApplyBody,
    path="",
    operation_id="applyForCertification",
    summary="Apply: open a case",
    opens_case=True,
)
def apply_for_certification(meta: EventMeta, body: ApplyBody, rules: Rules) -> Cluster:
    """The county/district applies (FJ Art. 11; XM Art. 5–6) with the dossier: name, county,
    leading industry, operating unit (XM), programme, certification figures, the 3-year plan's
    targets (FJ) and the negative-list declaration. Returns 201 with the new case's Location;
    no If-Match (there is no case yet)."""
    dossier = body.dossier.to_domain()
    _check_located(dossier, rules.regions)
    version = rules.rulebook(dossier, meta.effective_date)
    return Cluster.apply(meta=meta, dossier=dossier, rulebook_version=version.id)


@command(
    Command.RECOMMEND,
    body=RecommendBody,
    path="/recommendation",
    operation_id="recommend",
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
    Command.DECLINE,
    body=DeclineBody,
    path="/decline",
    operation_id="declineToRecommend",
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
    operation_id="shortlist",
    summary="Province shortlists: public notice opens",
)
def shortlist(
    cluster: Cluster, meta: EventMeta, body: ShortlistBody, rules: Rules  # noqa: ARG001
) -> None:
    """FJ Art. 13: after re-review the province shortlists the case and publishes a notice
    starting on `effective_date`; its end is computed in working days from the rulebook."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    notice = rules.notice(meta.effective_date, version.certification_notice, version)
    cluster.shortlist(meta, notice, version.id)


@command(
    Command.RAISE_OBJECTION,
    body=ObjectionBody,
    path="/objections",
    operation_id="raiseObjection",
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
    operation_id="resolveObjection",
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
