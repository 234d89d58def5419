"""Withdrawing an application over HTTP: the county/district may, others may not, and the board
shows the case as withdrawn (FJ Art. 10; XM Art. 5)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import TestClient

from tests.api.test_lifecycle_xm import Auth, HttpCase
from tests.factories import xm_dossier

REASON = {"effective_date": "2024-12-09", "comment": "运营单位调整，主动撤回申报"}


def applied(client: TestClient[Any], auth: Auth) -> HttpCase:
    case = HttpCase(client, auth)
    case.apply(
        "district", {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    )
    return case


def test_the_district_withdraws_its_application(client: TestClient[Any], auth: Auth) -> None:
    case = applied(client, auth)
    answer = case.step("withdrawal", "district", REASON)
    assert answer["events"] == ["Withdrawn"]
    assert case.state()["status"] == "withdrawn"


def test_the_city_may_not_withdraw_a_districts_application(
    client: TestClient[Any], auth: Auth
) -> None:
    case = applied(client, auth)
    case.refused("withdrawal", "city", REASON, 403, "role_not_permitted")


def test_a_withdrawal_without_a_reason_is_refused(client: TestClient[Any], auth: Auth) -> None:
    case = applied(client, auth)
    case.refused("withdrawal", "district", {"effective_date": "2024-12-09"}, 422,
                 "reason_required")
