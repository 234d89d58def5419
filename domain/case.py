"""The state of one cluster case, as a plain msgspec Struct.

The aggregate keeps all of its state in one `CaseState`, so that the same value can be
snapshotted, returned by the API, and rebuilt by an auditor's replay without loading anything.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from domain.facts import AppealOutcome, ChangeKind, Dossier, Ground, PlanLine


class Status(StrEnum):
    APPLIED = "applied"  # awaiting city review
    NOT_RECOMMENDED = "not_recommended"  # city declined (final)
    RECOMMENDED = "recommended"  # awaiting province (FJ) or MIIT (XM)
    UNDER_NOTICE = "under_notice"  # FJ: shortlisted and under public notice (公示)
    REJECTED = "rejected"  # final
    CERTIFIED = "certified"  # reads as "expired" past valid_until (derived by date)
    RENEWAL_FAILED = "renewal_failed"
    REVOKED = "revoked"


FINAL_STATUSES = frozenset({Status.NOT_RECOMMENDED, Status.REJECTED})


class Notice(msgspec.Struct, kw_only=True):
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


class AnnualReport(msgspec.Struct, kw_only=True):
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


class Revocation(msgspec.Struct, kw_only=True):
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


class MajorChange(msgspec.Struct, kw_only=True):
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

    def status_on(self, day: date) -> str:
        """Status as a reader sees it on `day`: a certification past its validity reads expired."""
        if (
            self.status == Status.CERTIFIED
            and self.valid_until is not None
            and day > self.valid_until
            and not (self.renewal and self.renewal.passed is None)
        ):
            return "expired"
        return str(self.status)

    def open_objections(self, subject: str) -> list[Objection]:
        return [o for o in self.objections if o.subject == subject and o.resolution is None]

    def upheld_objections(self, subject: str) -> list[Objection]:
        return [o for o in self.objections if o.subject == subject and o.resolution == "upheld"]
