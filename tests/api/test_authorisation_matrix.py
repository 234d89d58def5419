"""Every endpoint x every role, with the exact status.

Each command is tried in both programmes on a case in the state where the step is valid, by
users whose jurisdiction covers the case, so that a refusal can only come from the role. The
roles that may act are written out by hand here (from DOMAIN.md's actor table) and must pass
authorisation (usually with 200/201, the event written); every other role must get 403 with
the exact problem code. The meta-tests below fail if a route of this API, or a command of a
programme in the permission table, is missing from the matrix, or if the hand-written roles
disagree with `domain.permissions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar.testing import TestClient

from domain.actors import Role
from domain.commands import Command
from domain.facts import Ground
from domain.rulebook import Programme
from infra.application import ClusterLedger
from infra.rules import load_programmes
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    QUANZHOU,
    SIMING,
    XIAMEN,
    certified_fj,
    certified_xm,
    fj_dossier,
    meta,
    plan_lines,
    xm_dossier,
)

Auth = Callable[..., dict[str, str]]
Setup = Callable[[ClusterLedger], tuple[UUID | None, int]]
FJ, XM = Programme.FJ, Programme.XM
ROLES = tuple(Role)
YEAR_ONE_FEN = 100_000_000

# A jurisdiction per role that covers the programme's demo county: refusals are by role only.
JURISDICTION = {
    FJ: {
        Role.COUNTY: JINJIANG,
        Role.CITY: QUANZHOU,
        Role.PROVINCE: FJ_PROVINCE,
        Role.MIIT_RECORDER: QUANZHOU,
        Role.OPERATING_UNIT: JINJIANG,
        Role.AUDITOR: FJ_PROVINCE,
        Role.ADMIN: FJ_PROVINCE,
    },
    XM: {
        Role.COUNTY: SIMING,
        Role.CITY: XIAMEN,
        Role.PROVINCE: FJ_PROVINCE,
        Role.MIIT_RECORDER: XIAMEN,
        Role.OPERATING_UNIT: SIMING,
        Role.AUDITOR: FJ_PROVINCE,
        Role.ADMIN: FJ_PROVINCE,
    },
}


def d(year: int, month: int, day: int) -> date:
    return date(year, month, day)


# ---- case states, driven through the application service ------------------------------------


def no_case(_: ClusterLedger) -> tuple[UUID | None, int]:
    return None, 0


def fj_applied(ledger: ClusterLedger) -> tuple[UUID, int]:
    result = ledger.issue(
        Command.APPLY, None, meta("county", JINJIANG, d(2023, 3, 1)), None, dossier=fj_dossier()
    )
    return result.cluster_id, 1


def fj_recommended(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_applied(ledger)
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", QUANZHOU, d(2023, 4, 3)), v, onsite_verified=True
    )
    return cid, v + 1


def fj_shortlisted(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_recommended(ledger)
    ledger.issue(
        Command.SHORTLIST, cid, meta("province", FJ_PROVINCE, d(2023, 5, 4), user_id="prov-a"), v
    )
    return cid, v + 1


def fj_objected(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_shortlisted(ledger)
    ledger.issue(
        Command.RAISE_OBJECTION, cid,
        meta("province", FJ_PROVINCE, d(2023, 5, 5), user_id="prov-a"),
        v,
        subject="certification",
        summary="异议：产值数据存疑",
    )
    return cid, v + 1


def fj_certified(ledger: ClusterLedger) -> tuple[UUID, int]:
    return certified_fj(ledger), 4


def fj_renewal_requested(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_certified(ledger)
    ledger.issue(Command.REQUEST_RENEWAL, cid, meta("county", JINJIANG, d(2026, 3, 1)), v)
    return cid, v + 1


def fj_revoked(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_certified(ledger)
    ledger.issue(
        Command.REVOKE, cid,
        meta(
            "province",
            FJ_PROVINCE,
            d(2025, 9, 24),
            user_id="prov-c",
            document_number="闽工信〔2025〕77号",
            comment="重大安全事故",
        ),
        v,
        ground=Ground.MAJOR_INCIDENT,
        received_on=d(2025, 9, 26),
    )
    return cid, v + 1


def fj_appealed(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = fj_revoked(ledger)
    ledger.issue(
        Command.APPEAL, cid, meta("county", JINJIANG, d(2025, 10, 9), comment="事故已整改"), v
    )
    return cid, v + 1


def xm_applied(ledger: ClusterLedger) -> tuple[UUID, int]:
    result = ledger.issue(
        Command.APPLY, None, meta("county", SIMING, d(2024, 12, 2)), None, dossier=xm_dossier()
    )
    return result.cluster_id, 1


def xm_recommended(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_applied(ledger)
    ledger.issue(
        Command.RECOMMEND, cid, meta("city", XIAMEN, d(2024, 12, 16)), v, onsite_verified=True
    )
    return cid, v + 1


def xm_certified(ledger: ClusterLedger) -> tuple[UUID, int]:
    return certified_xm(ledger), 3


def xm_planned(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_certified(ledger)
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN, cid,
        meta("operating_unit", SIMING, d(2025, 2, 10)),
        v,
        funding_year=1,
        lines=plan_lines(YEAR_ONE_FEN),
    )
    return cid, v + 1


def xm_reviewed(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_planned(ledger)
    ledger.issue(
        Command.REVIEW_FUND_USE_PLAN,
        cid,
        meta("county", SIMING, d(2025, 2, 20)),
        v,
        funding_year=1,
        passed=True,
    )
    return cid, v + 1


def xm_approved(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_reviewed(ledger)
    ledger.issue(
        Command.APPROVE_SUBSIDY, cid,
        meta("city", XIAMEN, d(2025, 3, 3), user_id="city-approver"),
        v,
        funding_year=1,
        amount_fen=YEAR_ONE_FEN,
    )
    return cid, v + 1


def xm_objected(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_approved(ledger)
    ledger.issue(
        Command.RAISE_OBJECTION, cid,
        meta("city", XIAMEN, d(2025, 3, 5), user_id="city-clerk"),
        v,
        subject="subsidy:1",
        summary="异议：经费用途不明",
    )
    return cid, v + 1


def xm_paid(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_approved(ledger)
    ledger.issue(
        Command.PAY_SUBSIDY, cid,
        meta("city", XIAMEN, d(2025, 3, 20), user_id="city-treasurer"),
        v,
        funding_year=1,
        amount_fen=YEAR_ONE_FEN,
        voucher=f"V-{cid.hex[:16]}",
    )
    return cid, v + 1


def xm_audit_finding(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_paid(ledger)
    ledger.issue(
        Command.RECORD_AUDIT_FINDING, cid,
        meta("city", XIAMEN, d(2026, 6, 1), user_id="city-auditor-desk"),
        v,
        summary="部分票据缺失",
        amount_questioned_fen=1_000_000,
    )
    return cid, v + 1


def xm_initial_score(ledger: ClusterLedger) -> tuple[UUID, int]:
    from decimal import Decimal

    from domain.facts import ScoreStage

    cid, v = xm_certified(ledger)
    ledger.issue(
        Command.SCORE, cid,
        meta("county", SIMING, d(2026, 2, 10)),
        v,
        year=2025,
        stage=ScoreStage.DISTRICT_INITIAL,
        score=Decimal(85),
    )
    return cid, v + 1


def xm_renewal_requested(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_certified(ledger)
    ledger.issue(Command.REQUEST_RENEWAL, cid, meta("county", SIMING, d(2027, 12, 1)), v)
    return cid, v + 1


def xm_revoked(ledger: ClusterLedger) -> tuple[UUID, int]:
    cid, v = xm_certified(ledger)
    ledger.issue(
        Command.REVOKE, cid,
        meta(
            "miit_recorder",
            XIAMEN,
            d(2026, 1, 5),
            user_id="miit-a",
            document_number="工信部企业函〔2026〕3号",
            comment="重大安全事故",
        ),
        v,
        ground=Ground.MAJOR_INCIDENT,
        received_on=d(2026, 1, 7),
    )
    return cid, v + 1


# ---- the matrix -------------------------------------------------------------------------------


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint in one programme."""

    name: str
    method: str
    path: str  # with {cid}
    programme: Programme
    setup: Setup
    body: Callable[[Role], dict[str, Any]] | None = None
    command: Command | None = None
    # role -> (status, problem code or None) for every role that passes authorisation
    allowed: dict[Role, tuple[int, str | None]]
    setup_for: dict[Role, Setup] = {}  # a role-specific state (e.g. the city's final score)
    admin_only: bool = False


