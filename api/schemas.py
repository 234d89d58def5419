"""Response bodies of the HTTP API, and the request bodies that are not commands (msgspec Structs).

Command request bodies are declared with their commands (`domain.commands`); the bounds and
kinds of the values a body may carry are `domain.inputs`. Every request Struct forbids unknown
fields, and every body passes the one input policy (`api.input_policy`) before it is used.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from domain.actors import Actor
from domain.inputs import Day, RequestBody, ShortText, text_meta
from domain.review import IndicatorsIn
from domain.rulebook import Convention, Programme


class CommandResponse(msgspec.Struct, kw_only=True):
    """What a command changed. `position` is where its last event landed in the log: pass it to
    reads that take `min_position` to read your own write."""

    cluster_id: UUID
    version: int
    position: int | None
    events: tuple[str, ...]
    # the id of each rulebook layer in force on the decision's effective date, scheme first
    rulebooks: tuple[str, ...] = ()
    # where the sources are silent, the reading the decision relied on (id, article, text)
    conventions: tuple[Convention, ...] = ()


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
    rulebooks: tuple[str, ...] = ()  # the rulebook layers in force (scheme first)
    conventions: tuple[str, ...] = ()  # the conventions the decision relied on (ids)


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
