"""Who may issue which command, per programme (DOMAIN.md, "Actors"), as data.

Deny by default: a command absent from the table, or a role absent from its entry, is refused.
Jurisdiction is checked separately against the region table (a user acts only inside their area).
Which level of jurisdiction each role may hold at all is data too (`JURISDICTION_LEVELS`):
a token whose role and jurisdiction do not fit is refused before anything else
(`check_jurisdiction_level`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from domain.actors import Actor, Role
from domain.commands import Command
from domain.errors import InvalidInput, NotAllowed
from domain.regions import Level, Region
from domain.rulebook import Programme

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


# role -> the levels of jurisdiction (GB/T 2260 code) a user of that role may hold. DOMAIN.md,
# "Actors"; Pingtan's one code is both a county and, for FJ, a city (FJ Art. 4: 各设区市（含平潭）).
JURISDICTION_LEVELS: Mapping[Role, frozenset[Level]] = {
    R.COUNTY: frozenset({"county"}),  # the county/district department (applicant, XM district)
    R.CITY: frozenset({"city"}),  # the city department (FJ Art. 12, 15; XM Art. 7, 10, 15)
    R.PROVINCE: frozenset({"province"}),  # 省工信厅 (FJ Art. 13, 14, 16)
    R.MIIT_RECORDER: frozenset({"city"}),  # the city bureau records MIIT's decisions (XM Art. 7-8)
    R.OPERATING_UNIT: frozenset({"county"}),  # designated by its district (XM Art. 6)
    R.AUDITOR: frozenset({"province", "city", "county"}),  # engaged at any level (XM Art. 16)
    R.ADMIN: frozenset({"province"}),  # the calendar and operations: province-wide
}


class RegionLookup(Protocol):
    def get(self, code: str) -> Region: ...


def jurisdiction_levels(region: Region) -> frozenset[Level]:
    """The levels a division stands at: its own, and city too for a county that acts as one."""
    if region.level == "county" and region.acts_as_city:
        return frozenset({"county", "city"})
    return frozenset({region.level})


def check_jurisdiction_level(role: Role, code: str, regions: RegionLookup) -> None:
    """Refuse a jurisdiction not in the region table, or not of a level the role may hold."""
    try:
        region = regions.get(code)
    except InvalidInput:
        raise InvalidInput(
            "unknown_jurisdiction",
            f"jurisdiction {code!r} is not a division in the region table",
            role=str(role), jurisdiction=code,
        ) from None
    allowed = JURISDICTION_LEVELS[role]
    levels = jurisdiction_levels(region)
    if not levels & allowed:
        raise InvalidInput(
            "jurisdiction_level_mismatch",
            f"role {role} may hold only a {' or '.join(sorted(allowed))}-level jurisdiction; "
            f"{code} ({region.name}) is {' and '.join(sorted(levels))}-level",
            role=str(role), jurisdiction=code, level=sorted(levels), allowed=sorted(allowed),
        )


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
