"""Pre-check of a dossier's figures against the certification standards; stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import Response, post
from litestar.params import JSONBody

from api.errors import problem_responses
from api.routes.commands import ActorRequest, checked_body
from api.runtime import runtime_of
from api.schemas import EligibilityRequest
from domain.eligibility import CriterionResult, precheck
from domain.errors import InvalidInput


class EligibilityView(msgspec.Struct, kw_only=True):
    rulebook_version: str  # the version applied
    eligible: bool  # no criterion failed or missing (qualitative ones are left to the reviewer)
    shortfalls: tuple[str, ...]  # ids of the failed or missing criteria
    for_review: tuple[str, ...]  # ids of the criteria a reviewer must judge
    criteria: tuple[CriterionResult, ...]


@post(
    "/api/eligibility",
    operation_id="precheckEligibility",
    tags=["eligibility"],
    summary="Pre-check a dossier against the certification standards",
    status_code=200,
    responses=problem_responses(400, 401, 404, 413, 422),  # 404: no version in force
)
async def precheck_eligibility(
    request: ActorRequest, data: JSONBody[EligibilityRequest]
) -> Response[EligibilityView]:
    """Every criterion of the chosen rulebook version, in the annex's order, with the declared
    figure, the threshold and the source's boundary word. Choose the version by
    `rulebook_version`, or by `programme` and `on` (default today). Any signed-in role may ask;
    nothing is stored, so an Idempotency-Key is accepted and has no effect."""
    data = await checked_body(request, data)
    rulebook = runtime_of(request).ledger.services.rulebook
    if data.rulebook_version is not None:
        known = {v.id for v in rulebook.versions}
        if data.rulebook_version not in known:
            raise InvalidInput(
                "unknown_rulebook_version",
                f"no rulebook version {data.rulebook_version!r}; known: {', '.join(sorted(known))}",
                field="rulebook_version",
            )
        version = rulebook.get(data.rulebook_version)
    elif data.programme is not None:
        version = rulebook.in_force(data.programme, data.on or datetime.now(UTC).date())
    else:
        raise InvalidInput(
            "rulebook_choice_required",
            "name a rulebook_version, or a programme (and optionally the date 'on')",
            field="programme",
        )
    report = precheck(data.indicators.to_domain(), version)
    view = EligibilityView(
        rulebook_version=report.rulebook_version,
        eligible=report.eligible,
        shortfalls=tuple(c.id for c in report.shortfalls),
        for_review=tuple(c.id for c in report.for_review),
        criteria=report.criteria,
    )
    return Response(view)


ROUTES = [precheck_eligibility]
