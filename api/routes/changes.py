"""What changed on the status board between two dates (`GET /api/clusters/changes`).

Read from the bitemporal view (`projections.board_changes`), in the caller's jurisdiction,
with the board's filters; `known_at` reads the record as it stood then.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from litestar import get
from litestar.params import QueryParameter
from litestar.response import Response

from api.errors import ApiError
from api.input_policy import check_date, query_instant, query_text
from api.routes.reads import (
    READ_PROBLEMS,
    ActorRequest,
    After,
    Cursor,
    Limit,
    Region,
    _list_response,
    read_after,
)
from api.runtime import runtime_of
from api.scope import read_scope
from domain.errors import InvalidInput
from domain.rulebook import Programme
from projections.board_changes import (
    BoardChange,
    BoardChanges,
    ChangeFilters,
    ChangeKind,
    list_changes,
)
from projections.queries import STATUS_VALUES


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ApiError(
            400, "changes_range_reversed", f"to ({end}) is before from ({start})",
            fields=["to"],
        )


@get(
    "/api/clusters/changes",
    operation_id="listBoardChanges",
    tags=["reads"],
    summary="What changed on the status board between two dates",
    responses=READ_PROBLEMS,
)
async def list_board_changes(
    request: ActorRequest,
    from_date: Annotated[
        date, QueryParameter(name="from", description="The board on this date is the baseline")
    ],
    to_date: Annotated[
        date, QueryParameter(name="to", description="Changes up to and including this date")
    ],
    known_at: Annotated[
        datetime | None,
        QueryParameter(description="As recorded at this instant (with a time zone); "
                       "default: as the record stands now"),
    ] = None,
    kind: Annotated[ChangeKind | None, QueryParameter(description="One kind of change")] = None,
    status: Annotated[
        str | None, QueryParameter(description="The status as read on the date of the change")
    ] = None,
    programme: Annotated[Programme | None, QueryParameter(description="FJ or XM")] = None,
    region: Region = None,
    industry: Annotated[
        str | None, QueryParameter(max_length=100, description="Part of the leading industry")
    ] = None,
    name: Annotated[
        str | None, QueryParameter(max_length=100, description="Part of the cluster's name")
    ] = None,
    limit: Limit = 500,
    cursor: Cursor = None,
    after: After = 0,
) -> Response[BoardChanges]:
    """Every date d after `from` up to `to` on which the board shows a case otherwise than on
    the day before: `applied` (the case appears), `certified`, `renewed` (validity extended,
    or certified again after expiry), `expired`, `revoked`, `reinstated` (after a
    revocation, e.g. overturned on appeal), `renewal_failed`, `status` (any other change of
    status) and `payment` (`amount_fen` more paid than the day before). Ordered by date,
    cluster and kind; keyset pages (`next`). With `Accept: text/csv`, the page's items as CSV.
    A `to` before `from` is a 400 `changes_range_reversed`."""
    start = check_date("from", from_date, source="query")
    end = check_date("to", to_date, source="query")
    _check_range(start, end)
    known = query_instant("known_at", known_at)
    if status is not None and status not in STATUS_VALUES:
        raise InvalidInput(
            "invalid_status", f"status is one of {', '.join(sorted(STATUS_VALUES))}",
            field="status",
        )
    runtime = runtime_of(request)
    await read_after(runtime, after)
    counties, prefix = read_scope(runtime, request.user, region)
    filters = ChangeFilters(
        kind=str(kind) if kind else None, status=status,
        programme=str(programme) if programme else None,
        industry=query_text("industry", industry), name=query_text("name", name),
    )
    async with runtime.pool.acquire() as conn:
        page = await list_changes(
            conn, start=start, end=end, known_at=known, counties=counties, prefix=prefix,
            filters=filters, limit=limit, cursor=cursor,
        )
    response: Response[Any] = _list_response(request, page, BoardChange)
    return response


ROUTES = [list_board_changes]
