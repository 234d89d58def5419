"""Running the projections: ONE runner feeds every view, supervised.

The runner (`GroupRunner`, built on eventsourcing's `BaseProjectionRunner`) subscribes to the
ClusterLedger log from the lowest of its views' tracking positions (so a restarted projector
resumes exactly where it stopped), reads and decodes each event once, and folds the events
that are waiting into all its views in one transaction (`ViewGroup`): one commit per batch, not
one per event and view. The supervisor (`Projector`) tells a runner's failures apart: a
transient one (the database away, a connection lost, a timeout) closes the runner and builds a
new one after a backoff, resuming from the views' positions; any other stops the projector
with the error, recorded and logged, never skipped: it has to be fixed and the projector
restarted.

The upstream application is `LedgerFeed`, a ClusterLedger built from the environment alone,
so that the runner reads the log with the application's own name, msgspec mapper and recorder.
"""

from __future__ import annotations

import threading
import time
import traceback
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.projection import ApplicationSubscription, BaseProjectionRunner, Projection
from eventsourcing.utils import Environment

from domain.calendar import WorkingDayCalendar
from domain.errors import ConfigError
from domain.programmes import Programmes
from domain.regions import Regions
from domain.rulebook import Rulebook
from infra.application import ClusterLedger, Services
from infra.database import ConnectionInfo, DatabaseLimits
from infra.db_failures import is_transient
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
            rulebook=Rulebook(versions=()), regions=Regions(()), programmes=Programmes(profiles={}),
            calendar=_no_calendar
        )
        super().__init__(dict(env or {}), services)


