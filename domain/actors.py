"""Who acts, and the provenance every event carries beside its domain facts."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

import msgspec

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class Role(StrEnum):
    COUNTY = "county"  # county/district SME department: applicant (申报主体), XM district assessor
    CITY = "city"  # city SME department / Xiamen bureau and SME service centre
    PROVINCE = "province"  # 省工信厅 (FJ)
    MIIT_RECORDER = "miit_recorder"  # city staff recording MIIT's decisions (XM)
    OPERATING_UNIT = "operating_unit"  # 运营单位 (XM): fund-use plans
    AUDITOR = "auditor"  # third-party auditor: reads, never writes
    ADMIN = "admin"  # administrator: calendar and operations, no case decisions


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    role: Role
    organisation: str
    jurisdiction: str  # GB/T 2260 six-digit code of the actor's area


class EventMeta(msgspec.Struct, frozen=True, kw_only=True):
    """Provenance of one event.

    The recorded time (transaction time) is the event's own `timestamp`; `effective_date` is the
    date on the decision document (valid time) and may lie before the recording.
    """

    actor: Actor
    effective_date: date
    document_number: str | None = None  # 文号
    comment: str = ""
    attachments: tuple[str, ...] = ()  # sha256 hex digests of attached documents
    request_id: str | None = None
    correlation_id: str | None = None
    # Stamped by the application on every decision: the id of each rulebook layer in force
    # (scheme first) and the conventions the decision relied on (`domain.governance.stamp`).
    rulebooks: tuple[str, ...] = ()
    conventions: tuple[str, ...] = ()
