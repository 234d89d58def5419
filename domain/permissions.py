"""Who may act where: jurisdiction levels and areas (DOMAIN.md, "Actors").

Which role may issue which command in which programme is data: the `steps` of each programme's
profile (`domain/rules/programmes.toml`, `domain.programmes`). Deny by default: a command absent
from a profile's steps, or a role absent from its entry, is refused.
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

R = Role

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


class Steps(Protocol):
    def check_step(self, command: str, programme: Programme | str, role: Role) -> None: ...


def check_may_act(
    actor: Actor,
    command: Command,
    programme: Programme,
    county_code: str,
    regions: Coverage,
    programmes: Steps,
) -> None:
    """Refuse unless the programme's permission matrix (`domain/rules/programmes.toml`) lets
    the actor's role issue `command`, and the case lies in the actor's area."""
    programmes.check_step(command, programme, actor.role)
    check_may_read(actor, county_code, regions)


def check_may_read(actor: Actor, county_code: str, regions: Coverage) -> None:
    if not regions.covers(actor.jurisdiction, county_code):
        raise NotAllowed(
            "outside_jurisdiction",
            f"cluster in {county_code} lies outside the actor's jurisdiction {actor.jurisdiction}",
            jurisdiction=actor.jurisdiction,
            county_code=county_code,
        )
