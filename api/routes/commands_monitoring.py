"""Life of a certified cluster: annual reports, XM annual assessment scores, major changes,
renewal review (FJ Art. 14–15; XM Art. 6, 8–10)."""

from __future__ import annotations

from uuid import UUID

from litestar import Response, post
from litestar.params import FromPath, JSONBody

from api.routes.commands import (
    CLUSTER_PATH,
    ActorRequest,
    Preconditions,
    command_route,
    run_command,
)
from api.schemas import (
    AnnualReportBody,
    CommandResponse,
    MajorChangeBody,
    RenewalDecisionBody,
    RenewalRequestBody,
    ScoreBody,
)
from domain.permissions import Command
from infra.application import ClusterLedger


@post(
    f"{CLUSTER_PATH}/annual-reports",
    **command_route(Command.FILE_ANNUAL_REPORT, "fileAnnualReport", "File an annual report"),
)
async def file_annual_report(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[AnnualReportBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """The report for `year`, filed on `effective_date`; due by March 30 (FJ Art. 15) or April
    30 (XM Art. 9) of the next year. A late filing is recorded as late."""
    return await run_command(
        request, preconditions, data, ClusterLedger.file_annual_report, cluster_id,
        year=data.year, figures=data.figures.to_domain(),
    )


@post(
    f"{CLUSTER_PATH}/scores",
    **command_route(Command.SCORE, "score", "Record an annual assessment score (XM)"),
)
async def score(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[ScoreBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """XM Art. 10: the district gives the initial score (`district_initial`), then the city the
    final one (`city_final`, another user). Any failure ground fails the assessment whatever the
    score. A recorded score is changed only by a `correction` with a reason."""
    return await run_command(
        request, preconditions, data, ClusterLedger.score, cluster_id,
        year=data.year, stage=data.stage, score=data.score,
        failure_grounds=data.failure_grounds, correction=data.correction,
    )


@post(
    f"{CLUSTER_PATH}/major-changes",
    **command_route(Command.REPORT_MAJOR_CHANGE, "reportMajorChange", "Report a major change"),
)
async def report_major_change(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[MajorChangeBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """A change of leading industry, spatial scope or operating unit (FJ Art. 16(4)); changing
    the XM operating unit needs a reason (XM Art. 6)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.report_major_change, cluster_id,
        kind=data.kind, new_value=data.new_value,
    )


@post(
    f"{CLUSTER_PATH}/renewal",
    **command_route(Command.REQUEST_RENEWAL, "requestRenewal", "Apply for renewal review"),
)
async def request_renewal(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[RenewalRequestBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """At the end of the 3-year validity the cluster applies for renewal review (复核;
    FJ Art. 14, XM Art. 8)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.request_renewal, cluster_id
    )


@post(
    f"{CLUSTER_PATH}/renewal/decision",
    **command_route(Command.DECIDE_RENEWAL, "decideRenewal", "Decide the renewal review"),
)
async def decide_renewal(
    request: ActorRequest, cluster_id: FromPath[UUID], data: JSONBody[RenewalDecisionBody],
    preconditions: Preconditions,
) -> Response[CommandResponse]:
    """Passing extends validity by 3 years; FJ also records whether the 3-year plan's targets
    were met. A failed renewal needs a reason and is revocation ground (1)."""
    return await run_command(
        request, preconditions, data, ClusterLedger.decide_renewal, cluster_id,
        passed=data.passed, plan_targets_met=data.plan_targets_met,
    )


ROUTES = [file_annual_report, score, report_major_change, request_renewal, decide_renewal]
