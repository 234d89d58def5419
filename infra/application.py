"""The ClusterLedger application: one generic path for every command, load -> act -> save.

`execute` runs any command declared in `domain.commands`: it loads the case (or lets the
command open one), authorises the actor (role and jurisdiction, `domain.permissions`) for the
command's permission, checks the version the caller acted on (optimistic concurrency), lets
the command act on the aggregate, and saves the events together with the audit chain and,
when given, the idempotency record, in one transaction. It returns where the last event landed
in the log, for read-your-writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from datetime import date
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
from domain.commands import Claim, Command, CommandBody, spec_of
from domain.eligibility import EligibilityReport, precheck
from domain.errors import NotFound, RuleViolation, VersionConflict
from domain.facts import Dossier
from domain.governance import governing_version, stamp
from domain.permissions import check_may_act, check_may_read
from domain.programmes import ProgrammeProfile, Programmes
from domain.readings import entitlement_required
from domain.regions import Regions
from domain.rulebook import Convention, PeriodRule, Programme, Rulebook, RulebookVersion
from domain.voucher import VoucherIndex
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
    rulebooks: tuple[str, ...] = ()  # each rulebook layer in force on the effective date
    conventions: tuple[Convention, ...] = ()  # the conventions the decision relied on


class Services(msgspec.Struct, frozen=True, kw_only=True):
    rulebook: Rulebook
    regions: Regions
    programmes: Programmes
    calendar: Callable[[], WorkingDayCalendar]


class LedgerRules:
    """What commands need from outside the aggregate (`domain.commands.Rules`): the programme's
    profile, the rulebook in force, the calendar's periods and notices, the eligibility
    pre-check, the entitlement."""

    def __init__(self, ledger: ClusterLedger) -> None:
        self._ledger = ledger
        self._services = ledger.services

    @property
    def regions(self) -> Regions:
        return self._services.regions

    def profile(self, dossier: Dossier) -> ProgrammeProfile:
        return self._services.programmes.get(dossier.programme)

    def rulebook(self, dossier: Dossier, on: date) -> RulebookVersion:
        return self._ledger.rulebook_for(dossier.programme, on)

    def eligibility(self, dossier: Dossier, on: date) -> EligibilityReport:
        return precheck(dossier.indicators, self.rulebook(dossier, on))

    def entitlement(self, cluster: Cluster, version: RulebookVersion, funding_year: int) -> int:
        """XM Art. 10, 13 (`domain.readings.entitlement_required`: the fold reads the same)."""
        return entitlement_required(version, funding_year, cluster.case.assessments.values())

    def rulebook_of(self) -> Rulebook:
        return self._services.rulebook

    def period(
        self, trigger: date, rule: PeriodRule | None, what: str, version: RulebookVersion
    ) -> Deadline:
        if rule is None:
            raise RuleViolation(
                "rule_not_defined", f"rulebook {version.id} defines no {what}", rulebook=version.id
            )
        calendar = self._services.calendar()
        if rule.working_days:
            return calendar.add_working_days(
                trigger, rule.days, count_trigger_day=rule.count_trigger_day
            )
        return calendar.add_calendar_days(
            trigger, rule.days, count_trigger_day=rule.count_trigger_day
        )

    def notice(self, starts_on: date, rule: PeriodRule | None, version: RulebookVersion) -> Notice:
        deadline = self.period(starts_on, rule, "public notice", version)
        return Notice(starts_on=starts_on, ends_on=deadline.due, provisional=deadline.provisional)


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
        self.rules = LedgerRules(self)
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

    # ---- commands --------------------------------------------------------------------------

    def execute(
        self,
        command: Command,
        cluster_id: UUID | None,
        meta: EventMeta,
        expected_version: int | None,
        body: CommandBody,
        idempotency: IdempotencyRecord | None = None,
        path: Mapping[str, int] | None = None,
    ) -> CommandResult:
        """Run one command (see the module's docstring). `cluster_id` and `expected_version`
        are None for the command that opens a case; `path` holds the values of the route's
        parameters below the case (e.g. an objection's number)."""
        spec = spec_of(command)
        if spec.opens_case:
            # the one command that opens a case carries its dossier
            dossier = body.dossier.to_domain()  # type: ignore[attr-defined]
            cluster: Cluster = spec.act(self._stamped(meta, spec.uses, dossier, None), body,
                                        self.rules)
            self._authorise(cluster, meta, command)
            return self._save(cluster, (), idempotency)
        if cluster_id is None:
            raise TypeError(f"{command} acts on a case: give its id")

        def act(cluster: Cluster) -> Sequence[Aggregate]:
            case = cluster.case
            stamped = self._stamped(meta, spec.uses, case.dossier, case.certified_on)
            return spec.act(cluster, stamped, body, self.rules, **(path or {})) or ()

        return self._act(cluster_id, meta, expected_version, command, act, idempotency)

    def issue(
        self,
        command: Command,
        cluster_id: UUID | None,
        meta: EventMeta,
        expected_version: int | None,
        /,
        idempotency: IdempotencyRecord | None = None,
        **facts: Any,
    ) -> CommandResult:
        """`execute` for callers that hold domain values rather than a request body (the demo
        data, the benchmarks, tests): the body is built from `meta`'s provenance and `facts`
        (domain values are converted by their attributes) and checked against the body's
        types and bounds as a decoded request is; a path parameter is one of the facts."""
        spec = spec_of(command)
        path = {name: facts.pop(name) for name in spec.path_parameters}
        provenance = {
            "effective_date": meta.effective_date,
            "document_number": meta.document_number,
            "comment": meta.comment,
            "attachments": meta.attachments,
        }
        body = msgspec.convert({**provenance, **facts}, spec.body, from_attributes=True)
        return self.execute(command, cluster_id, meta, expected_version, body, idempotency, path)

    # ---- plumbing --------------------------------------------------------------------------

    def _stamped(
        self, meta: EventMeta, uses: tuple[str, ...], dossier: Dossier, certified_on: date | None
    ) -> EventMeta:
        """`meta` with the rulebook layers in force and the conventions the decision relies on
        (`domain.governance.stamp`), which every event of the decision records."""
        profile = self.services.programmes.profiles.get(dossier.programme)
        if profile is None:
            return meta  # not a programme: opening the case is refused by its own rule
        found = stamp(self.services.rulebook, profile, meta.effective_date, uses, certified_on)
        return msgspec.structs.replace(
            meta,
            rulebooks=found.rulebooks,
            conventions=tuple(c.id for c in found.conventions),
        )

    def _conventions(self, meta: EventMeta) -> tuple[Convention, ...]:
        """The conventions a stamped `meta` names, in full, from the layers it records."""
        wanted = set(meta.conventions)
        return tuple(
            convention
            for version_id in meta.rulebooks
            for convention in self.services.rulebook.get(version_id).conventions
            if convention.id in wanted
        )

    def _act(
        self,
        cluster_id: UUID,
        meta: EventMeta,
        expected_version: int | None,
        command: Command,
        action: Callable[[Cluster], Sequence[Aggregate]],
        idempotency: IdempotencyRecord | None,
    ) -> CommandResult:
        cached = self._cached_at(cluster_id, expected_version)
        if cached is None or expected_version is None:
            return self._act_on(
                self.get_cluster(cluster_id), meta, expected_version, command, action, idempotency
            )
        # The cached case stands at the version the caller expects: act on a copy of it without
        # asking the store for newer events. If there were any, the append of the next version
        # fails (an aggregate's versions are unique), so a command that saves acted on the
        # latest state. A command that fails may have acted on a stale one (or on a copy taken
        # while another thread brought the cached case up to date): the case is then brought
        # up to date, and if it has moved on the answer is `stale_version`, as acting on the
        # up-to-date case would have answered; otherwise the failure stands.
        try:
            return self._act_on(cached, meta, expected_version, command, action, idempotency)
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
        action: Callable[[Cluster], Sequence[Aggregate]],
        idempotency: IdempotencyRecord | None,
    ) -> CommandResult:
        self._authorise(cluster, meta, command)
        if expected_version is not None and expected_version != cluster.version:
            raise self._stale(cluster.version, expected_version)
        others = action(cluster)
        return self._save(cluster, others, idempotency)

    def _authorise(self, cluster: Cluster, meta: EventMeta, command: Command) -> None:
        dossier = cluster.case.dossier
        check_may_act(
            meta.actor, command, dossier.programme, dossier.county_code, self.services.regions,
            self.services.programmes,
        )

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
        others: Sequence[Aggregate],
        idempotency: IdempotencyRecord | None,
    ) -> CommandResult:
        pending = tuple(type(e).__name__ for e in cluster.pending_events)
        last_meta: EventMeta | None = (
            cluster.pending_events[-1].meta if cluster.pending_events else None  # type: ignore[attr-defined]
        )
        rulebooks = last_meta.rulebooks if last_meta else ()
        conventions = self._conventions(last_meta) if last_meta else ()
        kwargs: dict[str, Any] = {}
        if idempotency is not None:
            response = dict(idempotency.response)
            response.update(
                cluster_id=str(cluster.id), version=cluster.version, events=pending,
                rulebooks=rulebooks, conventions=msgspec.to_builtins(conventions),
            )
            kwargs[IDEMPOTENCY_KWARG] = msgspec.structs.replace(idempotency, response=response)
        try:
            recordings = self.save(cluster, *others, **kwargs)
        except IntegrityError as exc:
            for claim in others:
                if isinstance(claim, Claim) and self._exists(claim.id):
                    raise claim.taken() from exc  # e.g. a voucher paid already, on any case
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
            cluster_id=cluster.id, version=cluster.version, position=position, events=pending,
            rulebooks=rulebooks, conventions=conventions,
        )

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True


__all__ = ["ClusterLedger", "CommandResult", "LedgerRules", "Services", "subsidy_subject"]
