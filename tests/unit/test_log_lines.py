"""The request log's JSON lines: valid JSON, ASCII whatever the values, never a failure."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from api.logging import render_json


@pytest.mark.parametrize(
    "event",
    [
        {"event": "request", "status": 200, "latency_ms": 3.21, "user": "u-1", "cluster_id": None},
        {"event": "request", "user": "厦门市工信局", "route": "/api/clusters"},
        {"event": "odd", "value": Decimal("1.5"), "emoji": "\U0001f600"},
    ],
)
def test_a_line_is_ascii_json_that_reads_back_as_the_event(event: dict[str, object]) -> None:
    line = render_json(None, "info", dict(event))
    assert line.isascii()
    decoded = json.loads(line)
    assert decoded == {k: str(v) if isinstance(v, Decimal) else v for k, v in event.items()}


def test_a_value_json_cannot_hold_is_logged_as_its_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    assert json.loads(render_json(None, "info", {"value": Opaque()})) == {"value": "<opaque>"}