def body(**facts: Any) -> Callable[[Role], dict[str, Any]]:
    return lambda _role: facts


OK: tuple[int, str | None] = (200, None)
CREATED: tuple[int, str | None] = (201, None)
EVERY_ROLE_READS: dict[Role, tuple[int, str | None]] = dict.fromkeys(ROLES, OK)
CASE_PATH = "/api/clusters/{cid}"

XM_ONLY = {
    Command.SCORE,
    Command.SUBMIT_FUND_USE_PLAN,
    Command.REVIEW_FUND_USE_PLAN,
    Command.APPROVE_SUBSIDY,
    Command.PAY_SUBSIDY,
    Command.RECORD_AUDIT_FINDING,
    Command.CONFIRM_RECTIFICATION,
}


def _score_body(role: Role) -> dict[str, Any]:
    stage = "district_initial" if role == Role.COUNTY else "city_final"
    on = "2026-02-10" if role == Role.COUNTY else "2026-03-10"
    return {"effective_date": on, "year": 2025, "stage": stage, "score": "85"}


def command_cases() -> list[Case]:
    """Every command, in both programmes."""
    s, c = Role, []
    fj_apply = {"effective_date": "2023-03-01", "dossier": msgspec.to_builtins(fj_dossier())}
    xm_apply = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    c += [
        Case(
            name="apply_for_certification",
            method="POST",
            path="/api/clusters",
            programme=FJ,
            setup=no_case,
            command=Command.APPLY,
            body=body(**fj_apply),
            allowed={s.COUNTY: CREATED},
        ),
        Case(
            name="apply_for_certification",
            method="POST",
            path="/api/clusters",
            programme=XM,
            setup=no_case,
            command=Command.APPLY,
            body=body(**xm_apply),
            allowed={s.COUNTY: CREATED},
        ),
    ]

    def both(
        name: str,
        path: str,
        command: Command,
        fj: tuple[Setup, Callable[[Role], dict[str, Any]], dict[Role, tuple[int, str | None]]],
        xm: tuple[Setup, Callable[[Role], dict[str, Any]], dict[Role, tuple[int, str | None]]],
        setup_for: dict[Programme, dict[Role, Setup]] | None = None,
    ) -> None:
        for programme, (setup, make_body, allowed) in ((FJ, fj), (XM, xm)):
            c.append(
                Case(
                    name=name,
                    method="POST",
                    path=CASE_PATH + path,
                    programme=programme,
                    setup=setup,
                    body=make_body,
                    command=command,
                    allowed=allowed,
                    setup_for=(setup_for or {}).get(programme, {}),
                )
            )

    both(
        "recommend",
        "/recommendation",
        Command.RECOMMEND,
        (fj_applied, body(effective_date="2023-04-03", onsite_verified=True), {s.CITY: OK}),
        (xm_applied, body(effective_date="2024-12-16", onsite_verified=True), {s.CITY: OK}),
    )
    both(
        "withdraw",
        "/withdrawal",
        Command.WITHDRAW,
        (fj_applied, body(effective_date="2023-04-03", comment="主动撤回"), {s.COUNTY: OK}),
        (xm_applied, body(effective_date="2024-12-16", comment="主动撤回"), {s.COUNTY: OK}),
    )
    both(
        "decline_to_recommend",
        "/decline",
        Command.DECLINE,
        (fj_applied, body(effective_date="2023-04-03", comment="产值未达标"), {s.CITY: OK}),
        (xm_applied, body(effective_date="2024-12-16", comment="产值未达标"), {s.CITY: OK}),
    )
    both(
        "shortlist",
        "/shortlist",
        Command.SHORTLIST,
        (fj_recommended, body(effective_date="2023-05-04"), {s.PROVINCE: OK}),
        (xm_recommended, body(effective_date="2025-01-05"), {}),
    )
    both(
        "raise_objection",
        "/objections",
        Command.RAISE_OBJECTION,
        (
            fj_shortlisted,
            body(effective_date="2023-05-05", summary="产值数据存疑"),
            {s.PROVINCE: OK},
        ),
        (
            xm_approved,
            body(effective_date="2025-03-05", subject="subsidy:1", summary="经费用途不明"),
            {s.CITY: OK},
        ),
    )
    both(
        "resolve_objection",
        "/objections/1/resolution",
        Command.RESOLVE_OBJECTION,
        (
            fj_objected,
            body(effective_date="2023-05-08", upheld=False, comment="经核实无误"),
            {s.PROVINCE: OK},
        ),
        (
            xm_objected,
            body(effective_date="2025-03-06", upheld=False, comment="经核实无误"),
            {s.CITY: OK},
        ),
    )
    both(
        "certify",
        "/certification",
        Command.CERTIFY,
        (
            fj_shortlisted,
            body(effective_date="2023-05-22", document_number="闽工信函〔2023〕118号"),
            {s.PROVINCE: OK},
        ),
        (
            xm_recommended,
            body(effective_date="2025-01-20", document_number="工信部企业函〔2025〕12号"),
            {s.MIIT_RECORDER: OK},
        ),
    )
    both(
        "reject",
        "/rejection",
        Command.REJECT,
        (fj_recommended, body(effective_date="2023-05-10", comment="复核未通过"), {s.PROVINCE: OK}),
        (
            xm_recommended,
            body(effective_date="2025-01-20", comment="未入选"),
            {s.MIIT_RECORDER: OK},
        ),
    )
    both(
        "file_annual_report",
        "/annual-reports",
        Command.FILE_ANNUAL_REPORT,
        (fj_certified, body(effective_date="2024-03-01", year=2023), {s.COUNTY: OK, s.CITY: OK}),
        (
            xm_certified,
            body(effective_date="2026-03-01", year=2025),
            {s.COUNTY: OK, s.OPERATING_UNIT: OK},
        ),
    )
    both(
        "score",
        "/scores",
        Command.SCORE,
        (fj_certified, _score_body, {}),
        (xm_certified, _score_body, {s.COUNTY: OK, s.CITY: OK}),
        setup_for={XM: {s.CITY: xm_initial_score}},
    )
    both(
        "submit_fund_use_plan",
        "/fund-use-plans",
        Command.SUBMIT_FUND_USE_PLAN,
        (
            fj_certified,
            body(
                effective_date="2025-02-10",
                funding_year=1,
                lines=[{"category": "brand_building", "amount_fen": 5}],
            ),
            {},
        ),
        (
            xm_certified,
            body(
                effective_date="2025-02-10",
                funding_year=1,
                lines=[{"category": "brand_building", "amount_fen": YEAR_ONE_FEN}],
            ),
            {s.OPERATING_UNIT: OK},
        ),
    )
    both(
        "review_fund_use_plan",
        "/fund-use-plans/1/review",
        Command.REVIEW_FUND_USE_PLAN,
        (fj_certified, body(effective_date="2025-02-20", passed=True), {}),
        (xm_planned, body(effective_date="2025-02-20", passed=True), {s.COUNTY: OK}),
    )
    both(
        "approve_subsidy",
        "/subsidy-approvals",
        Command.APPROVE_SUBSIDY,
        (fj_certified, body(effective_date="2025-03-03", funding_year=1, amount_fen=5), {}),
        (
            xm_reviewed,
            body(effective_date="2025-03-03", funding_year=1, amount_fen=YEAR_ONE_FEN),
            {s.CITY: OK},
        ),
    )
    both(
        "pay_subsidy",
        "/payments",
        Command.PAY_SUBSIDY,
        (
            fj_certified,
            body(effective_date="2025-03-20", funding_year=1, amount_fen=5, voucher="FJ-NEVER"),
            {},
        ),
        (
            xm_approved,
            lambda _r: {
                "effective_date": "2025-03-20",
                "funding_year": 1,
                "amount_fen": YEAR_ONE_FEN,
                "voucher": f"M-{_uuid()}",
            },
            {s.CITY: OK},
        ),
    )
    both(
        "report_major_change",
        "/major-changes",
        Command.REPORT_MAJOR_CHANGE,
        (
            fj_certified,
            body(effective_date="2024-06-01", kind="spatial_scope", new_value="扩区"),
            {s.COUNTY: OK},
        ),
        (
            xm_certified,
            body(effective_date="2025-06-01", kind="spatial_scope", new_value="扩区"),
            {s.COUNTY: OK, s.OPERATING_UNIT: OK},
        ),
    )
    both(
        "request_renewal",
        "/renewal",
        Command.REQUEST_RENEWAL,
        (fj_certified, body(effective_date="2026-03-01"), {s.COUNTY: OK}),
        (xm_certified, body(effective_date="2027-12-01"), {s.COUNTY: OK}),
    )
    both(
        "decide_renewal",
        "/renewal/decision",
        Command.DECIDE_RENEWAL,
        (
            fj_renewal_requested,
            body(
                effective_date="2026-05-10",
                passed=True,
                plan_targets_met=True,
                document_number="闽工信〔2026〕5号",
            ),
            {s.PROVINCE: OK},
        ),
        (
            xm_renewal_requested,
            body(
                effective_date="2028-01-10", passed=True, document_number="工信部企业函〔2028〕1号"
            ),
            {s.MIIT_RECORDER: OK},
        ),
    )
    both(
        "revoke",
        "/revocation",
        Command.REVOKE,
        (
            fj_certified,
            body(
                effective_date="2025-09-24",
                ground=Ground.MAJOR_INCIDENT,
                received_on="2025-09-26",
                document_number="闽工信〔2025〕77号",
                comment="重大安全事故",
            ),
            {s.PROVINCE: OK},
        ),
        (
            xm_certified,
            body(
                effective_date="2026-01-05",
                ground=Ground.MAJOR_INCIDENT,
                received_on="2026-01-07",
                document_number="工信部企业函〔2026〕3号",
                comment="重大安全事故",
            ),
            {s.MIIT_RECORDER: OK},
        ),
    )
    both(
        "appeal",
        "/appeals",
        Command.APPEAL,
        (fj_revoked, body(effective_date="2025-10-09", comment="事故已整改"), {s.COUNTY: OK}),
        # authorised, but the XM rules provide no appeal
        (
            xm_revoked,
            body(effective_date="2026-01-10", comment="申诉"),
            {s.COUNTY: (422, "no_appeal_route")},
        ),
    )
    both(
        "decide_appeal",
        "/appeals/decision",
        Command.DECIDE_APPEAL,
        (
            fj_appealed,
            body(effective_date="2025-11-10", outcome="overturned", comment="撤销不当"),
            {s.PROVINCE: OK},
        ),
        # authorised, but no appeal can be pending in XM
        (
            xm_revoked,
            body(effective_date="2026-02-10", outcome="upheld", comment="维持"),
            {s.MIIT_RECORDER: (409, "no_appeal_pending")},
        ),
    )
    both(
        "record_audit_finding",
        "/audit-findings",
        Command.RECORD_AUDIT_FINDING,
        (fj_certified, body(effective_date="2026-06-01", summary="票据缺失"), {}),
        (xm_paid, body(effective_date="2026-06-01", summary="部分票据缺失"), {s.CITY: OK}),
    )
    both(
        "confirm_rectification",
        "/audit-findings/1/rectification-confirmations",
        Command.CONFIRM_RECTIFICATION,
        (fj_certified, body(effective_date="2026-07-01"), {}),
        (xm_audit_finding, body(effective_date="2026-07-01"), {s.CITY: OK, s.COUNTY: OK}),
    )
    return c


