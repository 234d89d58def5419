"""Administrator overrides of the working-day calendar (infra.calendar_store).

When the State Council publishes a year's holiday schedule, an administrator enters the days that
differ from the packaged schedule and declares the year official, so that deadlines in it are no
longer provisional. Writes are PUTs: repeating one changes nothing. Everyone signed in may read.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Response, get, put
from litestar.params import FromPath, JSONBody, PathParameter

from api.auth import admin_only
from api.errors import problem_responses
from api.input_policy import check_date
from api.routes.commands import ActorRequest, checked_body
from api.runtime import Runtime, runtime_of
from api.schemas import CalendarYearView, DayOverrideBody, DayOverrideView

YearParam = Annotated[int, PathParameter(ge=1990, le=2200, description="calendar year")]


@get(
    "/api/calendar/{year:int}",
    operation_id="getCalendarYear",
    tags=["calendar"],
    summary="Overrides entered for one year",
    responses=problem_responses(400, 401),
)
async def get_calendar_year(request: ActorRequest, year: YearParam) -> CalendarYearView:
    """The administrator's entries for `year`, and whether its schedule is official."""
    return await _year_view(runtime_of(request), year)


async def _year_view(runtime: Runtime, year: int) -> CalendarYearView:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT day, working, note, entered_by, entered_at FROM calendar_days"
            " WHERE day >= $1 AND day < $2 ORDER BY day",
            date(year, 1, 1),
            date(year + 1, 1, 1),
        )
        declared = await conn.fetchval(
            "SELECT count(*) FROM calendar_official_years WHERE year = $1", year
        )
    official = await runtime.call(lambda: runtime.calendar.current().knows_year(year))
    return CalendarYearView(
        year=year,
        official=official,
        declared_by_admin=bool(declared),
        overrides=[DayOverrideView(**dict(row)) for row in rows],
    )


@put(
    "/api/calendar/days/{day:date}",
    operation_id="setCalendarDay",
    tags=["calendar"],
    summary="Enter a working day or a holiday (administrator)",
    guards=[admin_only],
    responses=problem_responses(400, 401, 403, 413, 422),
)
async def set_calendar_day(
    request: ActorRequest, day: FromPath[date], data: JSONBody[DayOverrideBody]
) -> Response[DayOverrideBody]:
    """Mark `day` as a working day (a make-up 调休 weekend day) or a holiday; it wins over the
    packaged schedule for every deadline computed from now on."""
    data = await checked_body(request, data)
    check_date("day", day, source="path")
    runtime = runtime_of(request)
    await runtime.call(
        runtime.calendar.set_day, day, working=data.working, note=data.note,
        entered_by=request.user.user_id,
    )
    return Response(data)


@put(
    "/api/calendar/official-years/{year:int}",
    operation_id="declareOfficialYear",
    tags=["calendar"],
    summary="Declare a year's schedule official (administrator)",
    guards=[admin_only],
    responses=problem_responses(400, 401, 403),
)
async def declare_official_year(request: ActorRequest, year: YearParam) -> CalendarYearView:
    """The year's official schedule is fully entered: its deadlines are no longer provisional."""
    runtime = runtime_of(request)
    await runtime.call(
        runtime.calendar.declare_official_year, year, entered_by=request.user.user_id
    )
    return await _year_view(runtime, year)


ROUTES = [get_calendar_year, set_calendar_day, declare_official_year]
