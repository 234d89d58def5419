"""Commands over HTTP: create, act with If-Match, ETag and position, provenance in the events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
import pytest
from litestar.testing import TestClient

from domain.review import DossierIn
from infra.application import ClusterLedger
from tests.factories import SIMING, XIAMEN, certified_xm, xm_dossier

Auth = Callable[..., dict[str, str]]


def _ledger(client: TestClient[Any]) -> ClusterLedger:
    ledger: ClusterLedger = client.app.state.runtime.ledger
    return ledger


def _dossier_json(**changes: Any) -> dict[str, Any]:
    dossier: dict[str, Any] = msgspec.to_builtins(xm_dossier())
    dossier.update(changes)
    return dossier


def _apply(client: TestClient[Any], auth: Auth, **headers: str) -> Any:
    return client.post(
        "/api/clusters",
        json={"effective_date": "2024-12-02", "dossier": _dossier_json()},
        headers=auth("county", SIMING, **headers),
    )


def _recommend(client: TestClient[Any], auth: Auth, cid: str, **headers: str) -> Any:
    return client.post(
        f"/api/clusters/{cid}/recommendation",
        json={"effective_date": "2024-12-16", "onsite_verified": True},
        headers=auth("city", XIAMEN, **headers),
    )


def test_apply_returns_201_with_location_etag_and_position(
    client: TestClient[Any], auth: Auth
) -> None:
    response = _apply(client, auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/clusters/{body['cluster_id']}"
    assert response.headers["etag"] == '"1"'
    assert body["version"] == 1
    assert body["events"] == ["Applied"]
    assert isinstance(body["position"], int)
    assert (
        client.get(response.headers["location"], headers=auth("county", SIMING)).status_code == 200
    )


def test_apply_body_round_trips_the_domain_dossier(client: TestClient[Any], auth: Auth) -> None:
    decoded = msgspec.convert(_dossier_json(), DossierIn)
    assert decoded.to_domain() == xm_dossier()


def test_command_with_matching_if_match_moves_the_version(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = _apply(client, auth).json()["cluster_id"]
    response = _recommend(client, auth, cid, **{"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json()["events"] == ["Recommended"]
    case = client.get(f"/api/clusters/{cid}", headers=auth("city", XIAMEN))
    assert case.headers["etag"] == '"2"'
    assert case.json()["case"]["status"] == "recommended"


def test_command_without_if_match_is_428_problem(client: TestClient[Any], auth: Auth) -> None:
    cid = _apply(client, auth).json()["cluster_id"]
    response = _recommend(client, auth, cid)
    assert response.status_code == 428
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "precondition_required"
    assert response.json()["fields"] == ["If-Match"]


def test_command_with_stale_if_match_is_412_and_writes_nothing(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = _apply(client, auth).json()["cluster_id"]
    assert _recommend(client, auth, cid, **{"If-Match": '"1"'}).status_code == 200
    stale = client.post(
        f"/api/clusters/{cid}/certification",
        json={"effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"},
        headers=auth("miit_recorder", XIAMEN, **{"If-Match": '"1"'}),
    )
    assert stale.status_code == 412
    problem = stale.json()
    assert problem["code"] == "stale_version"
    assert problem["details"] == {"current_version": 2, "expected_version": 1}
    assert _ledger(client).get_cluster(UUID(cid)).version == 2


@pytest.mark.parametrize("if_match", ["*", "abc", '"1", "2"', 'W/"x"'])
def test_malformed_if_match_is_400(client: TestClient[Any], auth: Auth, if_match: str) -> None:
    cid = _apply(client, auth).json()["cluster_id"]
    response = _recommend(client, auth, cid, **{"If-Match": if_match})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_if_match"


def test_weak_and_unquoted_etags_are_accepted(client: TestClient[Any], auth: Auth) -> None:
    cid = _apply(client, auth).json()["cluster_id"]
    assert _recommend(client, auth, cid, **{"If-Match": 'W/"1"'}).status_code == 200


def test_command_on_unknown_cluster_is_404(client: TestClient[Any], auth: Auth) -> None:
    response = _recommend(client, auth, str(uuid.uuid4()), **{"If-Match": '"1"'})
    assert response.status_code == 404
    assert response.json()["code"] == "cluster_not_found"


def test_actor_comes_from_the_token_not_the_body(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/clusters",
        json={
            "effective_date": "2024-12-02",
            "dossier": _dossier_json(),
            "actor": {"user_id": "x"},
        },
        headers=auth("county", SIMING),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == ["actor"]


def test_events_carry_actor_dates_document_and_request_ids(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = _apply(
        client, auth, **{"X-Request-ID": "req-apply-1", "X-Correlation-ID": "corr-42"}
    ).json()["cluster_id"]
    digest = "ab" * 32
    recommended = client.post(
        f"/api/clusters/{cid}/recommendation",
        json={
            "effective_date": "2024-12-16",
            "onsite_verified": True,
            "document_number": "厦工信〔2024〕9号",
            "comment": "现场核查通过",
            "attachments": [digest],
        },
        headers=auth("city", XIAMEN, **{"If-Match": '"1"', "X-Request-ID": "req-rec-1"}),
    )
    assert recommended.headers["x-request-id"] == "req-rec-1"
    history = client.get(f"/api/clusters/{cid}/events", headers=auth("auditor", "350000"))
    assert history.status_code == 200
    assert history.headers["etag"] == '"2"'
    applied, recommend = history.json()["events"]
    assert applied["type"] == "Applied"
    assert applied["request_id"] == "req-apply-1"
    assert applied["correlation_id"] == "corr-42"
    assert applied["actor"]["role"] == "county"
    assert applied["payload"]["dossier"]["county_code"] == SIMING
    assert recommend == {
        **recommend,
        "type": "Recommended",
        "version": 2,
        "position": recommended.json()["position"],
        "effective_date": "2024-12-16",
        "document_number": "厦工信〔2024〕9号",
        "comment": "现场核查通过",
        "attachments": [digest],
        "request_id": "req-rec-1",
        "correlation_id": "req-rec-1",
        "actor": {
            "user_id": f"city-{XIAMEN}",
            "role": "city",
            "organisation": "city office",
            "jurisdiction": XIAMEN,
        },
        "payload": {"rulebook_version": "XM-2024", "onsite_verified": True},
    }
    assert recommend["recorded_at"].endswith(("Z", "+00:00"))
    assert applied["position"] < recommend["position"]


def test_events_outside_jurisdiction_are_403(client: TestClient[Any], auth: Auth) -> None:
    cid = certified_xm(_ledger(client))
    response = client.get(f"/api/clusters/{cid}/events", headers=auth("city", "350500"))
    assert response.status_code == 403
    assert response.json()["code"] == "outside_jurisdiction"


def test_events_of_unknown_cluster_are_404(client: TestClient[Any], auth: Auth) -> None:
    response = client.get(f"/api/clusters/{uuid.uuid4()}/events", headers=auth("auditor", "350000"))
    assert response.status_code == 404


def test_xm_certification_effective_date_is_kept_apart_from_recording(
    client: TestClient[Any], auth: Auth
) -> None:
    cid = certified_xm(_ledger(client))
    events = client.get(f"/api/clusters/{cid}/events", headers=auth("city", XIAMEN)).json()[
        "events"
    ]
    certified = events[-1]
    assert certified["type"] == "Certified"
    assert certified["effective_date"] == "2025-01-20"
    recorded = datetime.fromisoformat(certified["recorded_at"])
    assert recorded.tzinfo is not None
    assert recorded.date() > date(2025, 1, 20)  # recorded now, effective on the decision's date