def read_cases() -> list[Case]:
    indicators = msgspec.to_builtins(fj_dossier().indicators)
    return [
        Case(
            name="get_cluster",
            method="GET",
            path=CASE_PATH,
            programme=XM,
            setup=xm_certified,
            allowed=EVERY_ROLE_READS,
        ),
        Case(
            name="get_cluster_events",
            method="GET",
            path=CASE_PATH + "/events",
            programme=FJ,
            setup=fj_certified,
            allowed=EVERY_ROLE_READS,
        ),
        Case(
            name="precheck_eligibility",
            method="POST",
            path="/api/eligibility",
            programme=FJ,
            setup=no_case,
            body=body(indicators=indicators, rulebook_version="FJ-2022"),
            allowed=EVERY_ROLE_READS,
        ),
        Case(
            name="get_calendar_year",
            method="GET",
            path="/api/calendar/2150",
            programme=FJ,
            setup=no_case,
            allowed=EVERY_ROLE_READS,
        ),
        Case(
            name="set_calendar_day",
            method="PUT",
            path="/api/calendar/days/2150-01-05",
            programme=FJ,
            setup=no_case,
            body=body(working=False, note="matrix test"),
            allowed={Role.ADMIN: OK},
            admin_only=True,
        ),
        Case(
            name="declare_official_year",
            method="PUT",
            path="/api/calendar/official-years/2150",
            programme=FJ,
            setup=no_case,
            allowed={Role.ADMIN: OK},
            admin_only=True,
        ),
    ]


