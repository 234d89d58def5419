"""Every command is declared once (`domain.commands`) and everything else is derived from that
declaration: a command cannot be routed without its permission, or declared without a route."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient

from api.auth import may_issue
from domain.commands import Command, CommandSpec, commands, spec_of
from infra.rules import load_programmes


@pytest.fixture(scope="module")
def document(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec: dict[str, Any] = response.json()
    return spec


def _post_handlers(client: TestClient[Any]) -> dict[str, HTTPRouteHandler]:
    """POST handler of each path, by the path as the app registered it."""
    handlers = {}
    for path, methods in client.app.route_handler_method_map.items():
        handler = methods.get("POST")
        if isinstance(handler, HTTPRouteHandler):
            handlers[path] = handler
    return handlers


def _route(spec: CommandSpec[Any]) -> str:
    return "/api/clusters" + ("" if spec.opens_case else "/{cluster_id:uuid}" + spec.path)


def test_every_command_is_declared_once() -> None:
    declared = [spec.command for spec in commands()]
    assert sorted(declared) == sorted(Command)
    assert len({spec.operation_id for spec in commands()}) == len(declared)
    assert len({spec.name for spec in commands()}) == len(declared)
    assert [spec for spec in commands() if spec.opens_case] == [spec_of(Command.APPLY)]


@pytest.mark.parametrize("spec", commands(), ids=lambda spec: spec.name)
def test_every_command_has_a_permission_in_some_programme(spec: CommandSpec[Any]) -> None:
    """Some programme's profile lets some role take the step (`domain/rules/programmes.toml`)."""
    assert load_programmes().issuable_roles(spec.command), spec.command


@pytest.mark.parametrize("spec", commands(), ids=lambda spec: spec.name)
def test_every_command_has_a_route_guarded_by_its_own_permission(
    client: TestClient[Any], spec: CommandSpec[Any]
) -> None:
    handler = _post_handlers(client)[_route(spec)]
    assert handler.opt["command"] is spec.command  # the permission the guard checks
    assert may_issue in (handler.guards or [])
    assert handler.operation_id == spec.operation_id


@pytest.mark.parametrize("spec", commands(), ids=lambda spec: spec.name)
def test_every_command_has_its_documented_operation(
    document: dict[str, Any], spec: CommandSpec[Any]
) -> None:
    path = _route(spec).replace("{cluster_id:uuid}", "{cluster_id}").replace(":int}", "}")
    operation = document["paths"][path]["post"]
    assert operation["operationId"] == spec.operation_id
    assert operation["summary"] == spec.summary
    assert operation["description"] == spec.description
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{spec.body.__name__}"}


def test_every_command_route_comes_from_a_declaration(client: TestClient[Any]) -> None:
    """No command route is written by hand beside the registry."""
    routed = {
        handler.opt["command"]
        for handler in _post_handlers(client).values()
        if "command" in handler.opt
    }
    assert routed == set(Command)
    command_routes = [h for h in _post_handlers(client).values() if may_issue in (h.guards or [])]
    assert len(command_routes) == len(commands())
