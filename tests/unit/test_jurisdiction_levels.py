"""Which level of jurisdiction each role may hold (DOMAIN.md "Actors"; Pingtan counts as a city
for FJ), checked for every role at every level, both sides. Pure: no database."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

from domain.actors import Role
from domain.errors import ErrorKind, InvalidInput
from domain.permissions import JURISDICTION_LEVELS, check_jurisdiction_level
from domain.regions import Regions, parse_regions

R = Role
# One division of each kind: the province, a city, a county, a district, and Pingtan, which is
# a county-level code that acts as a city (FJ Art. 4: 各设区市（含平潭）).
PROVINCE, XIAMEN, QUANZHOU, JINJIANG, SIMING, PINGTAN = (
    "350000", "350200", "350500", "350582", "350203", "350128"
)
KINDS = {
    PROVINCE: "province", XIAMEN: "city", QUANZHOU: "city", JINJIANG: "county",
    SIMING: "county", PINGTAN: "pingtan",
}

# What the sources say, restated independently of domain/permissions.py: the kinds of
# division a user of each role may name as their jurisdiction.
MAY_HOLD: Mapping[Role, frozenset[str]] = {
    R.COUNTY: frozenset({"county", "pingtan"}),  # the applicant: a county-level department
    R.CITY: frozenset({"city", "pingtan"}),  # Pingtan's department is a city's
    R.PROVINCE: frozenset({"province"}),
    R.MIIT_RECORDER: frozenset({"city", "pingtan"}),  # city staff recording MIIT's decisions
    R.OPERATING_UNIT: frozenset({"county", "pingtan"}),  # designated by its district
    R.AUDITOR: frozenset({"province", "city", "county", "pingtan"}),  # engaged at any level
    R.ADMIN: frozenset({"province"}),  # province-wide operations
}


@cache
def regions() -> Regions:
    path = Path(__file__).resolve().parents[2] / "domain" / "rules" / "regions-fj.toml"
    return parse_regions(path.read_bytes(), source_name=path.name)


def _cases(allowed: bool) -> list[tuple[Role, str]]:
    return [
        (role, code)
        for role in Role
        for code, kind in KINDS.items()
        if (kind in MAY_HOLD[role]) is allowed
    ]


def test_every_role_has_its_levels() -> None:
    assert set(JURISDICTION_LEVELS) == set(Role)


@pytest.mark.parametrize(("role", "code"), _cases(allowed=True), ids=str)
def test_a_role_may_hold_a_jurisdiction_of_its_level(role: Role, code: str) -> None:
    check_jurisdiction_level(role, code, regions())


@pytest.mark.parametrize(("role", "code"), _cases(allowed=False), ids=str)
def test_a_role_is_refused_a_jurisdiction_of_another_level(role: Role, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_jurisdiction_level(role, code, regions())
    assert info.value.code == "jurisdiction_level_mismatch"
    assert info.value.details["role"] == str(role)
    assert info.value.details["jurisdiction"] == code
    assert info.value.details["allowed"] == sorted(JURISDICTION_LEVELS[role])


def test_every_level_of_the_region_table_is_checked() -> None:
    """Every division in the table is accepted for some role and refused for another."""
    for region in regions():
        holders = [
            role for role in Role
            if not _refused(role, region.code)
        ]
        assert R.AUDITOR in holders, region.code
        assert len(holders) < len(Role), region.code


def _refused(role: Role, code: str) -> bool:
    try:
        check_jurisdiction_level(role, code, regions())
    except InvalidInput:
        return True
    return False


def test_the_refusal_names_the_role_and_the_level() -> None:
    with pytest.raises(InvalidInput) as info:
        check_jurisdiction_level(R.COUNTY, PROVINCE, regions())
    assert info.value.kind == ErrorKind.INVALID
    assert info.value.details["level"] == ["province"]
    assert "role county" in info.value.message
    assert "county-level" in info.value.message
    assert "350000" in info.value.message
    assert "province-level" in info.value.message


@pytest.mark.parametrize("code", ["440300", "359999", "", "35", "3502001", "abcdef"])
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_a_jurisdiction_not_in_the_region_table_is_unknown(role: Role, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_jurisdiction_level(role, code, regions())
    assert info.value.code == "unknown_jurisdiction"
    assert info.value.details == {"role": str(role), "jurisdiction": code}


def test_the_demo_users_tokens_hold_consistent_claims() -> None:
    """`cluster-ledger serve` prints a token for each demo user: the API must accept them."""
    from api.cli.core import DEMO_USERS

    assert {role for _, role, _, _ in DEMO_USERS} == set(Role)
    for _, role, jurisdiction, _ in DEMO_USERS:
        check_jurisdiction_level(role, jurisdiction, regions())
