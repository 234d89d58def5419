"""Life of a certified cluster: annual reports, XM annual assessment scores, major changes
(FJ Art. 15–16; XM Art. 6, 9–10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from domain.actors import EventMeta
from domain.cluster import Cluster
from domain.commands import Command, CommandBody, Rules, command
from domain.facts import AnnualFigures, ChangeKind, Ground, ScoreStage
from domain.inputs import Count, ShortText, Year, Yuan


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
    operation_id="fileAnnualReport",
    summary="File an annual report",
)
def file_annual_report(
    cluster: Cluster, meta: EventMeta, body: AnnualReportBody, rules: Rules
) -> None:
    """The report for `year`, filed on `effective_date`; due by March 30 (FJ Art. 15) or April
    30 (XM Art. 9) of the next year. A late filing is recorded as late."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    due = date(body.year + 1, version.annual_report.month, version.annual_report.day)
    cluster.file_annual_report(meta, body.year, body.figures.to_domain(), due, version.id)


@command(
    Command.SCORE,
    body=ScoreBody,
    path="/scores",
    operation_id="score",
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
        correction=body.correction,
    )


@command(
    Command.REPORT_MAJOR_CHANGE,
    body=MajorChangeBody,
    path="/major-changes",
    operation_id="reportMajorChange",
    summary="Report a major change",
)
def report_major_change(
    cluster: Cluster, meta: EventMeta, body: MajorChangeBody, rules: Rules  # noqa: ARG001
) -> None:
    """A change of leading industry, spatial scope or operating unit (FJ Art. 16(4)); changing
    the XM operating unit needs a reason (XM Art. 6)."""
    cluster.report_major_change(meta, body.kind, body.new_value)
