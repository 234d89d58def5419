"""State at a date from a snapshot gives the same answer as the fold from the first event.

A case with 124 events (snapshots at versions 50 and 100) whose effective dates go back and
forth, so that for many dates the filters keep only part of the history before a snapshot and
the reconstruction must start from an earlier one, or from the first event. Every distinct
effective date, the days around them, and recording instants between commands are compared,
whole response against whole response (`full=true` folds every event).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from domain.commands import Command
from domain.facts import ChangeKind
from infra.application import ClusterLedger
from tests.factories import FJ_PROVINCE, JINJIANG, certified_fj, fj_dossier, meta

Auth = Callable[..., dict[str, str]]
CHANGES = 120


def _ledger(client: TestClient[Any]) -> ClusterLedger:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return ledger


def _effective(i: int) -> date:
    # Back and forth over a year after certification (2023-05-22): never monotonic.
    return date(2023, 6, 1) + timedelta(days=(i * 37) % 365)


@pytest.fixture(scope="module")
def long_case(client: TestClient[Any]) -> tuple[UUID, list[datetime]]:
    """The case and, every 10 commands, an instant between two recordings."""
    ledger = _ledger(client)
    cid = certified_fj(ledger, fj_dossier(name=f"快照测试产业集群-{uuid4().hex[:6]}"))
    version, instants = 4, []
    for i in range(CHANGES):
        version = ledger.issue(
            Command.REPORT_MAJOR_CHANGE, cid, meta("county", JINJIANG, _effective(i)), version,
            kind=ChangeKind.SPATIAL_SCOPE, new_value=f"规划范围调整 {i}",
        ).version
        if i % 10 == 5:
            instants.append(datetime.now(UTC))
    assert ledger.snapshots is not None
    assert [s.originator_version for s in ledger.snapshots.get(cid)] == [50, 100]
    return cid, instants


def _state(client: TestClient[Any], auth: Auth, cid: UUID, **params: str) -> dict[str, Any]:
    response = client.get(
        f"/api/clusters/{cid}/state", params=params, headers=auth("province", FJ_PROVINCE)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_date_answers_as_the_full_fold(
    client: TestClient[Any], auth: Auth, long_case: tuple[UUID, list[datetime]]
) -> None:
    cid, _ = long_case
    dates = sorted({_effective(i) for i in range(CHANGES)})
    days = sorted({d + timedelta(days=k) for d in dates for k in (-1, 0)} | {date(2023, 5, 21)})
    partial = 0
    for day in days:
        fast = _state(client, auth, cid, as_of=day.isoformat())
        full = _state(client, auth, cid, as_of=day.isoformat(), full="true")
        assert fast == full, day
        partial += 0 < len(full["used"]) < 4 + CHANGES
    assert partial > 50  # most dates keep part of the history, not all or nothing
    assert _state(client, auth, cid) == _state(client, auth, cid, full="true")


def test_recording_instants_answer_as_the_full_fold(
    client: TestClient[Any], auth: Auth, long_case: tuple[UUID, list[datetime]]
) -> None:
    cid, instants = long_case
    for instant in instants:
        for extra in ({}, {"as_of": "2023-12-31"}):
            params = {"known_at": instant.isoformat(), **extra}
            fast = _state(client, auth, cid, **params)
            assert fast == _state(client, auth, cid, full="true", **params)
            assert all(
                datetime.fromisoformat(ref["recorded_at"]) <= instant for ref in fast["used"]
            )
    latest = _state(client, auth, cid, known_at=instants[-1].isoformat())
    assert latest["version"] == 4 + 10 * (len(instants) - 1) + 6
