"""The state of one cluster case, as a plain msgspec Struct.

The aggregate keeps all of its state in one `CaseState`, so that the same value can be
snapshotted, returned by the API, and rebuilt by an auditor's replay without loading anything.

Parts that no applier changes once written (a notice, an annual report, a revocation, a major
change, and the facts of `domain.facts`) are frozen Structs. `copy_case` shares them and copies
everything else, so a copy of a long case costs little and still shares nothing that can change.
"""

from __future__ import annotations

import copy
import functools
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import msgspec

from domain.facts import AppealOutcome, ChangeKind, Dossier, Ground, PlanLine
from domain.status import FINAL_STATUSES as FINAL_STATUSES  # noqa: PLC0414 - re-exported
from domain.status import Status as Status  # noqa: PLC0414 - re-exported (home: domain.status)
from domain.status import lapses_on as lapse_date
from domain.status import status_on as status_read_on


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    starts_on: date
    ends_on: date
    provisional: bool = False


class Objection(msgspec.Struct, kw_only=True):
    number: int
    subject: str  # "certification" or "subsidy:<funding year>"
    raised_on: date
    summary: str
    resolution: str | None = None  # None while open; "upheld" or "dismissed"
    resolved_on: date | None = None


class AnnualReport(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    filed_on: date
    due_on: date
    late: bool


class Assessment(msgspec.Struct, kw_only=True):
    """XM annual performance assessment of one year (XM Art. 10)."""

    year: int
    number: int  # 1st, 2nd, ... assessment since certification
    initial_score: Decimal | None = None
    initial_by: str | None = None
    final_score: Decimal | None = None
    final_by: str | None = None
    failure_grounds: tuple[str, ...] = ()
    corrections: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.failure_grounds)


class Funding(msgspec.Struct, kw_only=True):
    """One funding year of the XM three-year subsidy (XM Art. 13–15)."""

    funding_year: int
    plan_submitted_on: date | None = None
    requested_fen: int = 0
    plan_lines: tuple[PlanLine, ...] = ()
    district_passed: bool | None = None
    district_reviewed_by: str | None = None
    entitlement_fen: int = 0
    approved_fen: int = 0
    approved_by: str | None = None
    approved_on: date | None = None
    notice: Notice | None = None
    paid_fen: int = 0
    vouchers: tuple[str, ...] = ()
    paid_on: tuple[date, ...] = ()
    rulebook_version: str | None = None


class Renewal(msgspec.Struct, kw_only=True):
    requested_on: date
    decided_on: date | None = None
    passed: bool | None = None
    plan_targets_met: bool | None = None


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    ground: Ground
    decided_on: date
    received_on: date
    appeal_deadline: date | None
    appeal_deadline_provisional: bool
    decided_by: str
    status_before: Status


class Appeal(msgspec.Struct, kw_only=True):
    filed_on: date
    reply_due: date
    reply_due_provisional: bool
    outcome: AppealOutcome | None = None
    decided_on: date | None = None
    decided_by: str | None = None
    replied_late: bool | None = None


class MajorChange(msgspec.Struct, frozen=True, kw_only=True):
    kind: ChangeKind
    reported_on: date
    new_value: str


class AuditFinding(msgspec.Struct, kw_only=True):
    number: int
    recorded_on: date
    summary: str
    amount_questioned_fen: int = 0
    city_confirmed_on: date | None = None
    county_confirmed_on: date | None = None

    @property
    def rectified(self) -> bool:
        return self.city_confirmed_on is not None and self.county_confirmed_on is not None


