"""Who may issue which command, per programme (DOMAIN.md "Actors"), and only inside their
jurisdiction (GB/T 2260 codes; Pingtan counts as a city for FJ). Pure: no database."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

from domain.actors import Actor, Role
from domain.commands import Command
from domain.errors import ErrorKind, InvalidInput, NotAllowed
from domain.permissions import READ_ROLES, check_may_act, check_may_read
from domain.programmes import Programmes
from domain.regions import Regions, parse_regions
from domain.rulebook import Programme
from tests.factories import FJ_PROVINCE, JINJIANG, QUANZHOU, SIMING, XIAMEN, actor

FJ, XM = Programme.FJ, Programme.XM
C, R = Command, Role
FUZHOU, PINGTAN, NANAN, SHENZHEN = "350100", "350128", "350583", "440300"

# What the sources say, restated independently of domain/rules/programmes.toml.
EXPECTED: Mapping[Programme, Mapping[Command, frozenset[Role]]] = {
    FJ: {
        C.APPLY: frozenset({R.COUNTY}),  # Art. 11: the county is the applicant
        C.WITHDRAW: frozenset({R.COUNTY}),  # Art. 10: 申报自愿
        C.RECOMMEND: frozenset({R.CITY}),  # Art. 12
        C.DECLINE: frozenset({R.CITY}),  # Art. 12: 择优推荐
        C.SHORTLIST: frozenset({R.PROVINCE}),  # Art. 13
        C.RAISE_OBJECTION: frozenset({R.PROVINCE}),  # Art. 13: the province runs the notice
        C.RESOLVE_OBJECTION: frozenset({R.PROVINCE}),
        C.CERTIFY: frozenset({R.PROVINCE}),  # Art. 13
        C.REJECT: frozenset({R.PROVINCE}),
        C.FILE_ANNUAL_REPORT: frozenset({R.COUNTY, R.CITY}),  # Art. 15: the city collects
        C.REPORT_MAJOR_CHANGE: frozenset({R.COUNTY}),  # Art. 16(4)
        C.REQUEST_RENEWAL: frozenset({R.COUNTY}),  # Art. 14
        C.DECIDE_RENEWAL: frozenset({R.PROVINCE}),  # Art. 14
        C.REVOKE: frozenset({R.PROVINCE}),  # Art. 16
        C.APPEAL: frozenset({R.COUNTY}),  # Art. 16: 申报主体
        C.DECIDE_APPEAL: frozenset({R.PROVINCE}),  # Art. 16
    },
    XM: {
        C.APPLY: frozenset({R.COUNTY}),  # Art. 6
        C.WITHDRAW: frozenset({R.COUNTY}),  # Art. 5: 遵循自愿原则
        C.RECOMMEND: frozenset({R.CITY}),  # Art. 7
        C.DECLINE: frozenset({R.CITY}),
        C.RAISE_OBJECTION: frozenset({R.CITY}),  # Art. 15(3): the city's subsidy notice
        C.RESOLVE_OBJECTION: frozenset({R.CITY}),
        C.CERTIFY: frozenset({R.MIIT_RECORDER}),  # Art. 7-8: MIIT decides, the city records
        C.REJECT: frozenset({R.MIIT_RECORDER}),
        C.FILE_ANNUAL_REPORT: frozenset({R.COUNTY, R.OPERATING_UNIT}),  # Art. 9
        C.SCORE: frozenset({R.COUNTY, R.CITY}),  # Art. 10: district initial, city final
        C.SUBMIT_FUND_USE_PLAN: frozenset({R.OPERATING_UNIT}),  # Art. 15(1)
        C.REVIEW_FUND_USE_PLAN: frozenset({R.COUNTY}),  # Art. 15(2)
        C.APPROVE_SUBSIDY: frozenset({R.CITY}),  # Art. 15(3)
        C.PAY_SUBSIDY: frozenset({R.CITY}),
        C.REPORT_MAJOR_CHANGE: frozenset({R.COUNTY, R.OPERATING_UNIT}),  # Art. 6, 10(3)
        C.REQUEST_RENEWAL: frozenset({R.COUNTY}),  # Art. 8
        C.DECIDE_RENEWAL: frozenset({R.MIIT_RECORDER}),  # Art. 8
        C.REVOKE: frozenset({R.MIIT_RECORDER}),
        C.APPEAL: frozenset({R.COUNTY}),
        C.DECIDE_APPEAL: frozenset({R.MIIT_RECORDER}),
        C.RECORD_AUDIT_FINDING: frozenset({R.CITY}),  # Art. 16: the bureau commissions it
        C.CONFIRM_RECTIFICATION: frozenset({R.CITY, R.COUNTY}),  # Art. 17: both confirm
    },
}

# A case of each programme, and an actor of each role able to reach it.
CASE_COUNTY = {FJ: JINJIANG, XM: SIMING}
HOME = {
    FJ: {R.COUNTY: JINJIANG, R.CITY: QUANZHOU, R.PROVINCE: FJ_PROVINCE,
         R.MIIT_RECORDER: QUANZHOU, R.OPERATING_UNIT: JINJIANG, R.AUDITOR: QUANZHOU,
         R.ADMIN: FJ_PROVINCE},
    XM: {R.COUNTY: SIMING, R.CITY: XIAMEN, R.PROVINCE: FJ_PROVINCE,
         R.MIIT_RECORDER: XIAMEN, R.OPERATING_UNIT: SIMING, R.AUDITOR: XIAMEN,
         R.ADMIN: FJ_PROVINCE},
}


@cache
def regions() -> Regions:
    path = Path(__file__).resolve().parents[2] / "domain" / "rules" / "regions-fj.toml"
    return parse_regions(path.read_bytes(), source_name=path.name)


@cache
def programmes() -> Programmes:
    from infra.rules import load_programmes

    return load_programmes()


def allowed_roles(command: Command, programme: Programme) -> frozenset[Role]:
    return programmes().allowed_roles(command, programme)


def act(who: Actor, command: Command, programme: Programme, county: str) -> None:
    check_may_act(who, command, programme, county, regions(), programmes())


def allowed_cases() -> list[tuple[Programme, Command, Role]]:
    return [
        (programme, command, role)
        for programme, table in EXPECTED.items()
        for command, roles in table.items()
        for role in sorted(roles)
    ]


def denied_cases() -> list[tuple[Programme, Command, Role]]:
    return [
        (programme, command, role)
        for programme, table in EXPECTED.items()
        for command, roles in table.items()
        for role in Role
        if role not in roles
    ]


def missing_cases() -> list[tuple[Programme, Command]]:
    return [
        (programme, command)
        for programme in Programme
        for command in Command
        if command not in EXPECTED.get(programme, {})
    ]


def case_id(value: object) -> str:
    return str(value)


# ---- the table ------------------------------------------------------------------------------


@pytest.mark.parametrize("programme", [FJ, XM], ids=case_id)
@pytest.mark.parametrize("command", list(Command), ids=case_id)
def test_permission_table_matches_the_sources(programme: Programme, command: Command) -> None:
    assert allowed_roles(command, programme) == EXPECTED[programme].get(command, frozenset())


def test_every_command_is_a_step_of_some_programme() -> None:
    assert all(programmes().issuable_roles(command) for command in Command)


def test_national_standard_is_no_programme_for_any_command() -> None:
    assert all(not allowed_roles(command, Programme.NATIONAL) for command in Command)


def test_every_role_may_read() -> None:
    assert frozenset(Role) == READ_ROLES


# ---- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("programme", "command", "role"), allowed_cases(), ids=case_id)
def test_allowed_role_may_act_inside_its_jurisdiction(
    programme: Programme, command: Command, role: Role
) -> None:
    act(actor(role, HOME[programme][role]), command, programme, CASE_COUNTY[programme])


@pytest.mark.parametrize(("programme", "command", "role"), denied_cases(), ids=case_id)
def test_other_roles_are_refused_role_not_permitted(
    programme: Programme, command: Command, role: Role
) -> None:
    who = actor(role, HOME[programme][role])
    with pytest.raises(NotAllowed) as info:
        act(who, command, programme, CASE_COUNTY[programme])
    assert info.value.code == "role_not_permitted"
    assert info.value.details["allowed"] == sorted(EXPECTED[programme][command])


@pytest.mark.parametrize(("programme", "command"), missing_cases(), ids=case_id)
def test_command_outside_the_programme_is_refused(programme: Programme, command: Command) -> None:
    who = actor(R.PROVINCE, FJ_PROVINCE)
    with pytest.raises(NotAllowed) as info:
        act(who, command, programme, SIMING)
    assert info.value.code == "command_not_in_programme"


@pytest.mark.parametrize("programme", [FJ, XM], ids=case_id)
@pytest.mark.parametrize("command", list(Command), ids=case_id)
def test_auditor_changes_nothing(programme: Programme, command: Command) -> None:
    assert R.AUDITOR not in allowed_roles(command, programme)


@pytest.mark.parametrize("programme", [FJ, XM], ids=case_id)
@pytest.mark.parametrize("command", list(Command), ids=case_id)
def test_administrator_takes_no_case_decision(programme: Programme, command: Command) -> None:
    assert R.ADMIN not in allowed_roles(command, programme)


def test_refusal_is_a_forbidden_kind_of_error() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.AUDITOR, QUANZHOU), C.CERTIFY, FJ, JINJIANG)
    assert info.value.kind == ErrorKind.FORBIDDEN


def test_role_is_checked_before_jurisdiction() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.AUDITOR, XIAMEN), C.CERTIFY, FJ, JINJIANG)
    assert info.value.code == "role_not_permitted"


# ---- jurisdiction -----------------------------------------------------------------------------


def test_city_acts_on_a_county_of_its_own_city() -> None:
    act(actor(R.CITY, QUANZHOU), C.RECOMMEND, FJ, JINJIANG)


def test_city_is_refused_on_a_county_of_another_city() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.CITY, XIAMEN), C.RECOMMEND, FJ, JINJIANG)
    assert info.value.code == "outside_jurisdiction"
    assert info.value.details == {"jurisdiction": XIAMEN, "county_code": JINJIANG}


def test_county_acts_on_itself() -> None:
    act(actor(R.COUNTY, JINJIANG), C.APPLY, FJ, JINJIANG)


def test_county_is_refused_on_a_neighbouring_county() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.COUNTY, NANAN), C.APPLY, FJ, JINJIANG)
    assert info.value.code == "outside_jurisdiction"


def test_district_is_refused_on_the_city_it_belongs_to_as_a_whole() -> None:
    # a Siming user may not act on a Jimei cluster although both lie in Xiamen
    with pytest.raises(NotAllowed) as info:
        act(actor(R.COUNTY, SIMING), C.APPLY, XM, "350211")
    assert info.value.code == "outside_jurisdiction"


@pytest.mark.parametrize("county", [JINJIANG, SIMING, PINGTAN], ids=case_id)
def test_province_acts_on_every_county_of_fujian(county: str) -> None:
    act(actor(R.PROVINCE, FJ_PROVINCE), C.REVOKE, FJ, county)


def test_pingtan_city_level_user_acts_on_a_pingtan_cluster() -> None:
    # FJ preamble and Art. 4: 各设区市（含平潭）
    act(actor(R.CITY, PINGTAN), C.RECOMMEND, FJ, PINGTAN)


def test_fuzhou_city_user_is_refused_on_a_pingtan_cluster() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.CITY, FUZHOU), C.RECOMMEND, FJ, PINGTAN)
    assert info.value.code == "outside_jurisdiction"


def test_unknown_jurisdiction_covers_nothing() -> None:
    with pytest.raises(NotAllowed) as info:
        act(actor(R.PROVINCE, SHENZHEN), C.CERTIFY, FJ, JINJIANG)
    assert info.value.code == "outside_jurisdiction"


def test_unknown_county_of_the_case_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as info:
        act(actor(R.PROVINCE, FJ_PROVINCE), C.CERTIFY, FJ, "359999")
    assert info.value.code == "unknown_region"


def test_miit_recorder_acts_only_on_xiamen_districts() -> None:
    act(actor(R.MIIT_RECORDER, XIAMEN), C.CERTIFY, XM, SIMING)
    with pytest.raises(NotAllowed) as info:
        act(actor(R.MIIT_RECORDER, XIAMEN), C.CERTIFY, XM, JINJIANG)
    assert info.value.code == "outside_jurisdiction"


# ---- reading -----------------------------------------------------------------------------------


def test_auditor_reads_a_cluster_in_scope() -> None:
    check_may_read(actor(R.AUDITOR, XIAMEN), SIMING, regions())


def test_auditor_is_refused_reading_a_cluster_out_of_scope() -> None:
    with pytest.raises(NotAllowed) as info:
        check_may_read(actor(R.AUDITOR, XIAMEN), JINJIANG, regions())
    assert info.value.code == "outside_jurisdiction"


def test_county_is_refused_reading_another_countys_cluster() -> None:
    with pytest.raises(NotAllowed) as info:
        check_may_read(actor(R.COUNTY, SIMING), JINJIANG, regions())
    assert info.value.code == "outside_jurisdiction"
