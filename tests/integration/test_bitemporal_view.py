"""The bitemporal board view equals the fold from the log (`domain.history`) on both axes.

Histories are driven through the real application service (`ClusterLedger`'s commands) into
the real PostgreSQL, projected by the real projector; the view is read with the same
conditions the board's query uses (`projections.queries.valid_sql` / `recorded_sql`) and the
status as the board reads it on a date (`status_on_sql`). The reference is
`domain.history.case_at` over the case's events from the log, read through the same reading
(`board_state`). The funding ledger and the deadlines as of a date are read through the read
API's own queries (`list_funding`, `list_deadlines` with a `BoardHistory`) and compared with
the funding and deadline rows the fold's readings give of the same reconstruction
(`projections.folds.funding_rows` / `deadline_rows` of `case_readings.digest_of`), overdue
read on the date.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import anyio
import asyncpg
import msgspec
import psycopg
import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from domain.cluster import Cluster
from domain.errors import DomainError
from domain.facts import AnnualFigures, AppealOutcome, ChangeKind, Dossier, Ground, ScoreStage
from domain.history import CaseAtDate, LoggedEvent, case_at
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections import board_timeline as timeline
from projections.bitemporal import STATE_COLUMNS, state_from_record
from projections.board_timeline import board_state
from projections.case_readings import digest_of
from projections.folds import Rules, deadline_rows, funding_rows, is_overdue
from projections.positions import wait_for_position
from projections.projection import PROJECTIONS, load_rules
from projections.queries import (
    BoardHistory,
    DeadlineFilters,
    FundingFilters,
    list_deadlines,
    list_funding,
    recorded_sql,
    status_on_sql,
    valid_sql,
)
from projections.rebuild import open_view
from projections.runner import Projector
from projections.schema import VIEWS, create_copy, drop_copy
from projections.text import storable
from tests.factories import (
    FJ_PROVINCE,
    JINJIANG,
    QUANZHOU,
    SIMING,
    XIAMEN,
    Verbs,
    fj_dossier,
    meta,
    plan_lines,
    xm_dossier,
)

TODAY = datetime.now(UTC).date()
RULES: Rules = load_rules()


@pytest.fixture(scope="module")
def ledger(ledger: ClusterLedger) -> Any:
    """The session's ledger, with its commands as methods (`tests.factories.Verbs`)."""
    return Verbs(ledger)


@pytest.fixture(scope="module")
def projector(migrated: ConnectionInfo) -> Iterator[Projector]:
    with Projector(migrated) as running:
        yield running