def runner_env(conn: ConnectionInfo, limits: DatabaseLimits | None = None) -> dict[str, str]:
    """Connection settings for a runner: small pools (a LISTEN connection, a reader, a writer);
    with `limits`, the ledger's timeouts and handling of a database that is away."""
    return {
        **conn.eventsourcing_env(limits=limits),
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

    def wait_until_stopped(self) -> BaseException | None:
        """Block until the runner stops; the error that stopped it, or None if `stop()` did.

        eventsourcing's `run_forever` re-raises that error `from None`, which drops the driver
        error an eventsourcing error was raised from: the one that tells a lost connection
        from a bug."""
        self.is_interrupted.wait()
        error, self._thread_error = self._thread_error, None
        return error

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
    """The named projections over one datastore (the first view's), each on its own tables.
    The datastore is built by the factory `env` names (`PERSISTENCE_MODULE`), and closed again
    if a view cannot be opened."""
    projections: list[LedgerProjection[Any]] = []
    datastore: PostgresDatastore | None = None
    try:
        for projection_class in classes.values():
            view_class = projection_class.view_class
            if datastore is None:
                factory = PostgresFactory.construct(Environment(projection_class.name, dict(env)))
                view = factory.tracking_recorder(view_class)
                datastore = view.datastore
            else:
                view = view_class(
                    datastore, tracking_table_name=projection_class.name + "_tracking"
                )
                view.create_table()
            projections.append(projection_class(view))
        return (group_class or ViewGroup)(projections)
    except BaseException:
        if datastore is not None:
            datastore.close()
        raise


class ProjectionFailure(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    error: str


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """Delays between a projector's attempts after transient failures: `first`, doubling
    up to `cap`."""

    first: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt `attempt` + 1 (after `attempt` failures in a row)."""
        return float(min(self.cap, self.first * 2 ** max(0, attempt - 1)))


class ProjectorStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What a projector is doing: `running`; `retrying` after a transient failure (the last
    error, failures in a row, since when, seconds until the next attempt); or `stopped`
    (by a deterministic failure, `error`, or by `stop()`)."""

    state: str
    error: str | None = None
    attempts: int = 0
    since: datetime | None = None  # first failure of this run of retries (UTC)
    retry_in: float | None = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Projector:
    """Runs the named views' projections until stopped: one runner for all of them
    (`GroupRunner`), so each batch of the log is read, decoded and committed once.

    A runner that fails is closed, and then:

    - on a transient failure (`infra.db_failures`: the database away, restarting or shutting
      down, a connection lost, a statement, lock or pool timeout, a deadlock or serialization
      failure) a new runner is built after a delay (`Backoff`: 0.5 s doubling up to
      `backoff.cap`), and again until one starts. It resumes from the views' tracking
      positions, as a restarted process would: the subscription and its LISTEN connection
      died with the old runner. The delay starts over once a runner has run for `cap`;
    - on any other failure (an event no fold can handle, a value the database refuses to
      store, a bug) the projector stops, records the failure (`failures()`, `failed`) and
      logs it: every view the runner feeds stops, and the error has to be fixed and the
      projector restarted.

    `status()` tells which, for `/ready`."""

    def __init__(
        self,
        conn: ConnectionInfo,
        names: Iterable[str] = VIEW_NAMES,
        projections: Mapping[str, type[LedgerProjection[Any]]] | None = None,
        group_class: type[ViewGroup] | None = None,
        *,
        limits: DatabaseLimits | None = None,
        backoff: Backoff | None = None,
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
        self._limits = limits
        self._backoff = backoff or Backoff()
        self._runner: GroupRunner | None = None
        self._supervisor: threading.Thread | None = None
        self._failures: list[ProjectionFailure] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._status = ProjectorStatus(state="stopped")
        self._retry_at: float | None = None
        self.failed = threading.Event()
        self._log = structlog.get_logger("projector")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    @property
    def _label(self) -> str:
        return ", ".join(self._classes)

    def start(self) -> None:
        """Start the runner (a failure here is raised: the projector does not start) and the
        thread that supervises it."""
        runner = self._open_runner()
        with self._lock:
            self._runner = runner
            self._status = ProjectorStatus(state="running")
        self._supervisor = threading.Thread(
            target=self._supervise, args=(runner,), name="projector", daemon=True
        )
        self._supervisor.start()

    def _open_runner(self) -> GroupRunner:
        env = runner_env(self._conn, self._limits)
        group = open_group(env, self._classes, self._group_class)
        runner: GroupRunner | None = None
        try:
            # eventsourcing builds the runner's feed application, then reads the views'
            # position; should that read fail, the feed is closed when it is collected.
            runner = GroupRunner(group, env)
            runner.__enter__()
            for name, projection in zip(self._classes, group.projections, strict=True):
                self._log.info(
                    "projection_started", view=name, position=projection.view.position()
                )
        except BaseException:
            if runner is None:
                group.datastore.close()
            else:
                self._close(runner)
            raise
        return runner

    def _supervise(self, runner: GroupRunner) -> None:
        attempts = 0
        current: GroupRunner | None = runner
        while current is not None:
            started = time.monotonic()
            error = self._run(current)
            if error is None:
                return
            if time.monotonic() - started >= self._backoff.cap:
                attempts = 0  # it had been running well: a new failure, not the same one
            current, attempts = self._recover(error, attempts)

    def _run(self, runner: GroupRunner) -> BaseException | None:
        """Run `runner` until it stops, and close it. The transient failure that stopped it
        (to retry), or None: stopped by `stop()`, or by a deterministic failure, recorded
        here (also one that surfaces only as the runner closes)."""
        error = runner.wait_until_stopped()
        if error is None and not self._stopping.is_set():
            error = RuntimeError("the projection runner stopped without reporting its error")
        failed = error is not None and not is_transient(error)
        if failed and error is not None:
            self._fail(error, runner)  # before closing it: the log reads the views' positions
        with self._lock:
            if self._runner is runner:
                self._runner = None
        closing_error = self._close(runner)
        if not failed and closing_error is not None and not is_transient(closing_error):
            self._fail(closing_error, None)
            failed = True
        if failed or self._stopping.is_set():
            return None
        return error

    def _close(self, runner: GroupRunner) -> BaseException | None:
        try:
            runner.__exit__(None, None, None)
        except BaseException as exc:  # noqa: BLE001 - a failure its run did not report
            return exc
        finally:
            runner.group.datastore.close()
        return None

    def _recover(
        self, error: BaseException, attempts: int
    ) -> tuple[GroupRunner | None, int]:
        """After a failure: stop for good on a deterministic one; else wait and build a new
        runner until one starts (or the projector is stopped). The new runner (or None) and
        the failures in a row so far (the next delay continues from there)."""
        since = datetime.now(UTC)
        while True:
            if not is_transient(error):
                self._fail(error, None)
                return None, attempts
            attempts += 1
            delay = self._backoff.delay(attempts)
            with self._lock:
                self._retry_at = time.monotonic() + delay
                self._status = ProjectorStatus(
                    state="retrying", error=_describe(error), attempts=attempts, since=since
                )
            self._log.warning(
                "projection_retrying", views=self._label, error=_describe(error),
                attempts=attempts, retry_in=delay,
            )
            if self._stopping.wait(delay):
                return None, attempts
            try:
                runner = self._open_runner()
            except BaseException as exc:  # noqa: BLE001 - judged on the next turn
                error = exc
                continue
            with self._lock:
                if not self._stopping.is_set():
                    self._runner = runner
                    self._status = ProjectorStatus(state="running")
                    self._retry_at = None
                    self._log.info("projection_resumed", views=self._label, attempts=attempts)
                    return runner, attempts
            self._close(runner)
            return None, attempts

    def _fail(self, exc: BaseException, runner: GroupRunner | None) -> None:
        failure = ProjectionFailure(view=self._label, error=_describe(exc))
        with self._lock:
            if failure not in self._failures:
                self._failures.append(failure)
            self._status = ProjectorStatus(state="stopped", error=failure.error)
            self._retry_at = None
        self.failed.set()
        self._log.error(
            "projection_failed", view=failure.view, error=failure.error,
            positions=self._positions(runner),
            traceback="".join(traceback.format_exception(exc)),
        )

    def _positions(self, runner: GroupRunner | None) -> dict[str, int | None] | str:
        if runner is None:
            return "not read"
        try:
            return {p.name: p.view.position() for p in runner.group.projections}
        except Exception as exc:  # noqa: BLE001 - the failure is what is being logged
            return f"not read: {_describe(exc)}"

    def failures(self) -> tuple[ProjectionFailure, ...]:
        with self._lock:
            return tuple(self._failures)

    def status(self) -> ProjectorStatus:
        with self._lock:
            status, retry_at = self._status, self._retry_at
        if retry_at is None:
            return status
        return msgspec.structs.replace(
            status, retry_in=round(max(0.0, retry_at - time.monotonic()), 3)
        )

    def wait(self, position: int | None, timeout: float = 5.0) -> None:
        """Block until every view has processed `position` (TimeoutError otherwise), across
        a restart of the runner."""
        deadline = time.monotonic() + timeout
        while True:
            runner = self._runner
            if runner is not None:
                runner.group.wait(
                    LedgerFeed.name, position, timeout=max(0.0, deadline - time.monotonic())
                )
                return
            if time.monotonic() >= deadline or self._stopping.wait(0.05):
                raise TimeoutError(f"the views have not processed log position {position}")

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            runner = self._runner
        if runner is not None:
            runner.stop()
        if self._supervisor is not None:
            self._supervisor.join(timeout=30)
            self._supervisor = None
        with self._lock:
            if self._status.state != "stopped" or self._status.error is None:
                self._status = ProjectorStatus(state="stopped", error=self._status.error)
            self._retry_at = None
        self._log.info("projection_stopped", views=self._label)

    def __enter__(self) -> Projector:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
