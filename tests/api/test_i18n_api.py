"""Problems in the client's language, and the pages' language switch, over the real stack."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from tests.factories import SIMING, XIAMEN, xm_dossier

Auth = Callable[..., dict[str, str]]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def _post(
    client: TestClient[Any], path: str, body: Any, headers: dict[str, str]
) -> Any:
    return client.post(
        path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )


def _recommended_xm_case(client: TestClient[Any], auth: Auth, officer: str) -> str:
    """An XM case recommended by `officer` (as the city), at version 2."""
    body = {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())}
    created = _post(client, "/api/clusters", body, auth("county", SIMING, "siming-clerk"))
    assert created.status_code == 201, created.text
    cid = created.json()["cluster_id"]
    recommended = _post(
        client, f"/api/clusters/{cid}/recommendation",
        {"effective_date": "2024-12-16", "onsite_verified": True},
        {**auth("city", XIAMEN, officer), "If-Match": '"1"'},
    )
    assert recommended.status_code == 200, recommended.text
    return str(cid)


def _same_but_words(english: dict[str, Any], chinese: dict[str, Any]) -> None:
    """Only `title` and `detail` change with the language."""
    assert {k: v for k, v in english.items() if k not in {"title", "detail"}} == {
        k: v for k, v in chinese.items() if k not in {"title", "detail"}
    }


def test_a_rule_refusal_answers_in_chinese_when_asked(client: TestClient[Any], auth: Auth) -> None:
    officer = f"xm-officer-{uuid.uuid4().hex[:6]}"
    cid = _recommended_xm_case(client, auth, officer)
    certify = {"effective_date": "2025-01-20", "document_number": "工信部企业函〔2025〕12号"}
    same_person = {**auth("miit_recorder", XIAMEN, officer), "If-Match": '"2"'}

    chinese = _post(client, f"/api/clusters/{cid}/certification", certify, {**same_person, **ZH})
    english = _post(client, f"/api/clusters/{cid}/certification", certify, same_person)

    assert chinese.status_code == english.status_code == 422
    assert chinese.headers["content-language"] == "zh-CN"
    assert "Accept-Language" in chinese.headers["vary"]
    problem = chinese.json()
    assert problem["code"] == "four_eyes"
    assert problem["details"] == {"user_id": officer}
    assert problem["title"] == "须由另一人办理"
    assert problem["detail"].startswith("同一人不得既推荐又认定")
    assert f"用户 {officer} 已在本案中办理前一环节" in problem["detail"]

    assert english.headers["content-language"] == "en"
    assert english.json()["title"] == "Four-eyes rule"
    assert english.json()["detail"] == (  # as raised: English keeps its detail
        f"user {officer} recommended on this case and may not also take this step"
    )
    _same_but_words(english.json(), problem)


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [
        (None, "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR", "en"),
        ("en;q=0.5, zh;q=0.8", "zh-CN"),
        ("zh-Hans", "zh-CN"),
    ],
)
def test_the_api_answers_in_english_unless_chinese_is_preferred(
    client: TestClient[Any], auth: Auth, accept_language: str | None, language: str
) -> None:
    headers = auth("auditor", "350000")
    if accept_language:
        headers["Accept-Language"] = accept_language
    response = client.get(f"/api/clusters/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "cluster_not_found"
    assert response.headers["content-language"] == language
    expected_title = "案件不存在" if language == "zh-CN" else "Cluster not found"
    assert response.json()["title"] == expected_title


def test_the_api_ignores_the_language_cookie(client: TestClient[Any], auth: Auth) -> None:
    response = client.get(
        f"/api/clusters/{uuid.uuid4()}",
        headers={**auth("auditor", "350000"), "Cookie": "lang=zh"},
    )
    assert response.headers["content-language"] == "en"
    assert response.json()["detail"].startswith("no cluster case")


def test_a_missing_token_in_chinese(client: TestClient[Any]) -> None:
    chinese = client.get("/api/clusters", headers=ZH)
    english = client.get("/api/clusters")
    assert chinese.status_code == 401
    assert chinese.headers["www-authenticate"] == "Bearer"
    assert chinese.json()["code"] == "unauthenticated"
    assert chinese.json()["title"] == "未通过身份验证"
    assert "访问令牌" in chinese.json()["detail"]
    assert english.json()["detail"] == "a bearer token is required"
    _same_but_words(english.json(), chinese.json())


def test_an_invalid_request_keeps_its_field_errors(client: TestClient[Any], auth: Auth) -> None:
    headers = auth("county", SIMING)
    body = {"effective_date": "2025-02-30", "dossier": msgspec.to_builtins(xm_dossier())}
    chinese = _post(client, "/api/clusters", body, {**headers, **ZH})
    english = _post(client, "/api/clusters", body, headers)
    assert chinese.status_code == english.status_code == 400
    assert chinese.json()["code"] == "invalid_request"
    assert chinese.json()["fields"] == ["effective_date"]
    assert chinese.json()["title"] == "请求内容不符合要求"
    assert english.json()["title"] == "Invalid request"
    _same_but_words(english.json(), chinese.json())


def test_a_role_refusal_names_the_roles_in_words(client: TestClient[Any], auth: Auth) -> None:
    response = _post(
        client, "/api/clusters",
        {"effective_date": "2024-12-02", "dossier": msgspec.to_builtins(xm_dossier())},
        {**auth("auditor", "350000"), **ZH},
    )
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "role_not_permitted"
    assert problem["details"]["role"] == "auditor"
    assert problem["detail"] == "第三方审计机构无权办理此事项；有权办理的是：县（市、区）工信部门。"


def test_a_text_refusal_names_field_position_and_code_point_in_chinese(
    client: TestClient[Any], auth: Auth
) -> None:
    dossier = msgspec.to_builtins(xm_dossier())
    dossier["name"] = "思明\u202e集群"
    response = _post(
        client, "/api/clusters", {"effective_date": "2024-12-02", "dossier": dossier},
        {**auth("county", SIMING), **ZH},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "text_bidi_control"
    assert response.json()["detail"] == (
        "dossier.name 第 3 个字符（U+202E）是文字方向控制符，会改变文字的显示顺序，不能录入。"
    )


def test_a_position_beyond_the_log_names_the_head_in_chinese(
    client: TestClient[Any], auth: Auth
) -> None:
    response = client.get(
        "/api/clusters", params={"after": 2**52}, headers={**auth("auditor", "350000"), **ZH}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "position_beyond_log_head"
    head = response.json()["details"]["head"]
    assert response.json()["detail"] == f"after 所指的日志位置尚未写入，日志目前截至第 {head} 条。"


# ---- the language switch -------------------------------------------------------------------


def test_the_switch_remembers_the_language_and_goes_back(client: TestClient[Any]) -> None:
    response = client.get(
        "/lang/en", params={"next": "/board?status=certified&programme=FJ"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/board?status=certified&programme=FJ"
    # The CSRF cookie may be set beside it: look at the language cookie alone.
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("lang=")]
    assert cookie.startswith("lang=en;")
    assert "Max-Age=31536000" in cookie
    assert "Path=/" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "HttpOnly" not in cookie
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", None])
def test_the_switch_never_leaves_the_server(client: TestClient[Any], target: str | None) -> None:
    params = {"next": target} if target is not None else {}
    response = client.get("/lang/zh", params=params, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert response.headers["set-cookie"].startswith("lang=zh;")


def test_an_unknown_language_is_a_404_error_page(client: TestClient[Any]) -> None:
    """/lang is a page link: its refusal is an error page, in the reader's language."""
    response = client.get("/lang/fr", headers=ZH, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>不支持的语言" in response.text
    assert "unsupported_language" in response.text
    assert not [c for c in response.headers.get_list("set-cookie") if c.startswith("lang=")]
