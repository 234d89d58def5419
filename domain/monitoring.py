"""Monitoring: annual reports, the annual assessment's scores, major changes
(FJ Art. 15; XM Art. 6, 9-10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.actors import EventMeta
from domain.case import (
    AnnualReport,
    Assessment,
    MajorChange,
)
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import InvalidInput, RuleViolation, WrongState
from domain.facts import (
    AnnualFigures,
    ChangeKind,
    Ground,
    ScoreStage,
)
from domain.inputs import Count, ShortText, Year, Yuan
from domain.programmes import ProgrammeProfile
from domain.readings import annual_report_due, annual_report_rulebook
from domain.stage import (
    Stage,
    replace_dossier,
    stored_as_cluster_events,
)

if TYPE_CHECKING:
    from domain.cluster import Cluster


@stored_as_cluster_events
class MonitoringStage(Stage):
    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class AnnualReportFiled(Aggregate.Event):
        meta: EventMeta
        year: int
        due_on: date
        late: bool
        figures: AnnualFigures
        rulebook_version: str

    class Scored(Aggregate.Event):
        meta: EventMeta
        year: int
        stage: ScoreStage
        score: Decimal
        failure_grounds: tuple[Ground, ...]
        correction: bool
        rulebook_version: str

    class MajorChangeReported(Aggregate.Event):
        meta: EventMeta
        kind: ChangeKind
        new_value: str

    # ---- annual reports (FJ Art. 15; XM Art. 9) ----------------------------------------------

    def file_annual_report(
        self,
        meta: EventMeta,
        year: int,
        figures: AnnualFigures,
        due_on: date,
        rulebook_version: str,
    ) -> None:
        self._check_certified("file an annual report")
        if year in self.case.reports:
            raise RuleViolation(
                "annual_report_already_filed",
                f"the annual report for {year} was filed on "
                f"{self.case.reports[year].filed_on.isoformat()}",
                year=year,
            )
        self._check_past_year_since_certification(meta, year, "annual_report", "the report")
        late = meta.effective_date > due_on
        self._annual_report_filed(
            meta=meta,
            year=year,
            due_on=due_on,
            late=late,
            figures=figures,
            rulebook_version=rulebook_version,
        )

    @event(AnnualReportFiled)
    def _annual_report_filed(
        self,
        meta: EventMeta,
        year: int,
        due_on: date,
        late: bool,
        figures: AnnualFigures,
        rulebook_version: str,
    ) -> None:
        self.case.reports[year] = AnnualReport(
            year=year, filed_on=meta.effective_date, due_on=due_on, late=late
        )
        self._touch(meta)

    # ---- XM annual assessment (Art. 10) ------------------------------------------------------

    def score(
        self,
        meta: EventMeta,
        year: int,
        stage: ScoreStage,
        score: Decimal,
        failure_grounds: tuple[Ground, ...],
        score_range: tuple[Decimal, Decimal],
        rulebook_version: str,
        *,
        profile: ProgrammeProfile,
        first_assessed_year: int | None,
        correction: bool = False,
    ) -> None:
        """Record the district's initial or the city's final score of a year's assessment
        (XM Art. 10). `first_assessed_year` is the first year the rules in force assess (None:
        no assessment rules are in force on the date)."""
        self._check_certified("score")
        if first_assessed_year is None or year < first_assessed_year:
            raise RuleViolation(
                "assessment_before_rules",
                f"rulebook {rulebook_version} sets no annual assessment of {year}"
                + (f"; the first year assessed is {first_assessed_year}"
                   if first_assessed_year is not None else ""),
                year=year,
                rulebook=rulebook_version,
            )
        self._check_score_value(meta, year, score, score_range)
        assessment = self.case.assessments.get(year)
        if stage == ScoreStage.DISTRICT_INITIAL:
            if meta.actor.role != profile.scoring.initial:
                raise RuleViolation("initial_score_by_district", "the district scores first")
            if assessment and assessment.initial_score is not None and not correction:
                raise RuleViolation(
                    "score_already_recorded",
                    f"the district's initial score for {year} is recorded; send a correction",
                )
        else:
            if meta.actor.role != profile.scoring.final:
                raise RuleViolation("final_score_by_city", "the city re-reviews the score")
            if assessment is None or assessment.initial_score is None:
                raise WrongState(
                    "initial_score_missing",
                    f"XM Art. 10: the district's initial score for {year} comes first",
                )
            if assessment.final_score is not None and not correction:
                raise RuleViolation(
                    "score_already_recorded",
                    f"the city's final score for {year} is recorded; send a correction",
                )
            self._check_four_eyes(meta, assessment.initial_by, "gave the initial score")
        if correction:
            if (
                assessment is None
                or (
                    assessment.initial_score
                    if stage == ScoreStage.DISTRICT_INITIAL
                    else assessment.final_score
                )
                is None
            ):
                raise WrongState("nothing_to_correct", f"no {stage} score for {year} to correct")
            self._check_reason(meta)
        self._scored(
            meta=meta,
            year=year,
            stage=stage,
            score=score,
            failure_grounds=tuple(sorted(set(failure_grounds))),
            correction=correction,
            rulebook_version=rulebook_version,
        )

    def _check_score_value(
        self, meta: EventMeta, year: int, score: Decimal, score_range: tuple[Decimal, Decimal]
    ) -> None:
        low, high = score_range
        if not score.is_finite() or not low <= score <= high:  # NaN cannot be compared
            raise InvalidInput(
                "score_out_of_range",
                f"a score lies between {low} and {high}; got {score}",
                field="score",
                score=str(score),
            )
        self._check_past_year_since_certification(
            meta, year, "assessment", "XM Art. 9-10: the assessment"
        )
        if score.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidInput("score_precision", "scores have at most two decimals", field="score")

    @event(Scored)
    def _scored(
        self,
        meta: EventMeta,
        year: int,
        stage: ScoreStage,
        score: Decimal,
        failure_grounds: tuple[Ground, ...],
        correction: bool,
        rulebook_version: str,
    ) -> None:
        assessment = self.case.assessments.get(year)
        if assessment is None:
            assessment = Assessment(year=year, number=len(self.case.assessments) + 1)
            self.case.assessments[year] = assessment
        if stage == ScoreStage.DISTRICT_INITIAL:
            assessment.initial_score = score
            assessment.initial_by = meta.actor.user_id
        else:
            assessment.final_score = score
            assessment.final_by = meta.actor.user_id
        assessment.failure_grounds = tuple(str(g) for g in failure_grounds)
        if correction:
            assessment.corrections += 1
        self._touch(meta)


    # ---- major change, renewal ---------------------------------------------------------------

    def report_major_change(
        self, meta: EventMeta, kind: ChangeKind, new_value: str, *, profile: ProgrammeProfile
    ) -> None:
        self._check_certified("report a major change")
        if not new_value.strip():
            raise InvalidInput("new_value_required", "say what changed", field="new_value")
        if (
            kind == ChangeKind.OPERATING_UNIT
            and profile.operating_unit_fixed
            and not meta.comment.strip()
        ):
            raise RuleViolation(
                "operating_unit_change_needs_reason",
                "XM Art. 6: the operating unit in principle never changes; give the reason",
            )
        self._major_change_reported(meta=meta, kind=kind, new_value=new_value)

    @event(MajorChangeReported)
    def _major_change_reported(self, meta: EventMeta, kind: ChangeKind, new_value: str) -> None:
        self.case.changes.append(
            MajorChange(kind=kind, reported_on=meta.effective_date, new_value=new_value)
        )
        dossier = self.case.dossier
        if kind == ChangeKind.LEADING_INDUSTRY:
            self.case.dossier = replace_dossier(dossier, leading_industry=new_value)
        elif kind == ChangeKind.OPERATING_UNIT:
            self.case.dossier = replace_dossier(dossier, operating_unit=new_value)
        self._touch(meta)


# ---- commands: one declaration each (domain.commands) -----------------------------------


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


class MajorChangeBody(CommandBody, kw_only=True):
    kind: ChangeKind
    new_value: ShortText


@command(
    Command.FILE_ANNUAL_REPORT,
    body=AnnualReportBody,
    path="/annual-reports",
    summary="File an annual report",
)
def file_annual_report(
    cluster: Cluster, meta: EventMeta, body: AnnualReportBody, rules: Rules
) -> None:
    """The report for `year`, filed on `effective_date`; due by March 30 (FJ Art. 15) or April
    30 (XM Art. 9) of the next year, under the rules governing the programme when the year is
    over. A late filing is recorded as late."""
    case = cluster.case
    version = annual_report_rulebook(
        rules.rulebook_of(), rules.profile(case.dossier), body.year, case.rulebook_version
    )
    due = annual_report_due(version, body.year)
    cluster.file_annual_report(meta, body.year, body.figures.to_domain(), due, version.id)


@command(
    Command.SCORE,
    body=ScoreBody,
    path="/scores",
    summary="Record an annual assessment score (XM)",
)
def score(cluster: Cluster, meta: EventMeta, body: ScoreBody, rules: Rules) -> None:
    """XM Art. 10: the district gives the initial score (`district_initial`), then the city the
    final one (`city_final`, another user). Any failure ground fails the assessment whatever the
    score. A recorded score is changed only by a `correction` with a reason."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    cluster.score(
        meta,
        body.year,
        body.stage,
        body.score,
        body.failure_grounds,
        (version.score_min, version.score_max),
        version.id,
        profile=rules.profile(cluster.case.dossier),
        first_assessed_year=version.assessment_first_year,
        correction=body.correction,
    )


@command(
    Command.REPORT_MAJOR_CHANGE,
    body=MajorChangeBody,
    path="/major-changes",
    summary="Report a major change",
)
def report_major_change(
    cluster: Cluster, meta: EventMeta, body: MajorChangeBody, rules: Rules
) -> None:
    """A change of leading industry, spatial scope or operating unit (FJ Art. 16(4)); changing
    the XM operating unit needs a reason (XM Art. 6)."""
    profile = rules.profile(cluster.case.dossier)
    cluster.report_major_change(meta, body.kind, body.new_value, profile=profile)
