"""Idempotency-Key over HTTP: retries replay, reuse is refused, races pay once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
from litestar.testing import TestClient

from domain.commands import Command
from infra.application import ClusterLedger
from infra.settings import Settings
from tests.factories import SIMING, XIAMEN, certified_xm, meta, plan_lines, xm_dossier

Auth = Callable[..., dict[str, str]]
YEAR_ONE_FEN = 100_000_000


def _ledger(client: TestClient[Any]) -> ClusterLedger:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return ledger


def _approved_year_one(ledger: ClusterLedger) -> tuple[UUID, int]:
    """A certified XM cluster whose year-1 subsidy is approved and whose notice is over."""
    cid = certified_xm(ledger)
    ledger.issue(
        Command.SUBMIT_FUND_USE_PLAN, cid,
        meta("operating_unit", SIMING, date(2025, 2, 10)),
        3,
        funding_year=1,
        lines=plan_lines(YEAR_ONE_FEN),
    )
    ledger.issue(
        Command.REVIEW_FUND_USE_PLAN,
        cid,
        meta("county", SIMING, date(2025, 2, 20)),
        4,
        funding_year=1,
        passed=True,
    )
    ledger.issue(
        Command.APPROVE_SUBSIDY, cid,
        meta("city", XIAMEN, date(2025, 3, 3), user_id="city-approver"),
        5,
        funding_year=1,
        amount_fen=YEAR_ONE_FEN,
    )
    return cid, 6


def _payment(voucher: str, amount: int = YEAR_ONE_FEN) -> dict[str, Any]:
    return {
        "effective_date": "2025-03-20",
        "funding_year": 1,
        "amount_fen": amount,
        "voucher": voucher,
    }


def _pay(
    client: TestClient[Any],
    auth: Auth,
    cid: UUID,
    body: dict[str, Any],
    version: int,
    key: str,
    user_id: str | None = None,
) -> Any:
    return client.post(
        f"/api/clusters/{cid}/payments",
        json=body,
        headers=auth(
            "city", XIAMEN, user_id, **{"If-Match": f'"{version}"', "Idempotency-Key": key}
        ),
    )


def _event_types(client: TestClient[Any], auth: Auth, cid: UUID | str) -> list[str]:
    response = client.get(f"/api/clusters/{cid}/events", headers=auth("auditor", "350000"))
    return [e["type"] for e in response.json()["events"]]


def test_retry_with_same_key_and_body_replays_and_writes_nothing(
    client: TestClient[Any], auth: Auth
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key, body = str(uuid.uuid4()), _payment(f"V-{uuid.uuid4().hex[:12]}")
    first = _pay(client, auth, cid, body, version, key)
    retry = _pay(client, auth, cid, body, version, key)
    assert first.status_code == 200, first.text
    assert "idempotency-replayed" not in first.headers
    assert retry.status_code == 200
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["etag"] == first.headers["etag"] == f'"{version + 1}"'
    assert _event_types(client, auth, cid).count("SubsidyPaid") == 1
    assert _ledger(client).get_cluster(cid).version == version + 1


def test_field_order_and_whitespace_do_not_change_the_fingerprint(
    client: TestClient[Any], auth: Auth
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key, body = str(uuid.uuid4()), _payment(f"V-{uuid.uuid4().hex[:12]}")
    headers = auth(
        "city",
        XIAMEN,
        **{"If-Match": f'"{version}"', "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    first = client.post(f"/api/clusters/{cid}/payments", json=body, headers=headers)
    reordered = msgspec.json.encode(dict(reversed(list(body.items())))).replace(b",", b" ,  ")
    retry = client.post(f"/api/clusters/{cid}/payments", content=reordered, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.json() == first.json()


def test_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient[Any], auth: Auth
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key = str(uuid.uuid4())
    assert (
        _pay(client, auth, cid, _payment("V-A-" + key[:8], 40_000_000), version, key).status_code
        == 200
    )
    reused = _pay(client, auth, cid, _payment("V-B-" + key[:8], 30_000_000), version + 1, key)
    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["code"] == "idempotency_key_reused"
    assert _ledger(client).get_cluster(cid).version == version + 1


def test_same_key_on_another_path_is_422(client: TestClient[Any], auth: Auth) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key = str(uuid.uuid4())
    assert _pay(client, auth, cid, _payment("V-P-" + key[:8]), version, key).status_code == 200
    other = client.post(
        f"/api/clusters/{cid}/audit-findings",
        json={"effective_date": "2028-06-01", "summary": "票据不全"},
        headers=auth("city", XIAMEN, **{"If-Match": f'"{version + 1}"', "Idempotency-Key": key}),
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_replay_is_returned_even_after_the_case_moved_on(
    client: TestClient[Any], auth: Auth
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key, body = str(uuid.uuid4()), _payment(f"V-{uuid.uuid4().hex[:12]}", 60_000_000)
    first = _pay(client, auth, cid, body, version, key)
    second = _pay(
        client,
        auth,
        cid,
        _payment(f"V-{uuid.uuid4().hex[:12]}", 10_000_000),
        version + 1,
        str(uuid.uuid4()),
    )
    assert second.status_code == 200
    retry = _pay(client, auth, cid, body, version, key)  # If-Match is stale by now
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"


def test_failed_request_does_not_use_up_its_key(client: TestClient[Any], auth: Auth) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key = str(uuid.uuid4())
    too_much = _pay(client, auth, cid, _payment("V-F-" + key[:8], YEAR_ONE_FEN + 1), version, key)
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "payment_exceeds_approval"
    fixed = _pay(client, auth, cid, _payment("V-F-" + key[:8]), version, key)
    assert fixed.status_code == 200
    assert "idempotency-replayed" not in fixed.headers


def test_keys_belong_to_one_user(client: TestClient[Any], auth: Auth) -> None:
    key = str(uuid.uuid4())
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    headers = {"Idempotency-Key": key}
    first = client.post(
        "/api/clusters", json=body, headers=auth("county", SIMING, "alice", **headers)
    )
    other = client.post(
        "/api/clusters", json=body, headers=auth("county", SIMING, "bob", **headers)
    )
    assert first.status_code == other.status_code == 201
    assert first.json()["cluster_id"] != other.json()["cluster_id"]
    assert "idempotency-replayed" not in other.headers


def test_apply_retry_replays_201_with_location(client: TestClient[Any], auth: Auth) -> None:
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    headers = auth("county", SIMING, **{"Idempotency-Key": str(uuid.uuid4())})
    first = client.post("/api/clusters", json=body, headers=headers)
    retry = client.post("/api/clusters", json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 201, "ключ".encode()])
def test_malformed_idempotency_key_is_400(client: TestClient[Any], auth: Auth, key: bytes) -> None:
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    headers: dict[str, Any] = {**auth("county", SIMING), "Idempotency-Key": key}
    response = client.post("/api/clusters", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_idempotency_key", "invalid_request"}


def test_key_is_stored_with_the_events_position(
    client: TestClient[Any], auth: Auth, api_settings: Settings
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key = str(uuid.uuid4())
    paid = _pay(client, auth, cid, _payment(f"V-{uuid.uuid4().hex[:12]}"), version, key)
    assert api_settings.database_url is not None
    with psycopg.connect(api_settings.database_url) as conn:
        row = conn.execute(
            "SELECT status_code, notification_id, fingerprint FROM idempotency_keys"
            " WHERE user_id = %s AND key = %s",
            (f"city-{XIAMEN}", key),
        ).fetchone()
    assert row is not None
    assert row[0] == 200
    assert row[1] == paid.json()["position"]
    assert len(row[2]) == 64


def _race(n: int, send: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)

    def go() -> Any:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(go) for _ in range(n)]
        return [f.result(timeout=60) for f in futures]


def test_concurrent_duplicate_payments_pay_exactly_once(
    client: TestClient[Any], auth: Auth
) -> None:
    cid, version = _approved_year_one(_ledger(client))
    key, body = str(uuid.uuid4()), _payment(f"V-{uuid.uuid4().hex[:12]}")
    responses = _race(8, lambda: _pay(client, auth, cid, body, version, key))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotency-replayed") == "true" for r in responses) == 7
    assert _event_types(client, auth, cid).count("SubsidyPaid") == 1
    assert _ledger(client).get_cluster(cid).case.funding[1].paid_fen == YEAR_ONE_FEN


def test_concurrent_duplicate_applications_open_one_case(
    client: TestClient[Any], auth: Auth, api_settings: Settings
) -> None:
    user = f"county-{uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    headers = auth("county", SIMING, user, **{"Idempotency-Key": key})
    responses = _race(6, lambda: client.post("/api/clusters", json=body, headers=headers))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["cluster_id"] for r in responses}) == 1
    assert api_settings.database_url is not None
    with psycopg.connect(api_settings.database_url) as conn:
        opened = conn.execute(
            "SELECT count(*) FROM clusterledger_events WHERE topic LIKE %s"
            " AND convert_from(state, 'UTF8')::jsonb -> 'meta' -> 'actor' ->> 'user_id' = %s",
            ("%Cluster.Applied", user),
        ).fetchone()
    assert opened == (1,)
