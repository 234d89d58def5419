"""Running the projections: one eventsourcing `ProjectionRunner` per view, supervised.

Each runner subscribes to the ClusterLedger log from its view's tracking position (so a
restarted projector resumes exactly where it stopped), and processes events in a thread. A
runner whose projection fails stops with the error; the supervisor records it and logs it, and
never restarts it silently: the error has to be fixed and the projector restarted.

The upstream application is `LedgerFeed`, a ClusterLedger built from the environment alone,
so that the runner reads the log with the application's own name, msgspec mapper and recorder.
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import Tracking
from eventsourcing.projection import ApplicationSubscription, ProjectionRunner

from domain.calendar import WorkingDayCalendar
from domain.errors import ConfigError
from domain.regions import Regions
from domain.rulebook import Rulebook
from infra.application import ClusterLedger, Services
from infra.database import ConnectionInfo
from projections.projection import PROJECTIONS, LedgerProjection
from projections.schema import VIEWS
from projections.views import LedgerView

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


class BatchingRunner(ProjectionRunner[LedgerFeed, LedgerView]):
    """eventsourcing's `ProjectionRunner`, except that the events already read from the log
    and waiting are folded together, up to `MAX_BATCH`, in one transaction of the view
    (`LedgerProjection.process_batch`): a busy log costs one commit per batch instead of one
    per event; an idle one is processed event by event, as soon as each arrives."""

    @staticmethod
    def _process_events_loop(  # type: ignore[override]
        subscription: ApplicationSubscription[Any],
        projection: LedgerProjection[Any],
        is_stopping: threading.Event,
        runner: weakref.ReferenceType[Any],
    ) -> None:
        try:
            batch: list[tuple[Any, Tracking]] = []
            for domain_event, tracking in subscription:
                batch.append((domain_event, tracking))
                if len(batch) < MAX_BATCH and _more_ready(subscription):
                    continue
                projection.process_batch(batch)
                batch = []
        except BaseException as exc:  # noqa: BLE001 - handed to the runner, as eventsourcing does
            owner = runner()
            if owner is not None:
                owner._thread_error = exc
        finally:
            is_stopping.set()


class ProjectionFailure(msgspec.Struct, frozen=True, kw_only=True):
    view: str
    error: str


class Projector:
    """Runs the named views' projections until stopped, or until one fails."""

    def __init__(
        self,
        conn: ConnectionInfo,
        names: Iterable[str] = VIEW_NAMES,
        projections: Mapping[str, type[LedgerProjection[Any]]] | None = None,
    ) -> None:
        self._conn = conn
        classes = projections or PROJECTIONS
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise ConfigError(
                "unknown_view", f"no view named {', '.join(unknown)}; views: {', '.join(classes)}"
            )
        self._classes = {name: classes[name] for name in names}
        self._runners: dict[str, ProjectionRunner[LedgerFeed, LedgerView]] = {}
        self._supervisors: list[threading.Thread] = []
        self._failures: list[ProjectionFailure] = []
        self._lock = threading.Lock()
        self.failed = threading.Event()
        self._log = structlog.get_logger("projector")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def start(self) -> None:
        env = runner_env(self._conn)
        for name, projection_class in self._classes.items():
            runner: ProjectionRunner[LedgerFeed, LedgerView] = BatchingRunner(
                application_class=LedgerFeed,
                projection_class=projection_class,
                view_class=projection_class.view_class,
                env=env,
            )
            runner.__enter__()
            self._runners[name] = runner
            supervisor = threading.Thread(
                target=self._supervise, args=(name, runner), name=f"projector-{name}",
                daemon=True,
            )
            supervisor.start()
            self._supervisors.append(supervisor)
            self._log.info("projection_started", view=name, position=runner.view.position())

    def _supervise(self, name: str, runner: ProjectionRunner[LedgerFeed, LedgerView]) -> None:
        try:
            runner.run_forever()
        except BaseException as exc:  # noqa: BLE001 - recorded and reported, never swallowed
            failure = ProjectionFailure(view=name, error=f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._failures.append(failure)
            self._log.error(
                "projection_failed", view=name, error=failure.error,
                position=runner.view.position(),
                traceback="".join(traceback.format_exception(exc)),
            )
            self.failed.set()

    def failures(self) -> tuple[ProjectionFailure, ...]:
        with self._lock:
            return tuple(self._failures)

    def wait(self, position: int | None, timeout: float = 5.0) -> None:
        """Block until every view has processed `position` (TimeoutError otherwise)."""
        for runner in self._runners.values():
            runner.wait(position, timeout=timeout)

    def stop(self) -> None:
        runners, self._runners = self._runners, {}
        for runner in runners.values():
            runner.stop()
        for name, runner in runners.items():
            try:
                runner.__exit__(None, None, None)
            except BaseException as exc:  # noqa: BLE001 - a failure not yet seen by its supervisor
                failure = ProjectionFailure(view=name, error=f"{type(exc).__name__}: {exc}")
                with self._lock:
                    if failure not in self._failures:
                        self._failures.append(failure)
                self.failed.set()
            finally:
                runner.view.datastore.close()
            self._log.info("projection_stopped", view=name)
        for supervisor in self._supervisors:
            supervisor.join(timeout=5)
        self._supervisors = []

    def __enter__(self) -> Projector:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
