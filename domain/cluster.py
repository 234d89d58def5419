"""The Cluster aggregate: one case from application to the end of its subsidy and audit.

The aggregate is assembled from its stages, one module each (`domain.review`,
`domain.certification`, `domain.monitoring`, `domain.funding`, `domain.sanctions`), over one
state (`domain.case.CaseState`) and one set of guards (`domain.stage`). This module holds what
opens a case (the application) and what makes the stages one aggregate.

Public methods are commands: they check the rules and then trigger an event. The body of each
private `@event` method is that event's applier; it only mutates `self.case` and runs again,
unchanged, on every replay. Anything that needs a calendar, the rulebook or the region table is
computed by the caller (the application service) and passed in, so that the domain stays pure
and its events record the figures that were applied (due dates, entitlements, rulebook version).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as BaseSnapshot

from domain.actors import EventMeta
from domain.case import CaseState, Status, copy_case
from domain.certification import CertificationStage
from domain.errors import InvalidInput, RuleViolation
from domain.facts import Dossier
from domain.funding import FundingStage
from domain.monitoring import MonitoringStage
from domain.programmes import ProgrammeProfile
from domain.review import ReviewStage
from domain.sanctions import SanctionsStage
from domain.stage import CERTIFICATION, stage_event_classes, subsidy_subject

__all__ = ["CERTIFICATION", "CaseSnapshot", "Cluster", "subsidy_subject"]


class CaseSnapshot(msgspec.Struct, kw_only=True):
    """The shape of a Cluster snapshot's state, so the mapper can decode it with types."""

    _created_on: datetime
    _modified_on: datetime
    case: CaseState


class Cluster(ReviewStage, CertificationStage, MonitoringStage, FundingStage, SanctionsStage):
    """One SME characteristic industrial cluster case."""

    case: CaseState

    def __deepcopy__(self, memo: dict[int, Any]) -> Cluster:
        """A copy whose case shares nothing that can change with this one.

        eventsourcing's aggregate cache hands each command a deep copy, so that a command
        refused half-way (or a save that loses a race) cannot corrupt the cached case.
        `copy.deepcopy` walks every object of a long case one by one; `copy_case` copies the
        containers and mutable parts and shares the frozen ones (most of a long history).
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.__dict__["_pending_events"] = list(self._pending_events)
        clone.__dict__["case"] = copy_case(self.case)
        memo[id(self)] = clone
        return clone

    # ---- events (schemas only grow: new fields get defaults) ---------------------------------

    class Applied(Aggregate.Created):
        meta: EventMeta
        dossier: Dossier
        rulebook_version: str

    class Snapshot(BaseSnapshot):
        state: CaseSnapshot  # type: ignore[assignment]  # take() stores a dict of this shape

    # ---- creation ---------------------------------------------------------------------------

    @classmethod
    def apply(
        cls, meta: EventMeta, dossier: Dossier, rulebook_version: str, *, profile: ProgrammeProfile
    ) -> Cluster:
        """Open a case for an application (FJ Art. 11; XM Art. 5–6)."""
        if not dossier.name.strip():
            raise InvalidInput("name_required", "the cluster needs a name", field="name")
        if not dossier.leading_industry.strip():
            raise InvalidInput(
                "leading_industry_required",
                "the dossier must name the leading industry",
                field="leading_industry",
            )
        for required in profile.dossier_requires:
            value = getattr(dossier, required.field)
            if not (value.strip() if isinstance(value, str) else value):
                raise RuleViolation(
                    required.code, f"{required.article}: {required.text}", field=required.field
                )
        if not dossier.negative_list_clear:
            raise RuleViolation(
                "negative_list_not_declared",
                "the applicant must declare no major accident, incident or violation in the "
                "last three years (certification standards, negative list)",
                field="negative_list_clear",
            )
        return cls(meta=meta, dossier=dossier, rulebook_version=rulebook_version)

    @event(Applied)
    def __init__(self, meta: EventMeta, dossier: Dossier, rulebook_version: str) -> None:
        self.case = CaseState(
            dossier=dossier,
            status=Status.APPLIED,
            applied_on=meta.effective_date,
            rulebook_version=rulebook_version,
            applied_by=meta.actor.user_id,
            last_effective_date=meta.effective_date,
        )


# eventsourcing redefines each inherited event class on the subclass (`Cluster.Certified` beside
# `CertificationStage.Certified`). The stage's class is the one its command methods trigger and
# the one stored topics resolve to, so `Cluster.<Event>` must name it, not an unused copy.
for _name in stage_event_classes(Cluster):
    if _name in vars(Cluster):
        delattr(Cluster, _name)


def cluster_event_classes() -> dict[str, type[Aggregate.Event]]:
    """Every event class a case stores, by name: the application and each stage's events."""
    return {"Applied": Cluster.Applied, **stage_event_classes(Cluster)}
