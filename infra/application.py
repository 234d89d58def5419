"""The ClusterLedger application: one verb per command, each load -> act -> save.

Every verb authorises the actor (role and jurisdiction, `domain.permissions`), checks the
version the caller acted on (optimistic concurrency), lets the aggregate apply the rules, and
saves the events together with the audit chain and, when given, the idempotency record, in one
transaction. It returns where the last event landed in the log, for read-your-writes.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as BaseSnapshot
from eventsourcing.persistence import EventStore, IntegrityError
from eventsourcing.postgres import PostgresAggregateRecorder

from domain.actors import EventMeta
from domain.calendar import Deadline, WorkingDayCalendar
from domain.case import CaseState, Notice
from domain.cluster import Cluster, cluster_event_classes, subsidy_subject
from domain.eligibility import EligibilityReport, precheck
from domain.errors import NotFound, RuleViolation, VersionConflict
from domain.facts import (
    AnnualFigures,
    AppealOutcome,
    ChangeKind,
    Dossier,
    Ground,
    PlanLine,
    ScoreStage,
)
from domain.governance import governing_version
from domain.permissions import Command, check_may_act, check_may_read
from domain.programmes import ProgrammeProfile, Programmes
from domain.regions import Regions
from domain.rulebook import PeriodRule, Programme, Rulebook, RulebookVersion
from domain.subsidy import entitlement
from domain.voucher import VoucherIndex, voucher_id
from infra import codec
from infra.recorder import IDEMPOTENCY_KWARG, IdempotencyRecord, SnapshotRecorder


def event_classes() -> list[type]:
    """Every event class the ledger stores: the Cluster's (with its snapshot) and the voucher
    index's."""
    nested = [
        *vars(Cluster).values(),
        *cluster_event_classes().values(),
        *vars(VoucherIndex).values(),
    ]
    return [
        cls for cls in nested
        if isinstance(cls, type) and issubclass(cls, (Aggregate.Event, BaseSnapshot))
    ]


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: UUID
    version: int
    position: int | None  # notification id of the last event written
    events: tuple[str, ...] = ()


class Services(msgspec.Struct, frozen=True, kw_only=True):
    rulebook: Rulebook
    regions: Regions
    programmes: Programmes
    calendar: Callable[[], WorkingDayCalendar]


