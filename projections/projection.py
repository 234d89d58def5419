"""eventsourcing `Projection`s: which event goes to which view, and nothing else.

`process_event` dispatches on the event class: every Cluster event is folded into the view,
the voucher index's events only advance the view's position, and anything else stops the
projection with `UnhandledEvent` — it is never skipped (the runner re-raises it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow

from projections.bitemporal import BitemporalView
from projections.folds import (
    IGNORED_EVENTS,
    Rules,
    UnhandledEvent,
    handled_event_classes,
    topic_of,
)
from projections.schema import BITEMPORAL, DEADLINES, FUNDING, STATUS
from projections.views import DeadlinesView, FundingView, LedgerView, StatusView

TView = TypeVar("TView", bound=LedgerView)


def load_rules() -> Rules:
    from infra.rules import load_programmes, load_regions, load_rulebook

    return Rules(rulebook=load_rulebook(), programmes=load_programmes(), regions=load_regions())


class LedgerProjection(Projection[TView]):
    """Projects the ClusterLedger log into one view. `name` is the view's table prefix."""

    view_class: type[LedgerView]

    def __init__(self, view: TView, rules: Rules | None = None) -> None:
        super().__init__(view)
        self.rules = rules if rules is not None else load_rules()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise UnhandledEvent(
            f"projection {self.name} cannot handle {topic_of(domain_event)} at position "
            f"{tracking.notification_id}; it stops here rather than skip the event"
        )

    def process_batch(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        """Several events in log order, in one transaction of the view. An unhandled event
        stops the batch there: the events before it are projected, then `UnhandledEvent`."""
        items, unhandled = route(batch)
        if items:
            self.view.process_batch(items, self.rules)
        if unhandled is not None:
            self.process_event(*unhandled)  # raises UnhandledEvent

    def fold_batch(
        self, curs: Cursor[DictRow], items: Sequence[tuple[Any | None, Tracking]]
    ) -> None:
        """Routed events (see `route`) folded inside the caller's transaction, which holds the
        view's advisory lock: a runner feeding several views commits them together."""
        self.view.fold_batch(curs, items, self.rules)

    def _project(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.process(domain_event, tracking, self.rules)

    def _acknowledge(self, _domain_event: Any, tracking: Tracking) -> None:
        self.view.acknowledge(tracking, self.rules)


def _register() -> None:
    dispatcher: Any = LedgerProjection.__dict__["process_event"]  # the singledispatchmethod
    for event_class in handled_event_classes():
        dispatcher.register(event_class, LedgerProjection._project)
    for event_class in IGNORED_EVENTS:
        dispatcher.register(event_class, LedgerProjection._acknowledge)


_register()
_HANDLED = handled_event_classes()


def route(
    batch: Sequence[tuple[Any, Tracking]],
) -> tuple[list[tuple[Any | None, Tracking]], tuple[Any, Tracking] | None]:
    """Sort events for the views: a cluster event is folded, an event the views ignore
    becomes `None` (only its position counts). The first event no view can handle ends the
    list and is returned beside it, for the caller to stop on after folding the ones before."""
    items: list[tuple[Any | None, Tracking]] = []
    for domain_event, tracking in batch:
        if isinstance(domain_event, _HANDLED):
            items.append((domain_event, tracking))
        elif isinstance(domain_event, IGNORED_EVENTS):
            items.append((None, tracking))
        else:
            return items, (domain_event, tracking)
    return items, None


class StatusProjection(LedgerProjection[StatusView]):
    name = STATUS.prefix
    view_class = StatusView


class FundingProjection(LedgerProjection[FundingView]):
    name = FUNDING.prefix
    view_class = FundingView


class DeadlinesProjection(LedgerProjection[DeadlinesView]):
    name = DEADLINES.prefix
    view_class = DeadlinesView


class BitemporalProjection(LedgerProjection[BitemporalView]):
    name = BITEMPORAL.prefix
    view_class = BitemporalView


PROJECTIONS: dict[str, type[LedgerProjection[Any]]] = {
    STATUS.name: StatusProjection,
    FUNDING.name: FundingProjection,
    DEADLINES.name: DeadlinesProjection,
    BITEMPORAL.name: BitemporalProjection,
}
