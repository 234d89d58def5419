"""The one input policy at the edge (`api.input_policy`): text, numbers, dates, JSON depth.

What a user types ends up in immutable events and in views everyone shares: each refusal here
is a clear 4xx naming the field, never a 500, and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from litestar.testing import TestClient

from api import schemas
from api.input_policy import (
    MAX_JSON_DEPTH,
    TextKind,
    clean_text,
    json_too_deep,
)
from domain.commands import CommandBody, CommandSpec, commands
from domain.errors import InvalidInput
from domain.inputs import RequestBody
from infra.rules import load_programmes
from tests.factories import SIMING, xm_dossier

Auth = Callable[..., dict[str, str]]


def _apply(client: TestClient[Any], auth: Auth, **dossier_changes: Any) -> Any:
    dossier = msgspec.to_builtins(xm_dossier())
    dossier.update(dossier_changes)
    return client.post(
        "/api/clusters",
        json={"effective_date": "2024-12-02", "dossier": dossier},
        headers=auth("county", SIMING),
    )


# ---- text ------------------------------------------------------------------------------------

REFUSED_IN_NAMES = [
    ("\x00", "U+0000", "text_control_character"),
    ("\x07", "U+0007", "text_control_character"),
    ("\x85", "U+0085", "text_control_character"),
    ("\t", "U+0009", "text_control_character"),
    ("\n", "U+000A", "text_control_character"),
    ("\u202e", "U+202E", "text_bidi_control"),
    ("\u2066", "U+2066", "text_bidi_control"),
    ("\u200f", "U+200F", "text_bidi_control"),
    ("\u200b", "U+200B", "text_invisible_character"),
    ("\u2060", "U+2060", "text_invisible_character"),
    ("\ufeff", "U+FEFF", "text_invisible_character"),
]


@pytest.mark.parametrize(("char", "code_point", "code"), REFUSED_IN_NAMES)
def test_a_name_with_a_refused_character_is_422_naming_field_position_and_code_point(
    client: TestClient[Any], auth: Auth, char: str, code_point: str, code: str
) -> None:
    response = _apply(client, auth, name=f"厦门{char}集群")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == code
    assert problem["fields"] == ["dossier.name"]
    assert problem["details"]["position"] == 3
    assert problem["details"]["code_point"] == code_point
    assert code_point in problem["detail"]


def test_a_lone_surrogate_escape_in_json_is_refused(client: TestClient[Any], auth: Auth) -> None:
    """msgspec refuses `\\ud800` without its low half as malformed JSON: it never reaches the
    policy (which refuses lone surrogates from any other source)."""
    body = msgspec.json.encode(
        {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    ).replace("思明区".encode(), b"\\ud800")
    response = client.post(
        "/api/clusters", content=body,
        headers=auth("county", SIMING, **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_json"
    with pytest.raises(InvalidInput) as refused:
        clean_text("name", "思明\ud800区")
    assert refused.value.code == "text_lone_surrogate"
    assert refused.value.details["code_point"] == "U+D800"


def test_markup_in_a_name_is_kept_as_text(client: TestClient[Any], auth: Auth) -> None:
    """`<script>` is visible text, not a control character: it is stored as typed and the
    pages escape it when they show it."""
    response = _apply(client, auth, name="<script>alert(1)</script>集群")
    assert response.status_code == 201, response.text
    case = client.get(response.headers["location"], headers=auth("county", SIMING)).json()
    assert case["case"]["dossier"]["name"] == "<script>alert(1)</script>集群"


def test_names_are_trimmed_and_nfc_normalised_before_they_are_stored(
    client: TestClient[Any], auth: Auth
) -> None:
    response = _apply(client, auth, name="\u3000 Cafe\u0301 厦门集群 \n", leading_industry=" 软件 ")
    assert response.status_code == 201, response.text
    dossier = client.get(
        response.headers["location"], headers=auth("county", SIMING)
    ).json()["case"]["dossier"]
    assert dossier["name"] == "Caf\u00e9 厦门集群"
    assert dossier["leading_industry"] == "软件"


def test_a_name_of_only_spaces_is_too_short(client: TestClient[Any], auth: Auth) -> None:
    response = _apply(client, auth, name=" \u3000 ")
    assert response.status_code == 422
    assert response.json()["code"] == "text_too_short"
    assert response.json()["fields"] == ["dossier.name"]


def test_free_text_keeps_tabs_and_newlines_and_normalises_line_ends() -> None:
    assert clean_text("comment", "第一行\r\n第二行\r第三\t行 ", TextKind.PARAGRAPH) == (
        "第一行\n第二行\n第三\t行"
    )


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x1b", "\u202e", "\ud800"])
def test_free_text_still_refuses_controls_bidi_overrides_and_lone_surrogates(char: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text("comment", f"理由{char}说明", TextKind.PARAGRAPH)
    assert refused.value.details["position"] == 3


def test_zero_width_joiners_are_allowed_in_free_text_but_not_in_a_line() -> None:
    assert clean_text("comment", "a\u200db", TextKind.PARAGRAPH) == "a\u200db"
    with pytest.raises(InvalidInput):
        clean_text("name", "a\u200db")


def test_the_position_counts_from_the_text_as_sent() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text("name", "  ab\x00")
    assert refused.value.details["position"] == 5


def test_a_command_comment_with_a_nul_is_refused_and_nothing_is_written(
    client: TestClient[Any], auth: Auth
) -> None:
    created = _apply(client, auth)
    assert created.status_code == 201
    location = created.headers["location"]
    response = client.post(
        f"{location}/recommendation",
        json={"effective_date": "2024-12-10", "onsite_verified": True, "comment": "ok\x00"},
        headers=auth("city", "350200", **{"If-Match": '"1"'}),
    )
    assert response.status_code == 422
    assert response.json()["fields"] == ["comment"]
    assert client.get(location, headers=auth("county", SIMING)).headers["etag"] == '"1"'


def test_a_query_text_with_a_nul_is_422(client: TestClient[Any], auth: Auth) -> None:
    response = client.get(
        "/api/clusters", params={"industry": "软\x00件"}, headers=auth("province", "350000")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "text_control_character"


# ---- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"plan_targets": [
                {"indicator": "产值", "baseline": 1, "target": 2, "by_year": 10**30}
            ]},
            "dossier.plan_targets[0].by_year",
        ),
        ({"indicators": {"output_value_yuan": [int("9" * 400)]}}, "dossier.indicators"),
        ({"indicators": {"area_km2": "1E-999999"}}, "dossier.indicators.area_km2"),
        ({"indicators": {"area_km2": "9" * 400}}, "dossier.indicators.area_km2"),
        (
            {"plan_targets": [{"indicator": "产值", "baseline": "1e30", "target": 2,
                               "by_year": 2026}]},
            "dossier.plan_targets[0].baseline",
        ),
    ],
)
def test_an_unbounded_number_in_a_dossier_is_a_400_naming_it(
    client: TestClient[Any], auth: Auth, changes: dict[str, Any], field: str
) -> None:
    response = _apply(client, auth, **changes)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert any(f.startswith(field) for f in problem["fields"]), problem


def test_a_date_outside_the_plausible_range_is_a_400(client: TestClient[Any], auth: Auth) -> None:
    dossier = msgspec.to_builtins(xm_dossier())
    for day in ("9999-12-31", "0001-01-01", "1989-12-31", "2201-01-01"):
        response = client.post(
            "/api/clusters", json={"effective_date": day, "dossier": dossier},
            headers=auth("county", SIMING),
        )
        assert response.status_code == 400, (day, response.text)
        assert response.json()["fields"] == ["effective_date"]


def _body_types() -> Iterator[type[msgspec.Struct]]:
    assert schemas.EligibilityRequest  # the API's own bodies are loaded, and every command's:
    assert commands()
    pending: list[type[msgspec.Struct]] = [RequestBody]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not RequestBody and cls is not CommandBody:
            yield cls


def _unbounded(info: Any, path: str) -> Iterator[str]:
    extra: dict[str, Any] = {}
    while isinstance(info, mi.Metadata):
        extra.update(info.extra or {})
        info = info.type
    if isinstance(info, mi.IntType):
        if (info.ge is None and info.gt is None) or (info.le is None and info.lt is None):
            yield f"{path}: int without both bounds"
    elif isinstance(info, mi.StrType):
        if info.max_length is None and info.pattern is None:
            yield f"{path}: text without a maximum length"
    elif isinstance(info, mi.DecimalType):
        if "decimal_bounds" not in extra and not path.endswith(".score"):
            yield f"{path}: decimal without bounds"
    elif isinstance(info, mi.FloatType):
        yield f"{path}: float (money and figures are int or Decimal)"
    elif isinstance(info, mi.StructType):
        for field in info.fields:
            yield from _unbounded(field.type, f"{path}.{field.name}")
    elif isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        if info.max_length is None:
            yield f"{path}: sequence without a maximum length"
        yield from _unbounded(info.item_type, f"{path}[]")
    elif isinstance(info, mi.UnionType):
        for member in info.types:
            yield from _unbounded(member, path)


def test_every_number_text_and_list_of_every_request_body_is_bounded() -> None:
    """Bounds live on the edge's types (never on the domain's, which also decode stored
    events): every int has a minimum and a maximum, every text and list a maximum length,
    every decimal its bounds (the score's range is the rulebook's, checked by the rule)."""
    types = list(_body_types())
    assert len(types) > 20
    problems = [p for cls in types for p in _unbounded(mi.type_info(cls), cls.__name__)]
    assert problems == []


def test_no_request_body_type_has_a_hook_of_its_own() -> None:
    """The policy runs at the edge over the whole decoded body (`checked_body`); a body type
    with a `__post_init__` of its own would act on text before it was checked."""
    for cls in _body_types():
        assert not hasattr(cls, "__post_init__"), cls


_ROLE_JURISDICTION = {
    "county": SIMING, "operating_unit": SIMING, "city": "350200", "miit_recorder": "350200",
    "province": "350000",
}


def _sample(info: Any) -> Any:
    """A value of msgspec type `info` that decodes (the least the bounds allow)."""
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        return _sample(next(t for t in info.types if not isinstance(t, mi.NoneType)))
    if isinstance(info, mi.StructType):
        return {f.encode_name: _sample(f.type) for f in info.fields if f.required}
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, mi.StrType):
        return "350203" if info.pattern else "x" * (info.min_length or 1)
    samples = {
        mi.BoolType: True, mi.DateType: "2025-01-02", mi.DecimalType: "1",
        mi.VarTupleType: [], mi.ListType: [],
    }
    if isinstance(info, mi.IntType):
        return info.ge or 1
    return samples[type(info)]


@pytest.mark.parametrize("spec", commands(), ids=lambda spec: spec.name)
def test_every_command_route_passes_its_body_through_the_policy(
    client: TestClient[Any], auth: Auth, spec: CommandSpec[Any]
) -> None:
    """A NUL in the comment of any command is a 422 naming the field, before the case is
    looked up or anything is written."""
    body = _sample(mi.type_info(spec.body))
    body["comment"] = "ok\x00"
    role = sorted(load_programmes().issuable_roles(spec.command))[0]
    path = spec.path
    for name in spec.path_parameters:
        path = path.replace(f"{{{name}:int}}", "1")
    url = "/api/clusters" + ("" if spec.opens_case else f"/{uuid.uuid4()}{path}")
    response = client.post(
        url, json=body, headers=auth(role, _ROLE_JURISDICTION[role], **{"If-Match": '"1"'})
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "text_control_character"
    assert response.json()["fields"] == ["comment"]


# ---- JSON depth ------------------------------------------------------------------------------


def test_json_nested_deeper_than_the_limit_is_a_400_before_decoding(
    client: TestClient[Any], auth: Auth
) -> None:
    for body in (b'{"a":' * 1000 + b"1" + b"}" * 1000, b"[" * 100_000 + b"]" * 100_000):
        response = client.post(
            "/api/clusters", content=body,
            headers=auth("county", SIMING, **{"Content-Type": "application/json"}),
        )
        assert response.status_code == 400
        assert response.json()["code"] == "json_too_deep"


def test_json_at_the_depth_limit_is_decoded() -> None:
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert not json_too_deep(at_limit)
    assert json_too_deep(b"[" + at_limit + b"]")


def test_brackets_inside_strings_do_not_count_towards_the_depth() -> None:
    text = b'"' + b"[" * 100 + b'\\"{{{"'
    assert not json_too_deep(b'{"name": ' + text + b"}")


def test_a_deep_body_on_a_calendar_put_is_refused_too(client: TestClient[Any], auth: Auth) -> None:
    response = client.put(
        "/api/calendar/days/2030-01-02", content=b"[" * 5000 + b"]" * 5000,
        headers=auth("admin", "350000", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"


# ---- query parameters ------------------------------------------------------------------------

BEYOND_INT64 = str(2**63)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/audit/events", {"after": BEYOND_INT64}),
        ("/api/audit/events", {"limit": BEYOND_INT64}),
        ("/api/audit/checkpoints", {"after": BEYOND_INT64}),
        ("/api/audit/checkpoints", {"limit": BEYOND_INT64}),
        ("/api/clusters", {"after": BEYOND_INT64}),
        ("/api/stats", {"after": "99999999999999999999999"}),
        ("/api/clusters", {"known_at": "0001-01-01T00:00:00+05:00"}),
        ("/api/clusters", {"known_at": "9999-12-31T23:59:59-14:00"}),
        ("/api/clusters", {"as_of": "0001-01-01"}),
        ("/api/clusters", {"on": "9999-12-31"}),
        ("/api/deadlines", {"overdue_on": "0001-01-01"}),
        ("/api/stats", {"on": "0001-01-01"}),
    ],
)
def test_a_query_number_or_date_out_of_range_is_a_400(
    client: TestClient[Any], auth: Auth, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params, headers=auth("auditor", "350000"))
    assert response.status_code == 400, response.text
    assert response.json()["fields"] == list(params)


def test_an_instant_out_of_range_on_a_case_is_a_400(client: TestClient[Any], auth: Auth) -> None:
    created = _apply(client, auth)
    response = client.get(
        f"{created.headers['location']}/state",
        params={"known_at": "0001-01-01T00:00:00+05:00"}, headers=auth("county", SIMING),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == ["known_at"]


def test_a_decimal_with_too_many_places_is_a_400(client: TestClient[Any], auth: Auth) -> None:
    response = client.post(
        "/api/eligibility", json={"indicators": {"area_km2": "1.0000001"}, "programme": "FJ"},
        headers=auth("county", SIMING),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == ["indicators.area_km2"]
    assert "decimal places" in response.json()["detail"]
