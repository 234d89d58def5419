"""Server-side sessions of the pages, in PostgreSQL (`web_sessions`).

The browser holds only a random id (`secrets.token_urlsafe(32)`: 256 bits); the table holds its
sha256, so that reading the table (a backup, a replica, a support query) gives no live cookie.
A new id is drawn at every sign-in, never taken from the request (no session fixation).

A session records who signed in (`subject`) at which `issuer` ("local" for the accounts of
`infra.accounts`; a single sign-on provider's issuer later) and the `Actor` they acted as then
(`claims`). Pages get that Actor and nothing about passwords, so a sign-on through OIDC needs
only to create sessions with its own issuer and claims. A local session also needs its account
to exist and not be disabled, checked on every request; `cluster-ledger user disable` and
`user passwd` delete the account's sessions as well.

Expiry comes from the settings when a session is read: idle (`session_idle_seconds` since it
was last used) and absolute (`session_absolute_seconds` since sign-in, however busy), both on
the database's clock, which every process shares. "Last used" is written at most once per
`TOUCH_SECONDS`, in the statement that reads the session, so a page costs one round trip and,
most of the time, no write: idle expiry is exact to within that minute.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain.actors import Actor
from infra.accounts import LOCAL_ISSUER
from infra.settings import Settings

SESSION_ID_BYTES = 32
MAX_SESSION_ID_LENGTH = 100  # token_urlsafe(32) is 43 characters; longer is not one of ours
TOUCH_SECONDS = 60


class WebSession(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    subject: str
    actor: Actor
    created_at: datetime
    expires_at: datetime  # the absolute end; an idle session ends before


class SessionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    idle: timedelta
    absolute: timedelta
    touch: timedelta = timedelta(seconds=TOUCH_SECONDS)

    @classmethod
    def of(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(seconds=settings.session_idle_seconds),
            absolute=timedelta(seconds=settings.session_absolute_seconds),
        )


def id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


# One statement: the live session (with its local account enabled), and "last used" moved on
# when it is older than the touch interval. The UPDATE runs whether or not the SELECT is read;
# when it changes no row PostgreSQL writes nothing.
_RESOLVE = """
WITH live AS (
    SELECT s.issuer, s.subject, s.claims, s.created_at
    FROM web_sessions s
    LEFT JOIN accounts a ON s.issuer = $5 AND a.username = s.subject
    WHERE s.id_hash = $1
      AND s.created_at > now() - $2::interval
      AND s.last_seen_at > now() - $3::interval
      AND (s.issuer <> $5 OR a.disabled = false)
), touched AS (
    UPDATE web_sessions SET last_seen_at = now()
    WHERE id_hash = $1 AND last_seen_at <= now() - $4::interval
      AND EXISTS (SELECT 1 FROM live)
)
SELECT issuer, subject, claims, created_at FROM live
"""


class SessionStore:
    def __init__(self, policy: SessionPolicy) -> None:
        self.policy = policy

    async def create(self, pool: asyncpg.Pool, *, issuer: str, subject: str, actor: Actor) -> str:
        """A new session; returns its id, for the cookie (the only place it is kept)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        await pool.execute(
            "INSERT INTO web_sessions (id_hash, issuer, subject, claims)"
            " VALUES ($1, $2, $3, $4::jsonb)",
            id_hash(session_id), issuer, subject, msgspec.json.encode(actor).decode(),
        )
        return session_id

    async def resolve(self, pool: asyncpg.Pool, session_id: str) -> WebSession | None:
        """The live session with this id, or None (unknown, expired, or its account disabled)."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        policy = self.policy
        row = await pool.fetchrow(
            _RESOLVE, id_hash(session_id), policy.absolute, policy.idle, policy.touch,
            LOCAL_ISSUER,
        )
        if row is None:
            return None
        try:
            actor = msgspec.json.decode(row["claims"], type=Actor)
        except msgspec.ValidationError:
            return None  # claims this version cannot read (a role since removed): sign in again
        return WebSession(
            issuer=row["issuer"],
            subject=row["subject"],
            actor=actor,
            created_at=row["created_at"],
            expires_at=row["created_at"] + policy.absolute,
        )

    async def end(self, pool: asyncpg.Pool, session_id: str) -> None:
        if session_id and len(session_id) <= MAX_SESSION_ID_LENGTH:
            await pool.execute("DELETE FROM web_sessions WHERE id_hash = $1", id_hash(session_id))

    async def purge_expired(self, pool: asyncpg.Pool) -> None:
        await pool.execute(
            "DELETE FROM web_sessions"
            " WHERE created_at <= now() - $1::interval OR last_seen_at <= now() - $2::interval",
            self.policy.absolute, self.policy.idle,
        )
