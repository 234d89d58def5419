"""Who may issue which command, per programme (DOMAIN.md, "Actors"), as data.

Deny by default: a command absent from the table, or a role absent from its entry, is refused.
Jurisdiction is checked separately against the region table (a user acts only inside their area).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from domain.actors import Actor, Role
from domain.errors import NotAllowed
from domain.rulebook import Programme


class Command(StrEnum):
    APPLY = "apply"
    RECOMMEND = "recommend"
    DECLINE = "decline_to_recommend"
    SHORTLIST = "shortlist"
    RAISE_OBJECTION = "raise_objection"
    RESOLVE_OBJECTION = "resolve_objection"
    CERTIFY = "certify"
    REJECT = "reject"
    FILE_ANNUAL_REPORT = "file_annual_report"
    SCORE = "score"
    SUBMIT_FUND_USE_PLAN = "submit_fund_use_plan"
    REVIEW_FUND_USE_PLAN = "review_fund_use_plan"
    APPROVE_SUBSIDY = "approve_subsidy"
    PAY_SUBSIDY = "pay_subsidy"
    REPORT_MAJOR_CHANGE = "report_major_change"
    REQUEST_RENEWAL = "request_renewal"
    DECIDE_RENEWAL = "decide_renewal"
    REVOKE = "revoke"
    APPEAL = "appeal"
    DECIDE_APPEAL = "decide_appeal"
    RECORD_AUDIT_FINDING = "record_audit_finding"
    CONFIRM_RECTIFICATION = "confirm_rectification"


_FJ, _XM = Programme.FJ, Programme.XM
R = Role

# command -> programme -> roles allowed. Articles: FJ Art. 11-16; XM Art. 6-10, 13-17.
PERMISSIONS: Mapping[Command, Mapping[Programme, frozenset[Role]]] = {
    Command.APPLY: {_FJ: frozenset({R.COUNTY}), _XM: frozenset({R.COUNTY})},
    Command.RECOMMEND: {_FJ: frozenset({R.CITY}), _XM: frozenset({R.CITY})},
    Command.DECLINE: {_FJ: frozenset({R.CITY}), _XM: frozenset({R.CITY})},
    Command.SHORTLIST: {_FJ: frozenset({R.PROVINCE})},
    Command.RAISE_OBJECTION: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.CITY})},
    Command.RESOLVE_OBJECTION: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.CITY})},
    Command.CERTIFY: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.MIIT_RECORDER})},
    Command.REJECT: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.MIIT_RECORDER})},
    Command.FILE_ANNUAL_REPORT: {
        _FJ: frozenset({R.COUNTY, R.CITY}),
        _XM: frozenset({R.COUNTY, R.OPERATING_UNIT}),
    },
    Command.SCORE: {_XM: frozenset({R.COUNTY, R.CITY})},
    Command.SUBMIT_FUND_USE_PLAN: {_XM: frozenset({R.OPERATING_UNIT})},
    Command.REVIEW_FUND_USE_PLAN: {_XM: frozenset({R.COUNTY})},
    Command.APPROVE_SUBSIDY: {_XM: frozenset({R.CITY})},
    Command.PAY_SUBSIDY: {_XM: frozenset({R.CITY})},
    Command.REPORT_MAJOR_CHANGE: {
        _FJ: frozenset({R.COUNTY}),
        _XM: frozenset({R.COUNTY, R.OPERATING_UNIT}),
    },
    Command.REQUEST_RENEWAL: {_FJ: frozenset({R.COUNTY}), _XM: frozenset({R.COUNTY})},
    Command.DECIDE_RENEWAL: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.MIIT_RECORDER})},
    Command.REVOKE: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.MIIT_RECORDER})},
    Command.APPEAL: {_FJ: frozenset({R.COUNTY}), _XM: frozenset({R.COUNTY})},
    Command.DECIDE_APPEAL: {_FJ: frozenset({R.PROVINCE}), _XM: frozenset({R.MIIT_RECORDER})},
    Command.RECORD_AUDIT_FINDING: {_XM: frozenset({R.CITY})},
    Command.CONFIRM_RECTIFICATION: {_XM: frozenset({R.CITY, R.COUNTY})},
}

READ_ROLES = frozenset(Role)  # every role may read what lies in its jurisdiction


class Coverage(Protocol):
    def covers(self, jurisdiction_code: str, county_code: str) -> bool: ...


def allowed_roles(command: Command, programme: Programme) -> frozenset[Role]:
    return PERMISSIONS.get(command, {}).get(programme, frozenset())


def check_may_act(
    actor: Actor,
    command: Command,
    programme: Programme,
    county_code: str,
    regions: Coverage,
) -> None:
    """Refuse unless the actor's role may issue `command` here and the case lies in their area."""
    roles = allowed_roles(command, programme)
    if not roles:
        raise NotAllowed(
            "command_not_in_programme",
            f"{command} is not a step of the {programme} programme",
            command=str(command),
            programme=str(programme),
        )
    if actor.role not in roles:
        raise NotAllowed(
            "role_not_permitted",
            f"role {actor.role} may not {command} in the {programme} programme; "
            f"allowed: {', '.join(sorted(roles))}",
            command=str(command),
            role=str(actor.role),
            allowed=sorted(roles),
        )
    check_may_read(actor, county_code, regions)


def check_may_read(actor: Actor, county_code: str, regions: Coverage) -> None:
    if not regions.covers(actor.jurisdiction, county_code):
        raise NotAllowed(
            "outside_jurisdiction",
            f"cluster in {county_code} lies outside the actor's jurisdiction {actor.jurisdiction}",
            jurisdiction=actor.jurisdiction,
            county_code=county_code,
        )
