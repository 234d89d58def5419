"""Schemathesis hooks for `tests/api/test_fuzz.py` (loaded by the CLI through
`SCHEMATHESIS_HOOKS=tests.fuzz_hooks`; nothing else imports this module).

Before every request the fuzzer sends, this chooses whose bearer token it carries, so that
requests get past the role check and reach the rules:

- a command goes out with the token of a role that may issue it (one of the programme's roles,
  picked at random: FJ's in Jinjiang/Quanzhou/the province, XM's in Siming/Xiamen), so about
  half of them also meet a jurisdiction that covers the case;
- opening a case: the county named in the generated dossier is replaced by Siming (XM) or
  Jinjiang (FJ), and the token is that county's, so that cases are created and the stateful
  phase can walk them through their life along the document's links;
- reads go out with any role's token.

What the test passes in `CLUSTER_LEDGER_FUZZ_TOKENS` (JSON): `commands` (operation id -> tokens
of the roles that may issue it), `readers` (tokens of every role), `counties` (county code ->
a county token there).
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import schemathesis

_TOKENS: dict[str, Any] = json.loads(os.environ.get("CLUSTER_LEDGER_FUZZ_TOKENS", "{}"))
_RANDOM = random.Random(os.environ.get("CLUSTER_LEDGER_FUZZ_SEED", "1"))  # noqa: S311 - test data
_COUNTY_BY_PROGRAMME = {"XM": "350203", "FJ": "350582"}


def _open_case_token(case: Any) -> str | None:
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("dossier"), dict):
        return None
    dossier = body["dossier"]
    county = _COUNTY_BY_PROGRAMME.get(str(dossier.get("programme")), "350582")
    dossier["county_code"] = county
    token: str = _TOKENS["counties"][county]
    return token


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    operation_id = case.operation.definition.raw.get("operationId", "")
    headers = case.headers
    if headers is None or not str(headers.get("Authorization", "")).startswith("Bearer "):
        return  # a request sent without a token on purpose (the auth checks)
    token = _open_case_token(case) if operation_id == "applyForCertification" else None
    if token is None:
        choices = _TOKENS["commands"].get(operation_id) or _TOKENS["readers"]
        token = _RANDOM.choice(choices)
    headers["Authorization"] = f"Bearer {token}"
