"""The status board on a past date, from the bitemporal view (GET /api/clusters?as_of=)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.testing import TestClient

from tests.factories import certified_fj, fj_dossier


def _status_of(
    client: TestClient[Any], headers: dict[str, str], cid: str, query: str
) -> str | None:
    head = client.app.state.runtime.ledger.recorder.max_notification_id()
    response = client.get(f"/api/clusters?{query}&after={head}&limit=500", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None
    statuses = {item["id"]: item["status"] for item in response.json()["items"]}
    return statuses.get(cid)


def test_board_as_of_shows_each_case_as_it_stood_on_the_date(
    client: TestClient[Any], auth: Callable[..., dict[str, str]]
) -> None:
    ledger = client.app.state.runtime.ledger
    cid = str(certified_fj(ledger, fj_dossier("南安市水暖厨卫产业集群（看板回溯）", "350583")))
    headers = auth("province", "350000")
    assert _status_of(client, headers, cid, "as_of=2023-02-01") is None  # not applied yet
    assert _status_of(client, headers, cid, "as_of=2023-04-10") == "recommended"
    assert _status_of(client, headers, cid, "as_of=2023-05-10") == "under_notice"
    assert _status_of(client, headers, cid, "as_of=2023-06-01") == "certified"
    assert _status_of(client, headers, cid, "as_of=2023-06-01&status=recommended") is None


def test_board_as_of_stays_inside_the_callers_jurisdiction(
    client: TestClient[Any], auth: Callable[..., dict[str, str]]
) -> None:
    ledger = client.app.state.runtime.ledger
    cid = str(certified_fj(ledger, fj_dossier("德化县白瓷产业集群（看板辖区）", "350526")))
    assert _status_of(client, auth("city", "350500"), cid, "as_of=2023-06-01") == "certified"
    assert _status_of(client, auth("city", "350200"), cid, "as_of=2023-06-01") is None


def test_ready_reports_every_view_caught_up(client: TestClient[Any]) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["projections"]["ok"] is True
    assert {v["view"] for v in body["projections"]["views"]} >= {"status", "funding", "deadlines"}
