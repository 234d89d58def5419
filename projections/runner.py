"""Running the projections: ONE runner feeds every view, supervised.

The runner (`GroupRunner`, built on eventsourcing's `BaseProjectionRunner`) subscribes to the
ClusterLedger log from the lowest of its views' tracking positions (so a restarted projector
resumes exactly where it stopped), reads and decodes each event once, and folds the events
that are waiting into all its views in one transaction (`ViewGroup`): one commit per batch, not
one per event and view. A runner whose projection fails stops with the error; the supervisor
records it and logs it, and never restarts it silently: the error has to be fixed and the
projector restarted.

The upstream application is `LedgerFeed`, a ClusterLedger built from the environment alone,
so that the runner reads the log with the application's own name, msgspec mapper and recorder.
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.projection import ApplicationSubscription, BaseProjectionRunner, Projection
from eventsourcing.utils import Environment

from domain.calendar import WorkingDayCalendar
from domain.errors import ConfigError
from domain.regions import Regions
from domain.rulebook import Rulebook
from infra.application import ClusterLedger, Services
from infra.database import ConnectionInfo
from projections.projection import PROJECTIONS, LedgerProjection, route
from projections.schema import VIEWS

VIEW_NAMES: tuple[str, ...] = tuple(VIEWS)


def _no_calendar() -> WorkingDayCalendar:
    raise ConfigError("feed_runs_no_commands", "the projection feed only reads the log")


class LedgerFeed(ClusterLedger):
    """The ClusterLedger as a projection runner builds it: from `env` only, for reading."""

    name = ClusterLedger.name

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        services = Services(
            rulebook=Rulebook(versions=()), regions=Regions(()), calendar=_no_calendar
        )
        super().__init__(dict(env or {}), services)


def runner_env(conn: ConnectionInfo) -> dict[str, str]:
    """Connection settings for a runner: small pools (a LISTEN connection, a reader, a writer)."""
    return {
        **conn.eventsourcing_env(),
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "3",
    }


MAX_BATCH = 200  # events folded in one transaction of a view


def _more_ready(subscription: ApplicationSubscription[Any]) -> bool:
    """Whether the subscription holds further events already read from the log (so taking
    the next one will not wait). eventsourcing reads notifications in pages and queues them;
    this looks at that buffer, and answers False if its shape is not the expected one (then
    every event is processed on its own, as eventsourcing's runner does)."""
    inner = subscription.subscription
    page = getattr(inner, "_notifications", None)
    index = getattr(inner, "_notifications_index", None)
    queued = getattr(inner, "_notifications_queue", None)
    if page is None or index is None:
        return False
    return index < len(page) or (queued is not None and queued.qsize() > 0)


class ViewGroup(TrackingRecorder):
    """The views one runner feeds, over ONE datastore, so that a batch of events is folded
    into all of them in one transaction: one read of the log, one decode and one commit per
    batch, whatever the number of views.

    Each view keeps its own tracking position. The group's position is the lowest of them
    (where its subscription starts); a view already past an event (it was rebuilt, or another
    projector moved it on) passes over it, as on its own. The views' advisory locks are taken
    in one fixed order, so two groups, or a group and a rebuild, never deadlock."""

    def __init__(self, projections: Sequence[LedgerProjection[Any]]) -> None:
        if not projections:
            raise ConfigError("no_views", "a projection runner needs at least one view")
        self.projections = tuple(projections)
        self.datastore = projections[0].view.datastore
        keys = sorted({p.view.spec.lock_key for p in projections})
        self._lock = ("SELECT " + ", ".join(f"pg_advisory_xact_lock({k})" for k in keys)).encode()

    def process_batch(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        """Fold `batch` into every view in one transaction. An event no view can handle stops
        the batch there: the events before it are committed, then `UnhandledEvent`."""
        items, unhandled = route(batch)
        if items:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(self._lock)
                for projection in self.projections:
                    projection.fold_batch(curs, items)
        if unhandled is not None:
            self.projections[0].process_event(*unhandled)  # raises UnhandledEvent

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position that carries nothing for the views, in every view."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._lock)
            for projection in self.projections:
                projection.fold_batch(curs, [(None, tracking)])

    def max_tracking_id(self, application_name: str) -> int | None:
        positions: list[int | None] = [
            p.view.max_tracking_id(application_name) for p in self.projections
        ]
        if any(position is None for position in positions):
            return None
        return min(position for position in positions if position is not None)


class _GroupProjection(Projection[ViewGroup]):
    """What eventsourcing's runner drives: every event goes to the group."""

    topics = ()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.process_batch([(domain_event, tracking)])


class GroupRunner(BaseProjectionRunner[LedgerFeed]):
    """eventsourcing's projection runner over a `ViewGroup`, except that the events already
    read from the log and waiting are folded together, up to `MAX_BATCH`, in one transaction:
    a busy log costs one commit per batch instead of one per event and view; an idle one is
    processed event by event, as soon as each arrives."""

    def __init__(self, group: ViewGroup, env: Mapping[str, str]) -> None:
        self.group = group
        super().__init__(
            projection=_GroupProjection(group),
            application_class=LedgerFeed,
            tracking_recorder=group,
            topics=(),
            env=dict(env),
        )

    @staticmethod
    def _process_events_loop(  # type: ignore[override]
        subscription: ApplicationSubscription[Any],
        projection: _GroupProjection,
        is_stopping: threading.Event,
        runner: weakref.ReferenceType[Any],
    ) -> None:
        try:
            batch: list[tuple[Any, Tracking]] = []
            for domain_event, tracking in subscription:
                batch.append((domain_event, tracking))
                if len(batch) < MAX_BATCH and _more_ready(subscription):
                    continue
                projection.view.process_batch(batch)
                batch = []
        except BaseException as exc:  # noqa: BLE001 - handed to the runner, as eventsourcing does
            owner = runner()
            if owner is not None:
                owner._thread_error = exc
        finally:
            is_stopping.set()


def open_group(
    env: Mapping[str, str],
    classes: Mapping[str, type[LedgerProjection[Any]]],
    group_class: type[ViewGroup] | None = None,
) -> ViewGroup:
    """The named projections over one datastore (the first view's), each on its own tables."""
    projections: list[LedgerProjection[Any]] = []
    datastore: PostgresDatastore | None = None
    for projection_class in classes.values():
        view_class = projection_class.view_class
        if datastore is None:
            factory = PostgresFactory(Environment(projection_class.name, dict(env)))
            view = factory.tracking_recorder(view_class)
            datastore = view.datastore
        else:
            view = view_class(datastore, tracking_table_name=projection_class.name + "_tracking")
            view.create_table()
        projections.append(projection_class(view))
    return (group_class or ViewGroup)(projections)


class ProjectionFailure(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    error: str


class Projector:
    """Runs the named views' projections until stopped, or until they fail: one runner for
    all of them (`GroupRunner`), so each batch of the log is read, decoded and committed once.
    A failure stops every view the runner feeds; it is recorded and reported, never retried
    silently."""

    def __init__(
        self,
        conn: ConnectionInfo,
        names: Iterable[str] = VIEW_NAMES,
        projections: Mapping[str, type[LedgerProjection[Any]]] | None = None,
        group_class: type[ViewGroup] | None = None,
    ) -> None:
        self._conn = conn
        self._group_class = group_class or ViewGroup
        classes = projections or PROJECTIONS
        names = list(dict.fromkeys(names))
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise ConfigError(
                "unknown_view", f"no view named {', '.join(unknown)}; views: {', '.join(classes)}"
            )
        self._classes = {name: classes[name] for name in names}
        self._runner: GroupRunner | None = None
        self._supervisor: threading.Thread | None = None
        self._failures: list[ProjectionFailure] = []
        self._lock = threading.Lock()
        self.failed = threading.Event()
        self._log = structlog.get_logger("projector")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    @property
    def _label(self) -> str:
        return ", ".join(self._classes)

    def start(self) -> None:
        env = runner_env(self._conn)
        group = open_group(env, self._classes, self._group_class)
        try:
            runner = GroupRunner(group, env)
        except BaseException:
            group.datastore.close()
            raise
        runner.__enter__()
        self._runner = runner
        self._supervisor = threading.Thread(
            target=self._supervise, args=(runner,), name="projector", daemon=True
        )
        self._supervisor.start()
        for name, projection in zip(self._classes, group.projections, strict=True):
            self._log.info("projection_started", view=name, position=projection.view.position())

    def _record(self, exc: BaseException) -> ProjectionFailure:
        failure = ProjectionFailure(view=self._label, error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            if failure not in self._failures:
                self._failures.append(failure)
        self.failed.set()
        return failure

    def _supervise(self, runner: GroupRunner) -> None:
        try:
            runner.run_forever()
        except BaseException as exc:  # noqa: BLE001 - recorded and reported, never swallowed
            failure = self._record(exc)
            self._log.error(
                "projection_failed", view=failure.view, error=failure.error,
                positions={
                    p.name: p.view.position() for p in runner.group.projections
                },
                traceback="".join(traceback.format_exception(exc)),
            )

    def failures(self) -> tuple[ProjectionFailure, ...]:
        with self._lock:
            return tuple(self._failures)

    def wait(self, position: int | None, timeout: float = 5.0) -> None:
        """Block until every view has processed `position` (TimeoutError otherwise)."""
        if self._runner is not None:
            self._runner.wait(position, timeout=timeout)

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        runner.stop()
        try:
            runner.__exit__(None, None, None)
        except BaseException as exc:  # noqa: BLE001 - a failure not yet seen by its supervisor
            self._record(exc)
        finally:
            runner.group.datastore.close()
        self._log.info("projection_stopped", views=self._label)
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
            self._supervisor = None

    def __enter__(self) -> Projector:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
