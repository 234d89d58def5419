"""Administrator calendar overrides over HTTP (infra.calendar_store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.testing import TestClient

from tests.factories import FJ_PROVINCE, XIAMEN

Auth = Callable[..., dict[str, str]]


def test_admin_enters_a_day_and_everyone_reads_it(client: TestClient[Any], auth: Auth) -> None:
    put = client.put(
        "/api/calendar/days/2160-02-07",
        json={"working": True, "note": "调休上班"},
        headers=auth("admin", FJ_PROVINCE, "admin-1"),
    )
    assert put.status_code == 200, put.text
    year = client.get("/api/calendar/2160", headers=auth("city", XIAMEN))
    assert year.status_code == 200
    (day,) = year.json()["overrides"]
    assert day["day"] == "2160-02-07"
    assert day["working"] is True
    assert day["note"] == "调休上班"
    assert day["entered_by"] == "admin-1"


def test_entering_a_day_twice_keeps_the_last_entry(client: TestClient[Any], auth: Auth) -> None:
    headers = auth("admin", FJ_PROVINCE)
    client.put("/api/calendar/days/2161-05-01", json={"working": True}, headers=headers)
    client.put(
        "/api/calendar/days/2161-05-01", json={"working": False, "note": "劳动节"}, headers=headers
    )
    days = client.get("/api/calendar/2161", headers=headers).json()["overrides"]
    assert [(d["day"], d["working"], d["note"]) for d in days] == [("2161-05-01", False, "劳动节")]


def test_declaring_a_year_official_makes_it_known(client: TestClient[Any], auth: Auth) -> None:
    headers = auth("admin", FJ_PROVINCE)
    assert client.get("/api/calendar/2162", headers=headers).json()["official"] is False
    declared = client.put("/api/calendar/official-years/2162", headers=headers)
    assert declared.status_code == 200
    assert declared.json()["official"] is True
    assert declared.json()["declared_by_admin"] is True


def test_a_province_user_may_not_change_the_calendar(client: TestClient[Any], auth: Auth) -> None:
    response = client.put(
        "/api/calendar/days/2163-01-02",
        json={"working": True},
        headers=auth("province", FJ_PROVINCE),
    )
    assert response.status_code == 403
    assert (
        client.get("/api/calendar/2163", headers=auth("admin", FJ_PROVINCE)).json()["overrides"]
        == []
    )


def test_impossible_day_is_not_a_500(client: TestClient[Any], auth: Auth) -> None:
    response = client.put(
        "/api/calendar/days/2160-02-30", json={"working": True}, headers=auth("admin", FJ_PROVINCE)
    )
    assert response.status_code in {400, 404}
    assert response.headers["content-type"].startswith("application/problem+json")


def test_year_out_of_range_is_400(client: TestClient[Any], auth: Auth) -> None:
    response = client.get("/api/calendar/1066", headers=auth("admin", FJ_PROVINCE))
    assert response.status_code == 400
