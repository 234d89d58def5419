"""Idempotent commands: an `Idempotency-Key` makes a POST safe to retry.

The first successful request stores (user, key, fingerprint, status, response) in
`idempotency_keys` in the same transaction as its events (`infra.recorder.LedgerRecorder`), so
a crash can never leave events without their key or a key without its events.

A command with a key runs first and looks the key up only if it is refused. A key already
stored always refuses it: a retry acts on a case version that has moved on (`stale_version`),
and anything that would pass the rules (a new application, say) fails on the key's primary
key in the statement that appends its events, so nothing of it is committed. The look-up then
answers: the same fingerprint returns the stored response (same status and body, header
`Idempotency-Replayed: true`); another fingerprint is refused (`idempotency_key_reused`); no
stored key means the refusal was the command's own, and it is answered as such. Two identical
requests in flight race to the recorder the same way, and the loser replays the winner's
response. The first attempt of every command thus costs no look-up.

The fingerprint is the SHA-256 of the method, the path and the body as decoded and re-encoded,
so whitespace and field order do not matter but every value does. Keys belong to one user.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from api.errors import ApiError
from domain.errors import DomainError, InvalidInput
from infra.application import CommandResult
from infra.recorder import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, no spaces


class StoredResponse(msgspec.Struct, frozen=True, kw_only=True):
    fingerprint: str
    status_code: int
    response: dict[str, Any]
    position: int | None


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """A command's answer: fresh, or replayed from the stored first answer."""

    status_code: int
    body: dict[str, Any]  # cluster_id, version, position, events
    replayed: bool


def fingerprint(method: str, path: str, body: msgspec.Struct) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), msgspec.json.encode(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    """One request's idempotency key, for one user, with its fingerprint."""

    user_id: str
    key: str
    fingerprint: str

    @classmethod
    def open(
        cls, header: str | None, user_id: str, method: str, path: str, body: msgspec.Struct
    ) -> Gate | None:
        if header is None:
            return None
        key = header.strip()
        if not KEY.match(key):
            raise ApiError(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID is ideal)",
                fields=[HEADER],
            )
        return cls(user_id=user_id, key=key, fingerprint=fingerprint(method, path, body))

    def record(self, status_code: int) -> IdempotencyRecord:
        """What the recorder stores with the events; the ledger fills in the response."""
        return IdempotencyRecord(
            key=self.key,
            user_id=self.user_id,
            fingerprint=self.fingerprint,
            status_code=status_code,
            response={},
        )

    async def stored(self, pool: asyncpg.Pool) -> StoredResponse | None:
        """The stored first answer for this key; refuse a key reused with another request."""
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT fingerprint, status_code, response::text AS response, notification_id"
                " FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                self.user_id,
                self.key,
            )
        if row is None:
            return None
        if row["fingerprint"] != self.fingerprint:
            raise InvalidInput(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key",
                field=HEADER,
            )
        return StoredResponse(
            fingerprint=row["fingerprint"],
            status_code=row["status_code"],
            response=msgspec.json.decode(row["response"]),
            position=row["notification_id"],
        )


def _fresh(status_code: int, result: CommandResult) -> Outcome:
    body = {
        "cluster_id": str(result.cluster_id),
        "version": result.version,
        "position": result.position,
        "events": list(result.events),
        "rulebooks": list(result.rulebooks),
        "conventions": msgspec.to_builtins(result.conventions),
    }
    return Outcome(status_code=status_code, body=body, replayed=False)


def _replay(stored: StoredResponse) -> Outcome:
    body = {
        "cluster_id": stored.response["cluster_id"],
        "version": stored.response["version"],
        "position": stored.position,
        "events": list(stored.response.get("events", ())),
        "rulebooks": list(stored.response.get("rulebooks", ())),
        "conventions": list(stored.response.get("conventions", ())),
    }
    return Outcome(status_code=stored.status_code, body=body, replayed=True)


async def execute_once(
    pool: asyncpg.Pool,
    gate: Gate | None,
    status_code: int,
    run: Callable[[IdempotencyRecord | None], Awaitable[CommandResult]],
) -> Outcome:
    """Run a command at most once per key: run and store its answer, or, when it is refused
    because the key is already stored, replay the stored answer."""
    if gate is None:
        return _fresh(status_code, await run(None))
    try:
        result = await run(gate.record(status_code))
    except DomainError:
        # An earlier request (or a twin that won the race) holds the key: answer as it was
        # answered; a key used for another request is refused here (idempotency_key_reused).
        earlier = await gate.stored(pool)
        if earlier is None:
            raise
        return _replay(earlier)
    return _fresh(status_code, result)