class CaseState(msgspec.Struct, kw_only=True):
    dossier: Dossier
    status: Status
    applied_on: date
    rulebook_version: str
    applied_by: str
    recommended_by: str | None = None
    recommended_on: date | None = None
    notice: Notice | None = None
    objections: list[Objection] = msgspec.field(default_factory=list)
    certified_on: date | None = None
    certified_by: str | None = None
    certifying_body: str | None = None  # "province" (FJ) or "MIIT" (XM)
    certification_document: str | None = None
    valid_until: date | None = None
    rejected_reason: str | None = None
    renewal: Renewal | None = None
    renewals_passed: int = 0
    reports: dict[int, AnnualReport] = msgspec.field(default_factory=dict)
    assessments: dict[int, Assessment] = msgspec.field(default_factory=dict)
    funding: dict[int, Funding] = msgspec.field(default_factory=dict)
    revocation: Revocation | None = None
    appeal: Appeal | None = None
    changes: list[MajorChange] = msgspec.field(default_factory=list)
    audit_findings: list[AuditFinding] = msgspec.field(default_factory=list)
    last_effective_date: date | None = None

    @property
    def renewal_pending(self) -> bool:
        """A renewal review is requested and not yet decided."""
        return self.renewal is not None and self.renewal.passed is None

    @property
    def lapses_on(self) -> date | None:
        """The first day the case reads expired (`domain.status.lapses_on`), or None."""
        return lapse_date(self.status, self.valid_until, self.renewal_pending)

    def status_on(self, day: date) -> str:
        """Status as a reader sees it on `day`: a certification past its validity reads expired
        (`domain.status.status_on`)."""
        return status_read_on(self.status, self.lapses_on, day)

    def open_objections(self, subject: str) -> list[Objection]:
        return [o for o in self.objections if o.subject == subject and o.resolution is None]

    def upheld_objections(self, subject: str) -> list[Objection]:
        return [o for o in self.objections if o.subject == subject and o.resolution == "upheld"]


_IMMUTABLE = (str, int, float, bool, bytes, date, datetime, Decimal, UUID, Enum, type(None))


@functools.cache
def _immutable(hint: Any) -> bool:
    """Whether every value a type hint admits is immutable all the way down: scalars, enums,
    tuples of immutables, and frozen Structs whose fields are all immutable."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return all(_immutable(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return all(_immutable(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)
    if origin is not None or not isinstance(hint, type):
        return False  # list, dict, set and anything unrecognised: copied
    if issubclass(hint, _IMMUTABLE):
        return True
    if issubclass(hint, msgspec.Struct) and hint.__struct_config__.frozen:
        return all(_immutable(h) for h in _field_hints(hint).values())
    return False


@functools.cache
def _field_hints(kind: type[msgspec.Struct]) -> dict[str, Any]:
    return {name: typing.get_type_hints(kind)[name] for name in kind.__struct_fields__}


@functools.cache
def _mutable_fields(kind: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields of a Struct type that may hold something a copy must not share."""
    return tuple(name for name, hint in _field_hints(kind).items() if not _immutable(hint))


_SHARED: set[type] = set()  # value types found immutable: shared by copies, never walked


def _copied(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    kind: Any = type(value)
    if kind in _SHARED:
        return value
    if _immutable(kind):
        _SHARED.add(kind)
        return value
    if kind is list:
        if _SHARED.issuperset(map(type, value)):  # the usual case, at C speed: a long case
            return value.copy()  # holds thousands of frozen notices and changes
        return [item if type(item) in _SHARED else _copied(item) for item in value]
    if kind is dict:
        return {
            key: item if type(item) in _SHARED else _copied(item) for key, item in value.items()
        }
    if kind is tuple:
        if _SHARED.issuperset(map(type, value)):
            return value
        return tuple(item if type(item) in _SHARED else _copied(item) for item in value)
    if isinstance(value, msgspec.Struct):
        clone = copy.copy(value)
        for name in _mutable_fields(kind):
            setattr(clone, name, _copied(getattr(value, name)))
        return clone
    return copy.deepcopy(value)


def copy_case(case: CaseState) -> CaseState:
    """A copy of `case` that shares only immutable values (frozen Structs, scalars)."""
    clone: CaseState = _copied(case)
    return clone
