"""A token whose role may not hold its jurisdiction's level is refused: the API answers 401
`invalid_token_claims` (issue 12.4: a "county" token for the province had applied in another
county), and `cluster-ledger token` does not mint it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.testing import TestClient

from api.auth import ALGORITHM, InvalidTokenClaims, TokenVerifier
from api.cli import main
from infra.rules import load_regions
from tests.api.conftest import AUDIENCE, ISSUER
from tests.factories import FJ_PROVINCE, JINJIANG, SIMING, XIAMEN, fj_dossier

Auth = Callable[..., dict[str, str]]


def _apply_body(county: str) -> dict[str, Any]:
    dossier = msgspec.to_builtins(fj_dossier("晋江市（令牌）产业集群", county))
    return {"effective_date": "2025-03-03", "dossier": dossier}


def test_a_county_token_for_the_province_may_not_apply(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/clusters", json=_apply_body(JINJIANG), headers=auth("county", FJ_PROVINCE)
    )
    assert response.status_code == 401, response.text
    problem = response.json()
    assert problem["code"] == "invalid_token_claims"
    assert "role county" in problem["detail"]
    assert "province-level" in problem["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_same_county_with_its_own_county_applies(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/clusters", json=_apply_body(JINJIANG), headers=auth("county", JINJIANG)
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("role", "jurisdiction"), [
    ("county", FJ_PROVINCE), ("county", XIAMEN), ("city", SIMING), ("province", XIAMEN),
    ("miit_recorder", SIMING), ("operating_unit", XIAMEN), ("admin", XIAMEN),
])
def test_every_read_refuses_a_token_of_the_wrong_level(
    client: TestClient[Any], auth: Auth, role: str, jurisdiction: str
) -> None:
    for _ in range(2):  # a refused token is never cached as accepted
        response = client.get("/api/clusters", headers=auth(role, jurisdiction))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "invalid_token_claims"


def test_a_jurisdiction_not_in_the_region_table_is_refused(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.get("/api/clusters", headers=auth("auditor", "440300"))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token_claims"
    assert "440300" in response.json()["detail"]


def test_the_verifier_refuses_inconsistent_claims_every_time(jwt_keys: tuple[str, str]) -> None:
    private, public = jwt_keys
    verifier = TokenVerifier(public, ISSUER, AUDIENCE, regions=load_regions())
    now = int(time.time())
    claims = {"sub": "u", "role": "county", "org": "", "jur": FJ_PROVINCE, "iss": ISSUER,
              "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, private, algorithm=ALGORITHM)
    for _ in range(2):
        with pytest.raises(InvalidTokenClaims) as info:
            verifier.verify(token)
        assert isinstance(info.value, NotAuthorizedException)
        assert info.value.status_code == 401
    assert token not in verifier._cache
    good = jwt.encode({**claims, "jur": JINJIANG}, private, algorithm=ALGORITHM)
    assert verifier.verify(good).jurisdiction == JINJIANG


# ---- cluster-ledger token ----------------------------------------------------------------------


@pytest.fixture
def cli_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory of its own: the development key pair is generated there."""
    monkeypatch.setenv("CLUSTER_LEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CLUSTER_LEDGER_JWT_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("CLUSTER_LEDGER_JWT_PRIVATE_KEY_FILE", raising=False)
    return tmp_path


def test_the_token_command_refuses_a_county_for_the_province(
    cli_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "--user", "u", "--role", "county", "--jurisdiction", FJ_PROVINCE]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("cluster-ledger: [jurisdiction_level_mismatch] role county ")


def test_the_token_command_refuses_an_unknown_jurisdiction(
    cli_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "u", "--role", "city", "--jurisdiction", "440300"]) == 2
    assert "[unknown_jurisdiction]" in capsys.readouterr().err


@pytest.mark.parametrize(("role", "jurisdiction"), [
    ("county", JINJIANG), ("city", "350128"), ("province", FJ_PROVINCE),
    ("miit_recorder", XIAMEN), ("operating_unit", SIMING), ("auditor", XIAMEN),
    ("admin", FJ_PROVINCE),
])
def test_the_token_command_mints_consistent_claims(
    cli_keys: Path, capsys: pytest.CaptureFixture[str], role: str, jurisdiction: str
) -> None:
    assert main(["token", "--user", "u", "--role", role, "--jurisdiction", jurisdiction]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["role"], claims["jur"]) == (role, jurisdiction)