class ClusterLedger(Application[UUID]):
    name = "ClusterLedger"

    def __init__(
        self,
        env: dict[str, str],
        services: Services,
        snapshot_interval: int = 50,
        cache_size: int = 0,
    ):
        """`cache_size` > 0 keeps that many recently used cases in memory (LRU). A cached case
        is brought up to date on every load by reading only the events recorded after it
        (eventsourcing's fast-forward), so other processes writing to the same store are
        seen; each command works on a copy (`Cluster.__deepcopy__`). A command whose expected
        version is the cached case's skips that read: see `_act`."""
        self.snapshotting_intervals = {Cluster: snapshot_interval}  # type: ignore[misc]
        cache = (
            {"AGGREGATE_CACHE_MAXSIZE": str(cache_size), "AGGREGATE_CACHE_FASTFORWARD": "y"}
            if cache_size > 0
            else {}
        )
        env = {
            "MAPPER_TOPIC": "infra.codec:MsgspecMapper",
            "APPLICATION_RECORDER_TOPIC": "infra.recorder:LedgerRecorder",
            "IS_SNAPSHOTTING_ENABLED": "yes",
            **cache,
            **env,
        }
        super().__init__(env=env)
        self.services = services
        # Every decoder the ledger reads with, built here in one thread before any request
        # (see infra.codec: concurrent first builds crashed the process).
        codec.prepare(event_classes())

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """eventsourcing's snapshot store, written through `SnapshotRecorder` (binary state)."""
        default = self.factory.aggregate_recorder(purpose="snapshots")
        if not isinstance(default, PostgresAggregateRecorder):
            return super().construct_snapshot_store()
        recorder = SnapshotRecorder(
            datastore=default.datastore, events_table_name=default.events_table_name
        )
        return self.factory.event_store(mapper=self.mapper, recorder=recorder)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot a case every `snapshot_interval` events from the case the command has just
        saved, when that case stands exactly at the version due for a snapshot. eventsourcing
        would read the case back from the store first (a snapshot and up to an interval's
        events, decoded and replayed) inside the command's request; the saved case holds the
        same state, since every change to it is an event that was just stored with it (a test
        compares both). A command whose events step over the due version (several events at
        once) still snapshots that version from the store."""
        if self.snapshots is None:
            return
        interval = self.snapshotting_intervals[Cluster]
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            if not isinstance(aggregate, Cluster) or event.originator_version % interval:
                continue
            if aggregate.version == event.originator_version:
                self.snapshots.put([Cluster.Snapshot.take(aggregate)])
            else:
                self.take_snapshot(event.originator_id, version=event.originator_version)

    # ---- reads ---------------------------------------------------------------------------

    def get_cluster(self, cluster_id: UUID) -> Cluster:
        try:
            return self.repository.get(cluster_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise NotFound("cluster_not_found", f"no cluster case {cluster_id}") from None

    def read_case(self, cluster_id: UUID, meta_actor: Any) -> tuple[CaseState, int]:
        cluster = self.get_cluster(cluster_id)
        check_may_read(meta_actor, cluster.case.dossier.county_code, self.services.regions)
        return cluster.case, cluster.version

    def rulebook_for(self, programme: Programme, on: date) -> RulebookVersion:
        """The version governing a decision of `programme` dated `on` (scheme and layers)."""
        profile = self.services.programmes.get(programme)
        return governing_version(self.services.rulebook, profile, on)

    def eligibility(self, dossier: Dossier, on: date, version_id: str | None) -> EligibilityReport:
        rules = self.services.rulebook
        version = rules.get(version_id) if version_id else self.rulebook_for(dossier.programme, on)
        return precheck(dossier.indicators, version)

    # ---- commands --------------------------------------------------------------------------

    def apply_for_certification(
        self, meta: EventMeta, dossier: Dossier, idempotency: IdempotencyRecord | None = None
    ) -> CommandResult:
        regions = self.services.regions
        regions.county(dossier.county_code)  # unknown or non-county codes are refused
        profile = self.services.programmes.get(dossier.programme)
        if not regions.covers(profile.region, dossier.county_code):
            raise RuleViolation(
                profile.outside_region,
                f"the {profile.programme} programme covers {regions.get(profile.region).name} "
                f"({profile.region}) only; {dossier.county_code} lies outside it",
                region=profile.region,
                county_code=dossier.county_code,
            )
        check_may_act(
            meta.actor, Command.APPLY, dossier.programme, dossier.county_code, regions,
            self.services.programmes,
        )
        version = self.rulebook_for(dossier.programme, meta.effective_date)
        cluster = Cluster.apply(
            meta=meta, dossier=dossier, rulebook_version=version.id, profile=profile
        )
        return self._save(cluster, (), idempotency)

    def recommend(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        onsite_verified: bool,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            report = self.eligibility(c.case.dossier, meta.effective_date, None)
            c.recommend(meta, report, onsite_verified=onsite_verified)

        return self._act(cluster_id, meta, expected_version, Command.RECOMMEND, act, idempotency)

    def decline_to_recommend(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.DECLINE,
            lambda c: c.decline_to_recommend(meta),
            idempotency,
        )

    def shortlist(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            notice = self._notice(meta.effective_date, version.certification_notice, version)
            c.shortlist(meta, notice, version.id, profile=self._profile(c))

        return self._act(cluster_id, meta, expected_version, Command.SHORTLIST, act, idempotency)

    def raise_objection(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        subject: str,
        summary: str,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.RAISE_OBJECTION,
            lambda c: c.raise_objection(meta, subject, summary),
            idempotency,
        )

    def resolve_objection(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        number: int,
        upheld: bool,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.RESOLVE_OBJECTION,
            lambda c: c.resolve_objection(meta, number, upheld=upheld),
            idempotency,
        )

    def certify(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            c.certify(meta, version.validity_years, version.id, profile=self._profile(c))

        return self._act(cluster_id, meta, expected_version, Command.CERTIFY, act, idempotency)

    def reject(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.REJECT,
            lambda c: c.reject(meta, profile=self._profile(c)),
            idempotency,
        )

    def file_annual_report(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        year: int,
        figures: AnnualFigures,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            due = date(year + 1, version.annual_report.month, version.annual_report.day)
            c.file_annual_report(meta, year, figures, due, version.id)

        return self._act(
            cluster_id, meta, expected_version, Command.FILE_ANNUAL_REPORT, act, idempotency
        )

    def score(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        year: int,
        stage: ScoreStage,
        score: Decimal,
        failure_grounds: tuple[Ground, ...] = (),
        correction: bool = False,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            c.score(
                meta,
                year,
                stage,
                score,
                failure_grounds,
                (version.score_min, version.score_max),
                version.id,
                profile=self._profile(c),
                first_assessed_year=version.assessment_first_year,
                correction=correction,
            )

        return self._act(cluster_id, meta, expected_version, Command.SCORE, act, idempotency)

    def submit_fund_use_plan(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        funding_year: int,
        lines: tuple[PlanLine, ...],
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            c.submit_fund_use_plan(
                meta, funding_year, lines, version.fund_use_categories,
                funding_years=tuple(year.funding_year for year in version.subsidy),
                rulebook_version=version.id,
            )

        return self._act(
            cluster_id, meta, expected_version, Command.SUBMIT_FUND_USE_PLAN, act, idempotency
        )

    def review_fund_use_plan(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        funding_year: int,
        passed: bool,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.REVIEW_FUND_USE_PLAN,
            lambda c: c.review_fund_use_plan(meta, funding_year, passed=passed),
            idempotency,
        )

    def approve_subsidy(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        funding_year: int,
        amount_fen: int,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            entitled = self.entitlement(c, version, funding_year)
            notice = self._notice(meta.effective_date, version.subsidy_notice, version)
            c.approve_subsidy(meta, funding_year, amount_fen, entitled, notice, version.id)

        return self._act(
            cluster_id, meta, expected_version, Command.APPROVE_SUBSIDY, act, idempotency
        )

    def entitlement(self, cluster: Cluster, version: RulebookVersion, funding_year: int) -> int:
        """XM Art. 13 by the rulebook; an assessment with a failure ground entitles to nothing
        (Art. 10: 考核不予通过，不得享受相关支持措施)."""
        year_rule = version.subsidy_year(funding_year)
        if year_rule.by_assessment is None:
            return entitlement(version, funding_year, None)
        assessment = cluster.final_assessment(year_rule.by_assessment)
        if assessment is not None and assessment.failed:
            return 0
        score = assessment.final_score if assessment else None
        return entitlement(version, funding_year, score)

    def pay_subsidy(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        funding_year: int,
        amount_fen: int,
        voucher: str,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        index: list[VoucherIndex] = []

        def act(c: Cluster) -> None:
            c.pay_subsidy(meta, funding_year, amount_fen, voucher)
            index.append(VoucherIndex(voucher_number=voucher.strip(), cluster_id=c.id))

        try:
            return self._act(
                cluster_id, meta, expected_version, Command.PAY_SUBSIDY, act, idempotency, index
            )
        except VersionConflict:
            if self._voucher_exists(voucher):
                raise RuleViolation(
                    "voucher_already_paid",
                    f"voucher {voucher} has been paid already",
                    voucher=voucher,
                ) from None
            raise

    def _voucher_exists(self, voucher: str) -> bool:
        try:
            self.repository.get(voucher_id(voucher))
        except AggregateNotFoundError:
            return False
        return True

    def report_major_change(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        kind: ChangeKind,
        new_value: str,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.REPORT_MAJOR_CHANGE,
            lambda c: c.report_major_change(meta, kind, new_value, profile=self._profile(c)),
            idempotency,
        )

    def request_renewal(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.REQUEST_RENEWAL,
            lambda c: c.request_renewal(meta),
            idempotency,
        )

    def decide_renewal(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        passed: bool,
        plan_targets_met: bool | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            c.decide_renewal(
                meta,
                passed=passed,
                plan_targets_met=plan_targets_met,
                validity_years=version.validity_years,
                rulebook_version=version.id,
                profile=self._profile(c),
            )

        return self._act(
            cluster_id, meta, expected_version, Command.DECIDE_RENEWAL, act, idempotency
        )

    def revoke(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        ground: Ground,
        received_on: date,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            deadline = (
                self._period(received_on, version.appeal_period, "appeal period", version)
                if version.appeal_period is not None
                else None
            )
            c.revoke(
                meta,
                ground,
                received_on,
                deadline.due if deadline else None,
                deadline.provisional if deadline else False,
                version.id,
            )

        return self._act(cluster_id, meta, expected_version, Command.REVOKE, act, idempotency)

    def appeal(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        def act(c: Cluster) -> None:
            version = self._version(c, meta)
            if version.appeal_reply is None:
                raise RuleViolation("no_appeal_route", f"rulebook {version.id} provides no appeal")
            reply = self._period(meta.effective_date, version.appeal_reply, "appeal reply", version)
            c.appeal(meta, reply.due, reply.provisional, version.id)

        return self._act(cluster_id, meta, expected_version, Command.APPEAL, act, idempotency)

    def decide_appeal(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        outcome: AppealOutcome,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.DECIDE_APPEAL,
            lambda c: c.decide_appeal(meta, outcome),
            idempotency,
        )

    def record_audit_finding(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        summary: str,
        amount_questioned_fen: int = 0,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.RECORD_AUDIT_FINDING,
            lambda c: c.record_audit_finding(meta, summary, amount_questioned_fen),
            idempotency,
        )

    def confirm_rectification(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        *,
        number: int,
        idempotency: IdempotencyRecord | None = None,
    ) -> CommandResult:
        return self._act(
            cluster_id,
            meta,
            expected_version,
            Command.CONFIRM_RECTIFICATION,
            lambda c: c.confirm_rectification(meta, number),
            idempotency,
        )

    # ---- plumbing --------------------------------------------------------------------------

    def _act(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        command: Command,
        action: Callable[[Cluster], object],
        idempotency: IdempotencyRecord | None,
        others: list[Any] | tuple[Any, ...] = (),
    ) -> CommandResult:
        cached = self._cached_at(cluster_id, expected_version)
        if cached is None or expected_version is None:
            return self._act_on(
                self.get_cluster(cluster_id), meta, expected_version, command, action,
                idempotency, others,
            )
        # The cached case stands at the version the caller expects: act on a copy of it without
        # asking the store for newer events. If there were any, the append of the next version
        # fails (an aggregate's versions are unique), so a command that saves acted on the
        # latest state. A command that fails may have acted on a stale one (or on a copy taken
        # while another thread brought the cached case up to date): the case is then brought
        # up to date, and if it has moved on the answer is `stale_version`, as acting on the
        # up-to-date case would have answered; otherwise the failure stands.
        try:
            return self._act_on(
                cached, meta, expected_version, command, action, idempotency, others
            )
        except Exception:
            current = self.get_cluster(cluster_id)
            if current.version != expected_version:
                raise self._stale(current.version, expected_version) from None
            raise

    def _cached_at(self, cluster_id: UUID, version: int | None) -> Cluster | None:
        """A copy of the cached case if it stands at `version`, else None."""
        cache = self.repository.cache
        if cache is None or version is None:
            return None
        try:
            cached = cache.get(cluster_id)
        except KeyError:
            return None
        if not isinstance(cached, Cluster) or cached.version != version:
            return None
        return deepcopy(cached)  # type: ignore[no-any-return]

    def _act_on(
        self,
        cluster: Cluster,
        meta: EventMeta,
        expected_version: int | None,
        command: Command,
        action: Callable[[Cluster], object],
        idempotency: IdempotencyRecord | None,
        others: list[Any] | tuple[Any, ...],
    ) -> CommandResult:
        dossier = cluster.case.dossier
        check_may_act(
            meta.actor, command, dossier.programme, dossier.county_code, self.services.regions,
            self.services.programmes,
        )
        if expected_version is not None and expected_version != cluster.version:
            raise self._stale(cluster.version, expected_version)
        action(cluster)
        return self._save(cluster, others, idempotency)

    @staticmethod
    def _stale(current_version: int, expected_version: int) -> VersionConflict:
        return VersionConflict(
            "stale_version",
            f"the case is at version {current_version}; the command acted on version "
            f"{expected_version}",
            current_version=current_version,
            expected_version=expected_version,
        )

    def _save(
        self,
        cluster: Cluster,
        others: list[Any] | tuple[Any, ...],
        idempotency: IdempotencyRecord | None,
    ) -> CommandResult:
        pending = tuple(type(e).__name__ for e in cluster.pending_events)
        kwargs: dict[str, Any] = {}
        if idempotency is not None:
            response = dict(idempotency.response)
            response.update(cluster_id=str(cluster.id), version=cluster.version, events=pending)
            kwargs[IDEMPOTENCY_KWARG] = msgspec.structs.replace(idempotency, response=response)
        try:
            recordings = self.save(cluster, *others, **kwargs)
        except IntegrityError as exc:
            raise VersionConflict(
                "concurrent_update",
                "another command changed this case at the same time; reload and retry",
            ) from exc
        cache = self.repository.cache
        if cache is not None:
            # eventsourcing's fast-forward cache does not keep what was saved; the case saved
            # is the state at its new version, so the next command can start from it.
            cache.put(cluster.id, cluster)
        position = max((r.notification.id for r in recordings), default=None)
        return CommandResult(
            cluster_id=cluster.id, version=cluster.version, position=position, events=pending
        )

    def _profile(self, cluster: Cluster) -> ProgrammeProfile:
        return self.services.programmes.get(cluster.case.dossier.programme)

    def _version(self, cluster: Cluster, meta: EventMeta) -> RulebookVersion:
        return self.rulebook_for(cluster.case.dossier.programme, meta.effective_date)

    def _period(
        self, trigger: date, rule: PeriodRule | None, what: str, version: RulebookVersion
    ) -> Deadline:
        if rule is None:
            raise RuleViolation(
                "rule_not_defined", f"rulebook {version.id} defines no {what}", rulebook=version.id
            )
        calendar = self.services.calendar()
        if rule.working_days:
            return calendar.add_working_days(
                trigger, rule.days, count_trigger_day=rule.count_trigger_day
            )
        return calendar.add_calendar_days(
            trigger, rule.days, count_trigger_day=rule.count_trigger_day
        )

    def _notice(self, starts_on: date, rule: PeriodRule | None, version: RulebookVersion) -> Notice:
        deadline = self._period(starts_on, rule, "public notice", version)
        return Notice(starts_on=starts_on, ends_on=deadline.due, provisional=deadline.provisional)


__all__ = ["ClusterLedger", "CommandResult", "Services", "subsidy_subject"]
