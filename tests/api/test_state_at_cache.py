"""`GET /api/clusters/{id}/state` with the process's cache of event heads (`history_cache`).

The route keeps a case's heads after the first look-up; a reader outside the case's
jurisdiction is still refused once they are cached, a command's new event shows in the next
answer, and the setting at 0 turns the cache off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import msgspec
from litestar.testing import TestClient

from api.routes.audit import HEAD_CACHE_KEY, head_cache_of
from api.runtime import Runtime
from domain.commands import Command
from domain.facts import ChangeKind
from infra.application import ClusterLedger
from infra.event_heads import HeadCache
from infra.settings import Settings
from tests.factories import FJ_PROVINCE, JINJIANG, XIAMEN, certified_fj, fj_dossier, meta

Auth = Callable[..., dict[str, str]]


def _runtime(client: TestClient[Any]) -> Runtime:
    runtime: Runtime = client.app.state.runtime
    return runtime


def _case(client: TestClient[Any]) -> UUID:
    return certified_fj(
        _runtime(client).ledger, fj_dossier(name=f"缓存接口产业集群-{uuid4().hex[:6]}")
    )


def _cache(client: TestClient[Any]) -> HeadCache:
    cache: HeadCache = _runtime(client).extras[HEAD_CACHE_KEY]
    return cache


def test_a_cached_case_is_refused_to_a_reader_outside_its_jurisdiction(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = _case(client)
    url = f"/api/clusters/{cid}/state"
    assert client.get(url, headers=auth("province", FJ_PROVINCE)).status_code == 200
    assert cid in _cache(client)

    refused = client.get(url, headers=auth("city", XIAMEN))

    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "outside_jurisdiction"
    assert client.get(url, headers=auth("county", JINJIANG)).status_code == 200


def test_an_event_recorded_after_the_case_was_cached_is_in_the_next_answer(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = _case(client)
    url = f"/api/clusters/{cid}/state"
    assert client.get(url, headers=auth("province", FJ_PROVINCE)).json()["version"] == 4
    ledger: ClusterLedger = _runtime(client).ledger
    ledger.issue(
        Command.REPORT_MAJOR_CHANGE, cid, meta("county", JINJIANG, date(2023, 7, 1)), 4,
        kind=ChangeKind.SPATIAL_SCOPE, new_value="规划范围调整",
    )

    body = client.get(url, headers=auth("province", FJ_PROVINCE)).json()

    assert body["version"] == 5
    assert body["used"][-1]["type"] == "MajorChangeReported"
    cached = _cache(client).get(cid)
    assert cached is not None
    assert cached.last_version == 5


def test_the_setting_at_zero_turns_the_cache_off(client: TestClient[Any]) -> None:
    runtime = _runtime(client)
    off = msgspec.structs.replace(runtime, settings=Settings(history_cache=0), extras={})
    assert head_cache_of(off) is None
    on = msgspec.structs.replace(runtime, settings=Settings(history_cache=500), extras={})
    cache = head_cache_of(on)
    assert cache is not None
    assert cache.max_heads == 500
    assert head_cache_of(on) is cache


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({"CLUSTER_LEDGER_HISTORY_CACHE": "0"}).history_cache == 0
    assert Settings.from_env({}).history_cache == Settings().history_cache
