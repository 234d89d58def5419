"""Which events a reconstruction decodes (domain.history.versions_to_load).

`infra.case_history` reads the stored state of exactly the versions `versions_to_load` names;
if it named fewer than `case_at_refs` asks `load` for, a reconstruction would fail, if more, it
would read bytes it never uses. A case whose effective dates go back and forth (and an appeal
decided on a revocation some dates filter out) exercises prefixes, gaps and inapplicable events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.facts import AppealOutcome, ChangeKind
from domain.history import EventRef, case_at_refs, replayable_prefix, versions_to_load
from tests.unit.cluster_steps import appeal, appeal_decision_meta, fj_county, fj_revoked, profile_of

TODAY = date(2026, 1, 15)
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def _history() -> tuple[list[EventRef], dict[int, Any]]:
    cluster = fj_revoked()  # certified 2023-05-22, revoked 2025-09-24
    appeal(cluster)
    cluster.decide_appeal(appeal_decision_meta(date(2025, 11, 14)), AppealOutcome.OVERTURNED)
    for i in range(12):
        back_and_forth = date(2023, 6, 1) + timedelta(days=(i * 97) % 700)
        cluster.report_major_change(fj_county(back_and_forth), ChangeKind.SPATIAL_SCOPE, f"{i}",
            profile=profile_of(cluster))
    events: dict[int, Any] = {int(e.originator_version): e for e in cluster.collect_events()}
    refs = [
        EventRef(
            version=version, position=version, type=type(event).__name__,
            effective_date=event.meta.effective_date, recorded_at=T0 + timedelta(days=version),
        )
        for version, event in events.items()
    ]
    return refs, events


def _dates(refs: list[EventRef]) -> list[date]:
    days = {ref.effective_date + timedelta(days=k) for ref in refs for k in (-1, 0)}
    return sorted(days)


@pytest.mark.parametrize("known_days", [None, 0, 5, 9, 30])
def test_a_fold_from_the_first_event_loads_exactly_the_versions_named(
    known_days: int | None,
) -> None:
    refs, events = _history()
    known_at = None if known_days is None else T0 + timedelta(days=known_days, hours=1)
    for day in [None, *_dates(refs)]:
        loaded: list[int] = []

        def load(ref: EventRef, loaded: list[int] = loaded) -> Any:
            loaded.append(ref.version)
            return events[ref.version]

        case_at_refs(
            events[1].originator_id, refs, load, today=TODAY, as_of=day, known_at=known_at
        )
        assert loaded == versions_to_load(refs, 0, day, known_at), day


@pytest.mark.parametrize("known_days", [0, 5, 9, 30])
def test_the_versions_after_a_start_are_the_loaded_ones_above_it(known_days: int) -> None:
    refs, _ = _history()
    known_at = T0 + timedelta(days=known_days, hours=1)
    for day in _dates(refs):
        every = versions_to_load(refs, 0, day, known_at)
        for start in range(len(refs) + 1):
            assert versions_to_load(refs, start, day, known_at) == [v for v in every if v > start]


def test_within_the_replayable_prefix_every_version_is_loaded() -> None:
    refs, _ = _history()
    for day in _dates(refs):
        prefix = replayable_prefix(refs, day, None)
        assert versions_to_load(refs, 0, day, None)[:prefix] == list(range(1, prefix + 1))