@pytest.fixture(scope="module")
def db(migrated: ConnectionInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(migrated.url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _settle(ledger: ClusterLedger, conn: ConnectionInfo) -> None:
    head = ledger.recorder.max_notification_id()
    assert head is not None
    assert wait_for_position(conn.url, head, timeout=60)


def _events(ledger: ClusterLedger, cid: UUID) -> list[LoggedEvent]:
    return [
        LoggedEvent(ledger.mapper.to_domain_event(stored))
        for stored in ledger.recorder.select_events(cid)
    ]


def _amounts(events: list[LoggedEvent]) -> dict[str, int]:
    """The case's payments by voucher (storable form), from its `SubsidyPaid` events."""
    return {
        storable(logged.event.voucher_number): logged.event.amount_fen for logged in events
        if isinstance(logged.event, Cluster.SubsidyPaid)
    }


def _literal(day: date) -> str:
    return f"'{day.isoformat()}'::date"


def _view_at(
    db: psycopg.Connection[Any], cid: UUID, as_of: date | None, known_at: datetime | None,
    status_on: date,
) -> list[dict[str, Any]]:
    clauses = [
        "cluster_id = %(cid)s",
        *valid_sql(None if as_of is None else _literal(as_of)),
        *recorded_sql(None if known_at is None else "%(known_at)s"),
    ]
    return db.execute(
        f"SELECT {', '.join(STATE_COLUMNS)}, {status_on_sql(_literal(status_on))} AS read_status "  # noqa: S608
        f"FROM proj_bitemporal WHERE {' AND '.join(clauses)}",
        {"cid": cid, "known_at": known_at},
    ).fetchall()


def assert_view_equals_fold(
    ledger: ClusterLedger, db: psycopg.Connection[Any], cid: UUID, as_of: date | None,
    known_at: datetime | None,
) -> None:
    events = _events(ledger, cid)
    expected = case_at(cid, events, today=TODAY, as_of=as_of, known_at=known_at)
    rows = _view_at(db, cid, as_of, known_at, expected.status_on)
    where = f"as_of={as_of} known_at={known_at and known_at.isoformat()}"
    if not expected.exists:
        assert rows == [], where
        return
    assert expected.case is not None
    assert len(rows) == 1, f"{where}: {len(rows)} rows in force"
    row = rows[0]
    seen = state_from_record(row)
    assert seen == board_state(cid, expected.case, RULES, _amounts(events)), where
    assert row["read_status"] == expected.status, where


def _state_at(
    ledger: ClusterLedger, db: psycopg.Connection[Any], cid: UUID, as_of: date | None,
    known_at: datetime | None = None,
) -> dict[str, Any] | None:
    """The view's row (and status as read on the date), checked against the fold first."""
    assert_view_equals_fold(ledger, db, cid, as_of, known_at)
    status_on = as_of or (known_at.astimezone(UTC).date() if known_at else TODAY)
    rows = _view_at(db, cid, as_of, known_at, status_on)
    return rows[0] if rows else None


# ---- random histories ------------------------------------------------------------------------


class Walk:
    """A random case history through the ledger's commands: each step picks a command that
    the case's state allows, at a date drawn around the latest one (a quarter of them earlier:
    back-dated decisions, late entries, corrections). Refused commands leave no event."""

    def __init__(self, ledger: ClusterLedger, programme: str, rng: random.Random) -> None:
        self.ledger = ledger
        self.programme = programme
        self.rng = rng
        self.step = 0
        if programme == "FJ":
            self.county, self.city, self.decider = JINJIANG, QUANZHOU, ("province", FJ_PROVINCE)
            self.start = date(2023, 3, 1)
            dossier: Dossier = fj_dossier(f"晋江市随机历史{uuid4().hex[:6]}产业集群")
        else:
            self.county, self.city, self.decider = SIMING, XIAMEN, ("miit_recorder", XIAMEN)
            self.start = date(2024, 12, 2)
            dossier = xm_dossier(f"厦门市思明区随机历史{uuid4().hex[:6]}产业集群")
        self.latest = self.start
        self.cid = ledger.apply_for_certification(
            meta("county", self.county, self.start), dossier
        ).cluster_id

    def meta(self, role: str, jurisdiction: str, on: date) -> Any:
        self.step += 1
        return meta(role, jurisdiction, on, user_id=f"u{self.step}-{role}",
                    document_number=f"文{self.step}号", comment=f"第{self.step}步")

    def day(self, after: date | None = None) -> date:
        """A date after `after` (default: the latest so far), or a quarter of the time one
        up to 200 days before it."""
        base = after or self.latest
        if self.rng.random() < 0.25:
            return max(self.start, base - timedelta(days=self.rng.randint(1, 200)))
        return base + timedelta(days=self.rng.randint(1, 150))

    def take(self) -> bool:
        """One step; True if the ledger recorded it."""
        case = self.ledger.get_cluster(self.cid).case
        options = self.options(case)
        if not options:
            return False
        action = self.rng.choice(options)
        try:
            on = action(case)
        except DomainError:
            return False
        self.latest = max(self.latest, on)
        return True

    def options(self, case: Any) -> list[Callable[[Any], date]]:
        """The commands the case's status allows, weighted so that walks get far."""
        fj = self.programme == "FJ"
        certified = [self.report] * 3 + [self.change] * 2 + [self.renew] * 3 + [self.revoke]
        if not fj:
            certified += [self.score] * 5 + [self.fund] * 10
        by_status: dict[str, list[Callable[[Any], date]]] = {
            "applied": [self.recommend],
            "recommended": [self.shortlist] if fj else [self.certify] * 5 + [self.reject],
            "under_notice": [self.certify] * 5 + [self.reject],
            "certified": certified,
            "revoked": [self.appeal, self.decide_appeal] if fj else [],
            "renewal_failed": [self.revoke],
        }
        return by_status.get(str(case.status), [])

    def recommend(self, _case: Any) -> date:
        on = self.day()
        self.ledger.recommend(self.cid, self.meta("city", self.city, on), None,
                              onsite_verified=True)
        return on

    def shortlist(self, _case: Any) -> date:
        on = self.day()
        self.ledger.shortlist(self.cid, self.meta("province", FJ_PROVINCE, on), None)
        return on

    def certify(self, case: Any) -> date:
        on = self.day(case.notice.ends_on if case.notice is not None else None)
        self.ledger.certify(self.cid, self.meta(*self.decider, on), None)
        return on

    def reject(self, case: Any) -> date:
        on = self.day(case.notice.ends_on if case.notice is not None else None)
        self.ledger.reject(self.cid, self.meta(*self.decider, on), None)
        return on

    def report(self, _case: Any) -> date:
        on = self.day()
        role = "city" if self.programme == "FJ" else "operating_unit"
        where = self.city if self.programme == "FJ" else self.county
        self.ledger.file_annual_report(
            self.cid, self.meta(role, where, on), None, year=on.year - 1,
            figures=AnnualFigures(total_output_yuan=5_000_000_000),
        )
        return on

    def score(self, case: Any) -> date:
        on = self.day()
        year = on.year - 1
        assessment = case.assessments.get(year)
        final = assessment is not None and assessment.initial_score is not None
        recorded = assessment is not None and (
            assessment.final_score is not None if final else assessment.initial_score is not None
        )
        role, where = ("city", self.city) if final else ("county", self.county)
        self.ledger.score(
            self.cid, self.meta(role, where, on), None, year=year,
            stage=ScoreStage.CITY_FINAL if final else ScoreStage.DISTRICT_INITIAL,
            score=Decimal(self.rng.randrange(5000, 10001)) / 100,
            failure_grounds=(Ground.MAJOR_INCIDENT,) if self.rng.random() < 0.1 else (),
            correction=recorded,
        )
        return on

    def fund(self, case: Any) -> date:
        funding = case.funding
        year = max(funding) if funding else 1
        current = funding.get(year)
        if current is not None and current.paid_fen >= current.approved_fen > 0 and year < 3:
            year, current = year + 1, None
        if current is None or current.district_passed is False:
            on = self.day()
            self.ledger.submit_fund_use_plan(
                self.cid, self.meta("operating_unit", self.county, on), None,
                funding_year=year, lines=plan_lines(40_000_000),
            )
        elif current.district_passed is None:
            on = self.day()
            self.ledger.review_fund_use_plan(
                self.cid, self.meta("county", self.county, on), None, funding_year=year,
                passed=self.rng.random() < 0.8,
            )
        elif current.approved_by is None:
            on = self.day()
            self.ledger.approve_subsidy(
                self.cid, self.meta("city", self.city, on), None, funding_year=year,
                amount_fen=self.rng.choice([20_000_000, 40_000_000]),
            )
        else:
            on = self.day(current.notice.ends_on if current.notice is not None else None)
            remaining = current.approved_fen - current.paid_fen
            self.ledger.pay_subsidy(
                self.cid, self.meta("city", self.city, on), None, funding_year=year,
                amount_fen=self.rng.choice([remaining, max(1, remaining // 2)]),
                voucher=f"V-{uuid4().hex[:12]}",
            )
        return on

    def change(self, _case: Any) -> date:
        on = self.day()
        self.ledger.report_major_change(
            self.cid, self.meta("county", self.county, on), None,
            kind=ChangeKind.LEADING_INDUSTRY, new_value=f"新主导产业{self.step}",
        )
        return on

    def renew(self, case: Any) -> date:
        if case.renewal is None or case.renewal.passed is not None:
            on = self.day(case.valid_until - timedelta(days=30) if case.valid_until else None)
            self.ledger.request_renewal(self.cid, self.meta("county", self.county, on), None)
        else:
            on = self.day(case.renewal.requested_on)
            self.ledger.decide_renewal(
                self.cid, self.meta(*self.decider, on), None, passed=self.rng.random() < 0.7,
                plan_targets_met=True if self.programme == "FJ" else None,
            )
        return on

    def revoke(self, _case: Any) -> date:
        on = self.day()
        self.ledger.revoke(
            self.cid, self.meta(*self.decider, on), None,
            ground=self.rng.choice(list(Ground)), received_on=on + timedelta(days=2),
        )
        return on

    def appeal(self, case: Any) -> date:
        on = case.revocation.received_on + timedelta(days=self.rng.randint(0, 12))
        self.ledger.appeal(self.cid, self.meta("county", self.county, on), None)
        return on

    def decide_appeal(self, case: Any) -> date:
        on = self.day(case.appeal.filed_on if case.appeal is not None else None)
        self.ledger.decide_appeal(
            self.cid, self.meta(*self.decider, on), None,
            outcome=self.rng.choice([AppealOutcome.OVERTURNED, AppealOutcome.UPHELD]),
        )
        return on


def _candidates(
    db: psycopg.Connection[Any], cid: UUID, events: list[LoggedEvent]
) -> tuple[list[date | None], list[datetime | None]]:
    """Dates and instants where the answer may turn, and either side of them."""
    days: set[date] = set()
    for logged in events:
        effective = logged.event.meta.effective_date
        days |= {effective - timedelta(days=1), effective, effective + timedelta(days=1)}
    for row in db.execute(
        "SELECT DISTINCT valid_until FROM proj_bitemporal WHERE cluster_id = %s "
        "AND valid_until IS NOT NULL", (cid,),
    ).fetchall():
        until = row["valid_until"]
        days |= {until, until + timedelta(days=1)}
    instants: set[datetime] = {events[0].event.timestamp - timedelta(seconds=1)}
    tick = timedelta(microseconds=1)
    for logged in events:
        stamp = logged.event.timestamp
        instants |= {stamp - tick, stamp, stamp + tick}
    return [None, *sorted(days)], [None, *sorted(instants)]


@settings(
    max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    programme=st.sampled_from(["FJ", "XM"]),
    attempts=st.integers(3, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_view_equals_the_fold_from_the_log_for_any_pair_of_dates(
    programme: str, attempts: int, seed: int, ledger: ClusterLedger,
    projector: Projector, migrated: ConnectionInfo, db: psycopg.Connection[Any],
) -> None:
    """Random histories (corrections, back-dated decisions, overturned revocations and late
    payments among them: effective dates are drawn anywhere around the last one) and every
    (as_of, known_at) pair around each event's dates and recording instants, or a random
    sample of 300 of them: the view holds exactly one row per case where the fold finds the
    case, none elsewhere, and that row is the fold's board reading, status on the date
    included."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    walk = Walk(ledger, programme, rng)
    for _ in range(attempts):
        walk.take()
    _settle(ledger, migrated)
    events = _events(ledger, walk.cid)
    days, instants = _candidates(db, walk.cid, events)
    pairs = [(d, t) for d in days for t in instants]
    if len(pairs) > 300:
        pairs = rng.sample(pairs, 300)
    for as_of, known_at in pairs:
        assert_view_equals_fold(ledger, db, walk.cid, as_of, known_at)
    anyio.run(assert_reads_equal_fold, migrated, walk.cid, walk.county, events, pairs[:120])


# ---- funding and deadlines as of a date, through the read API's queries ----------------------


def _expected_reads(
    cid: UUID, events: list[LoggedEvent], expected: CaseAtDate
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The funding rows (without `position`) and the open obligations (kind, subject, due
    date, provisional, overdue on the date) the fold's readings give of a reconstruction."""
    if expected.case is None:
        return [], []
    digest = digest_of(cid, expected.case, RULES.regions, _amounts(events))
    funding = [_without_position(msgspec.structs.asdict(r)) for r in funding_rows(digest, RULES)]
    deadlines = [  # in the list's order: due date, then kind and subject by name
        (r.kind, r.subject, r.due_on, r.provisional, is_overdue(r, expected.status_on))
        for r in sorted(deadline_rows(digest, RULES), key=lambda r: (r.due_on, r.kind,
                                                                      r.subject))
    ]
    return funding, deadlines


def _without_position(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "position"}


async def assert_reads_equal_fold(
    migrated: ConnectionInfo, cid: UUID, county: str, events: list[LoggedEvent],
    pairs: list[tuple[date | None, datetime | None]],
) -> None:
    """For each (as_of, known_at): `list_funding` and `list_deadlines` over the bitemporal
    view (with (None, None): over the live views) give the fold's funding and deadline rows
    of `case_at`, in order, overdue read on the date."""
    conn: asyncpg.Connection = await asyncpg.connect(**migrated.asyncpg_kwargs())
    try:
        for as_of, known_at in pairs:
            where = f"as_of={as_of} known_at={known_at and known_at.isoformat()}"
            expected = case_at(cid, events, today=TODAY, as_of=as_of, known_at=known_at)
            funding, deadlines = _expected_reads(cid, events, expected)
            history = (
                None if as_of is None and known_at is None
                else BoardHistory(as_of=as_of, known_at=known_at)
            )
            ledger_page = await list_funding(
                conn, counties=[county], prefix=None, filters=FundingFilters(cluster_id=cid),
                limit=500, cursor=None, history=history,
            )
            seen = [_without_position(msgspec.structs.asdict(r)) for r in ledger_page.items]
            assert seen == funding, where
            overall = ledger_page.totals.overall
            assert (overall.approved_fen, overall.paid_fen, overall.remaining_fen) == (
                sum(r["approved_fen"] for r in funding), sum(r["paid_fen"] for r in funding),
                sum(r["remaining_fen"] for r in funding),
            ), where
            due = await list_deadlines(
                conn, on=expected.status_on, counties=[county], prefix=None,
                filters=DeadlineFilters(cluster_id=cid), limit=500, cursor=None,
                history=history,
            )
            assert [
                (d.kind, d.subject, d.due_on, d.provisional, d.overdue) for d in due.items
            ] == deadlines, where
    finally:
        await conn.close()


# ---- corrections land on both axes -----------------------------------------------------------


def _certified_xm(ledger: ClusterLedger, label: str) -> UUID:
    walk_meta: Callable[..., Any] = meta
    cid = ledger.apply_for_certification(
        walk_meta("county", SIMING, date(2024, 12, 2)),
        xm_dossier(f"厦门市思明区{label}{uuid4().hex[:6]}产业集群"),
    ).cluster_id
    ledger.recommend(cid, meta("city", XIAMEN, date(2024, 12, 16)), 1, onsite_verified=True)
    ledger.certify(cid, meta("miit_recorder", XIAMEN, date(2025, 1, 20),
                             document_number="工信部企业函〔2025〕12号"), 2)
    return cid


def _recorded_now(ledger: ClusterLedger, cid: UUID) -> datetime:
    return _events(ledger, cid)[-1].event.timestamp


def test_a_score_corrected_later_changes_the_past_only_as_known_after_the_correction(
    ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo,
    db: psycopg.Connection[Any],
) -> None:
    cid = _certified_xm(ledger, "分数更正")
    final = meta("city", XIAMEN, date(2026, 3, 10), user_id="city-assessor")
    ledger.score(cid, meta("county", SIMING, date(2026, 2, 10)), 3, year=2025,
                 stage=ScoreStage.DISTRICT_INITIAL, score=Decimal(78))
    ledger.score(cid, final, 4, year=2025, stage=ScoreStage.CITY_FINAL, score=Decimal(78))
    before_correction = _recorded_now(ledger, cid)
    ledger.report_major_change(cid, meta("county", SIMING, date(2026, 5, 1)), 5,
                               kind=ChangeKind.LEADING_INDUSTRY, new_value="智能网联")
    # Recorded in June, effective from the original date: a back-dated correction.
    ledger.score(cid, meta("city", XIAMEN, date(2026, 3, 10), user_id="city-assessor",
                           comment="复核更正"), 6,
                 year=2025, stage=ScoreStage.CITY_FINAL, score=Decimal("81.5"),
                 correction=True)
    _settle(ledger, migrated)

    def score(as_of: date, known_at: datetime | None = None) -> Any:
        row = _state_at(ledger, db, cid, as_of, known_at)
        return row and row["last_final_score"]

    assert score(date(2026, 3, 9)) is None
    assert score(date(2026, 3, 10)) == Decimal("81.5")  # as the record stands now
    assert score(date(2026, 6, 1)) == Decimal("81.5")
    assert score(date(2026, 3, 10), before_correction) == Decimal(78)  # as known then
    assert score(date(2026, 6, 1), before_correction) == Decimal(78)


def test_a_revocation_overturned_on_appeal_with_an_earlier_effective_date(
    ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo,
    db: psycopg.Connection[Any],
) -> None:
    from tests.factories import certified_fj

    cid = certified_fj(ledger, fj_dossier(f"晋江市复核撤回{uuid4().hex[:6]}产业集群"))
    # The annual report of 2025 (filed 2026-03-20) is on record first; the revocation of
    # 2025-09-24, the appeal and the decision overturning it are entered after it.
    ledger.file_annual_report(
        cid, meta("city", QUANZHOU, date(2026, 3, 20)), 4, year=2025,
        figures=AnnualFigures(total_output_yuan=5_600_000_000),
    )
    ledger.revoke(
        cid, meta("province", FJ_PROVINCE, date(2025, 9, 24), user_id="prov-c",
                  document_number="闽工信〔2025〕77号", comment="未及时报送年度信息表"),
        5, ground=Ground.ANNUAL_REPORT_MISSING, received_on=date(2025, 9, 26),
    )
    ledger.appeal(cid, meta("county", JINJIANG, date(2025, 10, 10), comment="已按时报送"), 6)
    before_decision = _recorded_now(ledger, cid)
    ledger.decide_appeal(
        cid, meta("province", FJ_PROVINCE, date(2025, 11, 14), user_id="prov-d",
                  comment="复核：撤销依据不足"),
        7, outcome=AppealOutcome.OVERTURNED,
    )
    _settle(ledger, migrated)

    def status(as_of: date, known_at: datetime | None = None) -> Any:
        row = _state_at(ledger, db, cid, as_of, known_at)
        return row and row["read_status"]

    assert status(date(2025, 9, 23)) == "certified"
    assert status(date(2025, 10, 1)) == "revoked"
    assert status(date(2025, 11, 13)) == "revoked"
    assert status(date(2025, 11, 14)) == "certified"  # reinstated, original validity
    assert status(date(2026, 4, 1)) == "certified"
    assert status(date(2026, 5, 23)) == "expired"  # validity ended 2026-05-22: by date alone
    assert status(date(2026, 4, 1), before_decision) == "revoked"  # as known before it
    assert _state_at(ledger, db, cid, date(2026, 4, 1))["last_report_year"] == 2025


def test_a_back_dated_decision_rewrites_the_dates_after_it_as_known_from_its_recording(
    ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo,
    db: psycopg.Connection[Any],
) -> None:
    cid = _certified_xm(ledger, "倒签")
    ledger.report_major_change(cid, meta("county", SIMING, date(2025, 8, 1)), 3,
                               kind=ChangeKind.LEADING_INDUSTRY, new_value="智慧交通")
    before = _recorded_now(ledger, cid)
    # A revocation decided on 2025-06-30, entered after the August change.
    ledger.revoke(cid, meta("miit_recorder", XIAMEN, date(2025, 6, 30),
                            document_number="工信部企业函〔2025〕40号", comment="虚假申报"),
                  4, ground=Ground.FALSE_APPLICATION, received_on=date(2025, 7, 2))
    _settle(ledger, migrated)

    def row(as_of: date, known_at: datetime | None = None) -> Any:
        return _state_at(ledger, db, cid, as_of, known_at)

    assert row(date(2025, 6, 29))["read_status"] == "certified"
    assert row(date(2025, 6, 30))["read_status"] == "revoked"
    assert row(date(2025, 6, 30))["revoked_on"] == date(2025, 6, 30)
    assert row(date(2025, 7, 31))["leading_industry"] == "智慧城市智能系统"
    after_change = row(date(2025, 8, 1))
    assert (after_change["read_status"], after_change["leading_industry"]) == (
        "revoked", "智慧交通")
    assert row(date(2025, 8, 1), before)["read_status"] == "certified"  # as known before


def test_the_board_as_known_at_a_time_alone_reads_statuses_on_that_date(
    ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo,
    db: psycopg.Connection[Any],
) -> None:
    cid = _certified_xm(ledger, "仅记录时点")
    _settle(ledger, migrated)
    recorded = _recorded_now(ledger, cid)
    assert_view_equals_fold(ledger, db, cid, None, recorded)
    assert_view_equals_fold(ledger, db, cid, None, None)
    assert _state_at(ledger, db, cid, None, recorded - timedelta(days=3650)) is None


def test_a_failed_batch_leaves_no_trace_in_the_projectors_memory(
    ledger: ClusterLedger, projector: Projector, migrated: ConnectionInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that fails half-way through an event (the case's aggregate moved on, its rows
    not yet superseded; the transaction rolled back) is folded again by the same view object:
    the rows equal the live view's."""
    cid = _certified_xm(ledger, "批次失败")
    ledger.report_major_change(cid, meta("county", SIMING, date(2025, 8, 1)), 3,
                               kind=ChangeKind.LEADING_INDUSTRY, new_value="智慧港口")
    ledger.revoke(cid, meta("miit_recorder", XIAMEN, date(2025, 6, 30),
                            document_number="工信部企业函〔2025〕41号", comment="虚假申报"),
                  4, ground=Ground.FALSE_APPLICATION, received_on=date(2025, 7, 2))
    _settle(ledger, migrated)
    head = ledger.recorder.max_notification_id()
    notifications = ledger.recorder.select_notifications(start=1, limit=head or 0)
    events = [(ledger.mapper.to_domain_event(n), Tracking(ClusterLedger.name, n.id))
              for n in notifications]
    prefix = f"proj_bitemporal_f{uuid4().hex[:6]}"
    with psycopg.connect(migrated.url) as conn, conn.cursor() as curs:
        create_copy(curs, VIEWS["bitemporal"], prefix)
    view = open_view(migrated, "bitemporal", prefix)
    try:
        projection = type("Copy", (PROJECTIONS["bitemporal"],), {"name": prefix})(view)
        projection.process_batch(events[:-2])
        reading = timeline.board_state

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected failure inside the fold")

        monkeypatch.setattr(timeline, "board_state", fail)  # after the aggregate moved on
        with pytest.raises(RuntimeError, match="injected"):
            projection.process_batch(events[-2:])
        monkeypatch.setattr(timeline, "board_state", reading)
        projection.process_batch(events[-2:])
        live = open_view(migrated, "bitemporal")
        try:
            assert view.rows() == live.rows()
        finally:
            live.datastore.close()
    finally:
        view.datastore.close()
        with psycopg.connect(migrated.url) as conn, conn.cursor() as curs:
            drop_copy(curs, VIEWS["bitemporal"], prefix)
