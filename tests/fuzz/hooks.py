"""Schemathesis hooks for `tests/api/test_fuzz.py` (loaded by the CLI through
`SCHEMATHESIS_HOOKS=tests.fuzz.hooks`; nothing else imports this module).

Before every request the fuzzer sends, this chooses whose bearer token it carries, so that
requests get past the role check and reach the rules:

- a command goes out with the token of a role that may issue it (one of the programme's roles,
  picked at random: FJ's in Jinjiang/Quanzhou/the province, XM's in Siming/Xiamen), so about
  half of them also meet a jurisdiction that covers the case;
- in the stateful phase, which walks cases through their life along the document's links,
  every decision is dated within 2024-2026 (when the rules are in force), and a case is opened
  in Siming (XM) or Jinjiang (FJ) with a plan target (FJ needs one) and that county's token,
  so that cases are created and walked (every other field stays as generated; the other
  phases send what they generate, dates and counties included);
- reads go out with any role's token.

What the test passes in `CLUSTER_LEDGER_FUZZ_TOKENS` (JSON): `commands` (operation id -> tokens
of the roles that may issue it), `readers` (tokens of every role), `counties` (county code ->
a county token there).
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, timedelta
from typing import Any

import schemathesis

_TOKENS: dict[str, Any] = json.loads(os.environ.get("CLUSTER_LEDGER_FUZZ_TOKENS", "{}"))
_RANDOM = random.Random(os.environ.get("CLUSTER_LEDGER_FUZZ_SEED", "1"))  # noqa: S311 - test data
_COUNTY_BY_PROGRAMME = {"XM": "350203", "FJ": "350582"}


def _dossier(case: Any) -> dict[str, Any] | None:
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("dossier"), dict):
        return body["dossier"]
    return None


def _programme(dossier: dict[str, Any]) -> str:
    """The programme the case is opened in: the generated one, XM for anything else."""
    programme = dossier.get("programme")
    return programme if isinstance(programme, str) and programme in _COUNTY_BY_PROGRAMME else "XM"


def _in_stateful_phase(case: Any) -> bool:
    return case.meta is not None and case.meta.phase.name.value == "stateful"


def _recent(day: Any) -> str:
    """A date the rules are in force on, for a generated one they are not (before 2024)."""
    if isinstance(day, str) and "2024-01-01" <= day <= "2026-12-31":
        return day
    return (date(2025, 1, 1) + timedelta(days=_RANDOM.randrange(700))).isoformat()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """In the stateful phase, which walks cases through their life: every decision is dated
    within 2024-2026, and a case is opened in the programme's county with a plan target."""
    if not _in_stateful_phase(case) or not isinstance(case.body, dict):
        return
    for name in ("effective_date", "received_on"):
        if name in case.body:
            case.body[name] = _recent(case.body[name])
    if case.operation.definition.raw.get("operationId") != "applyForCertification":
        return
    dossier = _dossier(case)
    if dossier is None:
        return
    dossier["programme"] = _programme(dossier)
    dossier["county_code"] = _COUNTY_BY_PROGRAMME[dossier["programme"]]
    if dossier["programme"] == "XM" and not dossier.get("operating_unit"):
        dossier["operating_unit"] = "集群运营单位"  # XM Art. 6: the district designates one
    if not dossier.get("plan_targets"):
        dossier["plan_targets"] = [
            {"indicator": "产值", "baseline": 50, "target": 65, "by_year": 2027}
        ]


@schemathesis.auth()
class RoleTokens:
    """The bearer token of each request, by operation (see the module's docstring). As an auth
    provider, it is left out where Schemathesis checks what the API does without a token."""

    def get(self, case: Any, context: Any) -> dict[str, Any]:  # noqa: ARG002
        return _TOKENS

    def set(self, case: Any, data: dict[str, Any], context: Any) -> None:
        operation_id = context.operation.definition.raw.get("operationId", "")
        opening = operation_id == "applyForCertification" and _in_stateful_phase(case)
        dossier = _dossier(case) if opening else None
        if dossier is not None:
            token = data["counties"][_COUNTY_BY_PROGRAMME[_programme(dossier)]]
        else:
            token = _RANDOM.choice(data["commands"].get(operation_id) or data["readers"])
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