def _uuid() -> str:
    import uuid

    return uuid.uuid4().hex


ALL_CASES = command_cases() + read_cases()
_shared: dict[tuple[str, Programme], tuple[UUID | None, int]] = {}


def _state(case: Case, role: Role, ledger: ClusterLedger) -> tuple[UUID | None, int]:
    """Roles that may act get a fresh case (they change it); refused roles share one."""
    if role in case.allowed:
        return case.setup_for.get(role, case.setup)(ledger)
    key = (case.name, case.programme)
    if key not in _shared:
        _shared[key] = case.setup(ledger)
    return _shared[key]


def _expected_refusal(case: Case, role: Role) -> str:
    if case.admin_only or case.command is None:
        return "role_not_permitted"
    programmes = load_programmes()
    if role in programmes.issuable_roles(case.command) and not programmes.allowed_roles(
        case.command, case.programme
    ):
        return "command_not_in_programme"  # the guard lets it by; the programme has no such step
    return "role_not_permitted"


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: f"{c.name}-{c.programme}")
def test_endpoint_answers_each_role_with_the_exact_status(
    client: TestClient[Any], auth: Auth, case: Case, role: Role
) -> None:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    cid, version = _state(case, role, ledger)
    headers = auth(role, JURISDICTION[case.programme][role])
    if cid is not None and case.method == "POST" and case.command is not None:
        headers["If-Match"] = f'"{version}"'
    kwargs: dict[str, Any] = {"headers": headers}
    if case.body is not None:
        kwargs["json"] = case.body(role)
    response = client.request(case.method, case.path.format(cid=cid), **kwargs)

    status, code = case.allowed.get(role, (403, _expected_refusal(case, role)))
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code
    if status in (200, 201) and case.command is not None:
        written = response.json()
        assert written["version"] == version + 1
        assert ledger.get_cluster(UUID(written["cluster_id"])).version == version + 1
    if status == 403 and cid is not None:
        assert ledger.get_cluster(cid).version == version  # a refusal writes nothing


