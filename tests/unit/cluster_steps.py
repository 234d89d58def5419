"""Pure builders for the Cluster aggregate's unit tests: no application service, no database.

Each builder drives a fresh aggregate through its commands the way the application service
would (rulebook figures and deadlines computed here and passed in), and returns it in one
state of its lifecycle. `refused` asserts that a command is refused with the exact error class
and code and that the refusal triggered no event and changed no state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import msgspec
import pytest

from domain.actors import EventMeta
from domain.calendar import WorkingDayCalendar
from domain.case import Notice
from domain.cluster import Cluster
from domain.eligibility import EligibilityReport, precheck
from domain.errors import DomainError
from domain.facts import AnnualFigures, Dossier, Ground, PlanLine, ScoreStage
from domain.programmes import ProgrammeProfile, Programmes
from domain.readings import entitlement_required
from domain.rulebook import PeriodRule, Programme, RulebookVersion, parse_rulebook_version
from infra.rules import load_programmes
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    QUANZHOU,
    SIMING,
    XIAMEN,
    fj_dossier,
    meta,
    plan_lines,
    xm_dossier,
)


@cache
def _programmes() -> Programmes:
    return load_programmes()


def profile_of(subject: Cluster | Programme | str) -> ProgrammeProfile:
    """The programme profile a command on `subject` is given (as the application gives it)."""
    programme = subject.case.dossier.programme if isinstance(subject, Cluster) else subject
    return _programmes().get(programme)

RULES = Path(__file__).resolve().parents[2] / "domain" / "rules"

# ---- FJ timeline (a Jinjiang cluster, Quanzhou city, the province) --------------------------
FJ_APPLIED_ON = date(2023, 3, 1)
FJ_RECOMMENDED_ON = date(2023, 4, 3)
FJ_SHORTLISTED_ON = date(2023, 5, 4)
FJ_CERTIFIED_ON = date(2023, 5, 22)
FJ_VALID_UNTIL = date(2026, 5, 22)
FJ_CERTIFICATION_DOC = "闽工信函中小〔2023〕118号"
# DOMAIN.md's worked example: received Fri 2025-09-26, appeal until 2025-10-23.
REVOKED_ON = date(2025, 9, 24)
REVOCATION_RECEIVED_ON = date(2025, 9, 26)
APPEAL_DEADLINE = date(2025, 10, 23)
APPEALED_ON = date(2025, 10, 10)

# ---- XM timeline (a Siming cluster, Xiamen city, MIIT's decision recorded by the city) ------
XM_APPLIED_ON = date(2024, 12, 2)
XM_RECOMMENDED_ON = date(2024, 12, 16)
XM_CERTIFIED_ON = date(2025, 1, 20)
XM_VALID_UNTIL = date(2028, 1, 20)
XM_CERTIFICATION_DOC = "工信部企业函〔2025〕12号"
PLAN_SUBMITTED_ON = date(2025, 2, 10)
PLAN_REVIEWED_ON = date(2025, 2, 20)
SUBSIDY_APPROVED_ON = date(2025, 3, 3)  # a Monday: the 5-working-day notice ends on Friday
SUBSIDY_NOTICE_ENDS = date(2025, 3, 7)
SUBSIDY_PAID_ON = date(2025, 3, 20)
YEAR_ONE_FEN = 100_000_000  # XM Art. 13: 1,000,000 yuan

# ---- who acts ------------------------------------------------------------------------------
PROVINCE_SHORTLISTER = "prov-a"
PROVINCE_CERTIFIER = "prov-b"
PROVINCE_REVOKER = "prov-c"
PROVINCE_APPEAL_REVIEWER = "prov-d"
CITY_APPROVER = "city-approver"
CITY_TREASURER = "city-treasurer"
CITY_ASSESSOR = "city-assessor"


@cache
def rulebook(name: str) -> RulebookVersion:
    """A shipped rulebook version, e.g. `rulebook("fj-2022")`."""
    path = RULES / f"{name}.toml"
    return parse_rulebook_version(path.read_bytes(), source_name=path.name)


def fj_rules() -> RulebookVersion:
    return rulebook("fj-2022")


def xm_rules() -> RulebookVersion:
    return rulebook("xm-2024")


@cache
def working_days() -> WorkingDayCalendar:
    return WorkingDayCalendar()


def period_end(trigger: date, rule: PeriodRule | None) -> date:
    assert rule is not None
    return working_days().add_working_days(
        trigger, rule.days, count_trigger_day=rule.count_trigger_day
    ).due


def notice_from(starts_on: date, rule: PeriodRule | None) -> Notice:
    return Notice(starts_on=starts_on, ends_on=period_end(starts_on, rule))


def eligibility(dossier: Dossier, version: RulebookVersion) -> EligibilityReport:
    return precheck(dossier.indicators, version)


def refused(
    cluster: Cluster | None,
    error: type[DomainError],
    code: str,
    action: Callable[[], object],
) -> DomainError:
    """Run `action`, expect exactly `error` with `code`, and no event nor state change."""
    events_before = len(cluster.pending_events) if cluster is not None else 0
    version_before = cluster.version if cluster is not None else 0
    state_before = msgspec.json.encode(cluster.case) if cluster is not None else b""
    with pytest.raises(DomainError) as info:
        action()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.code == code, str(info.value)
    if cluster is not None:
        assert len(cluster.pending_events) == events_before
        assert cluster.version == version_before
        assert msgspec.json.encode(cluster.case) == state_before
    return info.value


def last_event(cluster: Cluster) -> object:
    return cluster.pending_events[-1]


# ---- actors --------------------------------------------------------------------------------


def fj_county(on: date, **kw: str) -> EventMeta:
    return meta("county", JINJIANG, on, **kw)


def fj_city(on: date, **kw: str) -> EventMeta:
    return meta("city", QUANZHOU, on, **kw)


def province(
    on: date, user_id: str = PROVINCE_CERTIFIER, *, document_number: str | None = None,
    comment: str = "",
) -> EventMeta:
    return meta("province", FJ_PROVINCE, on, user_id=user_id, document_number=document_number,
                comment=comment)


def xm_district(on: date, **kw: str) -> EventMeta:
    return meta("county", SIMING, on, **kw)


def xm_city(on: date, user_id: str = CITY_APPROVER, **kw: str) -> EventMeta:
    return meta("city", XIAMEN, on, user_id=user_id, **kw)


def miit_recorder(on: date, **kw: str) -> EventMeta:
    return meta("miit_recorder", XIAMEN, on, **kw)


def operating_unit(on: date) -> EventMeta:
    return meta("operating_unit", SIMING, on)


# ---- FJ lifecycle --------------------------------------------------------------------------


def fj_applied(dossier: Dossier | None = None, on: date = FJ_APPLIED_ON) -> Cluster:
    return Cluster.apply(
        fj_county(on), dossier or fj_dossier(), fj_rules().id, profile=profile_of(Programme.FJ)
    )


def fj_recommended(on: date = FJ_RECOMMENDED_ON) -> Cluster:
    cluster = fj_applied()
    cluster.recommend(
        fj_city(on), eligibility(cluster.case.dossier, fj_rules()), onsite_verified=True
    )
    return cluster


def fj_notice(starts_on: date = FJ_SHORTLISTED_ON) -> Notice:
    return notice_from(starts_on, fj_rules().certification_notice)


def fj_under_notice() -> Cluster:
    cluster = fj_recommended()
    cluster.shortlist(
        province(FJ_SHORTLISTED_ON, user_id=PROVINCE_SHORTLISTER), fj_notice(), fj_rules().id,
            profile=profile_of(cluster)
    )
    return cluster


def certify_meta(on: date, user_id: str = PROVINCE_CERTIFIER) -> EventMeta:
    return province(on, user_id=user_id, document_number=FJ_CERTIFICATION_DOC)


def fj_certified() -> Cluster:
    cluster = fj_under_notice()
    rules = fj_rules()
    cluster.certify(certify_meta(FJ_CERTIFIED_ON), rules.validity_years, rules.id,
        profile=profile_of(cluster))
    return cluster


def fj_certified_on(day: date) -> Cluster:
    """An FJ case certified on `day`: applied, recommended and noticed in the weeks before."""
    rules = fj_rules()
    cluster = fj_applied(on=date(day.year - 1, 11, 1))
    cluster.recommend(
        fj_city(date(day.year - 1, 12, 1)),
        eligibility(cluster.case.dossier, rules),
        onsite_verified=True,
    )
    cluster.shortlist(
        province(date(day.year - 1, 12, 15), user_id=PROVINCE_SHORTLISTER),
        notice_from(date(day.year - 1, 12, 15), rules.certification_notice),
        rules.id, profile=profile_of(cluster),
    )
    cluster.certify(certify_meta(day), rules.validity_years, rules.id, profile=profile_of(cluster))
    return cluster


def revoke_meta(on: date = REVOKED_ON, user_id: str = PROVINCE_REVOKER) -> EventMeta:
    return province(
        on, user_id=user_id, document_number="闽工信〔2025〕77号",
        comment="集群企业发生较大安全事故",
    )


def revoke(
    cluster: Cluster,
    ground: Ground = Ground.MAJOR_INCIDENT,
    on: date = REVOKED_ON,
    received_on: date = REVOCATION_RECEIVED_ON,
) -> None:
    rules = fj_rules()
    deadline = period_end(received_on, rules.appeal_period)
    cluster.revoke(revoke_meta(on), ground, received_on, deadline, False, rules.id)


def fj_revoked() -> Cluster:
    cluster = fj_certified()
    revoke(cluster)
    return cluster


def appeal_meta(on: date = APPEALED_ON) -> EventMeta:
    return fj_county(on, comment="事故企业已迁出集群，申请复核")


def appeal(cluster: Cluster, on: date = APPEALED_ON) -> None:
    rules = fj_rules()
    cluster.appeal(appeal_meta(on), period_end(on, rules.appeal_reply), False, rules.id)


def fj_appealed() -> Cluster:
    cluster = fj_revoked()
    appeal(cluster)
    return cluster


def appeal_decision_meta(
    on: date = date(2025, 11, 14), user_id: str = PROVINCE_APPEAL_REVIEWER
) -> EventMeta:
    return province(on, user_id=user_id, comment="复核认为事故不属于集群企业")


def report_figures() -> AnnualFigures:
    return AnnualFigures(total_output_yuan=5_600_000_000, rd_investment_yuan=210_000_000)


def file_report(cluster: Cluster, year: int, on: date, due_on: date | None = None) -> None:
    version = fj_rules() if cluster.case.dossier.programme == "FJ" else xm_rules()
    due = due_on or date(year + 1, version.annual_report.month, version.annual_report.day)
    cluster.file_annual_report(fj_county(on), year, report_figures(), due, version.id)


def renewal_decision_meta(on: date, comment: str = "") -> EventMeta:
    return province(on, document_number="闽工信函中小〔2026〕40号", comment=comment)


def request_renewal(cluster: Cluster, on: date = date(2026, 4, 1)) -> None:
    cluster.request_renewal(fj_county(on))


def decide_renewal(cluster: Cluster, *, passed: bool, on: date = date(2026, 5, 10)) -> None:
    rules = fj_rules()
    cluster.decide_renewal(
        renewal_decision_meta(on, comment="" if passed else "三年发展规划目标未完成"),
        passed=passed, plan_targets_met=passed, validity_years=rules.validity_years,
        rulebook_version=rules.id, profile=profile_of(cluster),
    )


# ---- XM lifecycle --------------------------------------------------------------------------


def xm_applied(dossier: Dossier | None = None) -> Cluster:
    return Cluster.apply(
        xm_district(XM_APPLIED_ON), dossier or xm_dossier(), xm_rules().id,
        profile=profile_of(Programme.XM),
    )


def xm_recommended() -> Cluster:
    cluster = xm_applied()
    cluster.recommend(
        xm_city(XM_RECOMMENDED_ON, user_id="city-350200"),
        eligibility(cluster.case.dossier, xm_rules()),
        onsite_verified=True,
    )
    return cluster


def miit_certification_meta(on: date = XM_CERTIFIED_ON, **kw: str) -> EventMeta:
    return miit_recorder(on, document_number=XM_CERTIFICATION_DOC, **kw)


def xm_certified() -> Cluster:
    cluster = xm_recommended()
    rules = xm_rules()
    cluster.certify(miit_certification_meta(), rules.validity_years, rules.id,
        profile=profile_of(cluster))
    return cluster


def submit_plan(
    cluster: Cluster, funding_year: int = 1, total_fen: int = YEAR_ONE_FEN,
    on: date = PLAN_SUBMITTED_ON, lines: tuple[PlanLine, ...] | None = None,
) -> None:
    cluster.submit_fund_use_plan(
        operating_unit(on), funding_year,
        plan_lines(total_fen) if lines is None else lines,
        xm_rules().fund_use_categories,
        funding_years=tuple(year.funding_year for year in xm_rules().subsidy),
        rulebook_version=xm_rules().id,
    )


def review_plan(
    cluster: Cluster, funding_year: int = 1, *, passed: bool = True,
    on: date = PLAN_REVIEWED_ON, user_id: str | None = None,
) -> None:
    reviewer = meta("county", SIMING, on, user_id=user_id, comment="" if passed else "超范围")
    cluster.review_fund_use_plan(reviewer, funding_year, passed=passed)


def subsidy_notice(starts_on: date = SUBSIDY_APPROVED_ON) -> Notice:
    return notice_from(starts_on, xm_rules().subsidy_notice)


def year_entitlement(cluster: Cluster, funding_year: int) -> int:
    """What the application gives the approval (`domain.readings.entitlement_required`)."""
    return entitlement_required(xm_rules(), funding_year, cluster.case.assessments.values())


def approve(
    cluster: Cluster, funding_year: int = 1, amount_fen: int | None = None,
    on: date = SUBSIDY_APPROVED_ON, user_id: str = CITY_APPROVER,
) -> None:
    entitled = year_entitlement(cluster, funding_year)
    cluster.approve_subsidy(
        xm_city(on, user_id=user_id), funding_year,
        entitled if amount_fen is None else amount_fen, entitled,
        subsidy_notice(on), xm_rules().id,
    )


def pay(
    cluster: Cluster, amount_fen: int, voucher: str, funding_year: int = 1,
    on: date = SUBSIDY_PAID_ON, user_id: str = CITY_TREASURER,
) -> None:
    cluster.pay_subsidy(xm_city(on, user_id=user_id), funding_year, amount_fen, voucher)


def xm_plan_submitted() -> Cluster:
    cluster = xm_certified()
    submit_plan(cluster)
    return cluster


def xm_plan_reviewed() -> Cluster:
    cluster = xm_plan_submitted()
    review_plan(cluster)
    return cluster


def xm_approved() -> Cluster:
    cluster = xm_plan_reviewed()
    approve(cluster)
    return cluster


def xm_paid() -> Cluster:
    cluster = xm_approved()
    pay(cluster, YEAR_ONE_FEN, "XM-2025-0001")
    return cluster


def score(
    cluster: Cluster, year: int, stage: ScoreStage, value: str | Decimal,
    on: date | None = None, *, user_id: str | None = None, correction: bool = False,
    comment: str = "", failure_grounds: tuple[Ground, ...] = (),
) -> None:
    version = xm_rules()
    if stage == ScoreStage.DISTRICT_INITIAL:
        who = meta("county", SIMING, on or date(year + 1, 2, 10), user_id=user_id,
                   comment=comment)
    else:
        who = meta("city", XIAMEN, on or date(year + 1, 3, 10),
                   user_id=user_id or CITY_ASSESSOR, comment=comment)
    cluster.score(
        who, year, stage, Decimal(value), failure_grounds,
        (version.score_min, version.score_max), version.id, correction=correction,
        profile=profile_of(cluster), first_assessed_year=version.assessment_first_year,
    )


def xm_scored(year: int = 2025, value: str = "85") -> Cluster:
    """XM certified and paid year 1; assessment of `year` scored by district and city."""
    cluster = xm_paid()
    score(cluster, year, ScoreStage.DISTRICT_INITIAL, value)
    score(cluster, year, ScoreStage.CITY_FINAL, value)
    return cluster