# ---- the matrix cannot pass vacuously ----------------------------------------------------------

MY_ROUTE_MODULES = (
    "api.routes.clusters",
    "api.routes.commands",
    "api.routes.eligibility",
    "api.routes.calendar",
)


def test_matrix_covers_every_route_of_the_api() -> None:
    import importlib

    handlers = [h for m in MY_ROUTE_MODULES for h in importlib.import_module(m).ROUTES]
    covered = {case.name for case in ALL_CASES}
    names = {h.handler_name for h in handlers}
    assert len(handlers) == 29
    assert names == covered


def test_matrix_covers_every_command_in_both_programmes() -> None:
    pairs = {(case.command, case.programme) for case in ALL_CASES if case.command is not None}
    assert pairs == {(command, programme) for command in Command for programme in (FJ, XM)}


def test_matrix_roles_agree_with_the_permission_table() -> None:
    for case in ALL_CASES:
        if case.command is None:
            continue
        expected = set(load_programmes().allowed_roles(case.command, case.programme))
        assert set(case.allowed) == expected, (case.name, case.programme)
        assert Role.AUDITOR not in case.allowed  # the auditor never writes
        assert Role.ADMIN not in case.allowed  # the administrator takes no case decisions


def test_outside_jurisdiction_is_403_even_for_the_right_role(
    client: TestClient[Any], auth: Auth
) -> None:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    cid, version = xm_applied(ledger)
    response = client.post(
        f"/api/clusters/{cid}/recommendation",
        json={"effective_date": "2024-12-16", "onsite_verified": True},
        headers=auth("city", QUANZHOU, **{"If-Match": f'"{version}"'}),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "outside_jurisdiction"
    assert ledger.get_cluster(cid).version == version


def test_county_cannot_apply_for_another_county(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/clusters",
        json={"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())},
        headers=auth("county", "350211"),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "outside_jurisdiction"


def test_reads_outside_jurisdiction_are_403(client: TestClient[Any], auth: Auth) -> None:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    cid, _ = xm_certified(ledger)
    for role, jurisdiction in (("city", QUANZHOU), ("county", JINJIANG), ("auditor", "350500")):
        response = client.get(f"/api/clusters/{cid}", headers=auth(role, jurisdiction))
        assert response.status_code == 403, (role, jurisdiction)
        assert response.json()["code"] == "outside_jurisdiction"


def test_unauthorised_role_is_refused_before_its_body_is_read(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.post(
        "/api/clusters", content=b"{not json", headers=auth("auditor", FJ_PROVINCE)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_not_permitted"
