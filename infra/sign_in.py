"""Signing in with a local account's password, and throttling failed attempts.

Throttle (`login_throttle`, so that it holds across processes and restarts): failed sign-ins
are counted per username and per client address in a window that opens at the first failure
(`login_window_seconds`); the failure that reaches the limit (`login_max_failures` for a
username, `login_max_failures_per_address` for an address) refuses further attempts for
`login_lock_seconds`, answered with the seconds left (429 and `Retry-After` on the form). A
locked attempt is not checked at all, not even a right password. A successful sign-in clears
the username's count, not the address's: signing in to one's own account does not buy another
round of guesses at someone else's. The address limit is higher because many officers may
share one address (a department's NAT or proxy); it stops one address from trying a few
passwords on every username. Unknown usernames are counted like known ones, so a lock says
nothing about whether a name exists.

Same answer, same work: an unknown username, a disabled account and a wrong password all get
`Refused`, each after one argon2 verification (against a hash no one knows when there is no
account to check), so neither the answer nor its time tells which it was.

At most `HASHING_SLOTS` verifications run at once per process (each takes ~64 MiB and a core
for a fifth of a second). The lock is checked again once a slot is held, so a burst of
parallel guesses at one name gets at most that many past the limit.
"""

from __future__ import annotations

import math
from datetime import timedelta

import anyio
import anyio.to_thread
import asyncpg
import msgspec

from domain.actors import Actor
from infra.accounts import (
    LOCAL_ISSUER,
    USERNAME,
    Passwords,
    find_for_sign_in,
    lookup_name,
    replace_hash,
)
from infra.sessions import SessionStore
from infra.settings import Settings

HASHING_SLOTS = 2
MAX_KEY_NAME = 200  # characters of a typed username kept in a throttle key


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    actor: Actor
    session_id: str


class Refused(msgspec.Struct, frozen=True):
    """Unknown username, disabled account or wrong password: deliberately not told apart."""


class Locked(msgspec.Struct, frozen=True):
    retry_after: int  # seconds


Outcome = SignedIn | Refused | Locked


class Throttle:
    def __init__(self, settings: Settings) -> None:
        self.window = timedelta(seconds=settings.login_window_seconds)
        self.lock = timedelta(seconds=settings.login_lock_seconds)
        self.user_limit = settings.login_max_failures
        self.address_limit = settings.login_max_failures_per_address

    @staticmethod
    def user_key(name: str) -> str:
        return "user:" + name[:MAX_KEY_NAME]

    @staticmethod
    def address_key(address: str) -> str:
        return "address:" + address

    async def retry_after(self, pool: asyncpg.Pool, keys: list[str]) -> int | None:
        """Seconds until the latest lock among `keys` ends, or None when none is locked."""
        seconds = await pool.fetchval(
            "SELECT extract(epoch FROM max(locked_until) - now()) FROM login_throttle"
            " WHERE key = ANY($1::text[]) AND locked_until > now()",
            keys,
        )
        return None if seconds is None else max(1, math.ceil(seconds))

    async def failed(self, pool: asyncpg.Pool, user_key: str, address_key: str) -> None:
        async with pool.acquire() as conn, conn.transaction():
            for key, limit in ((user_key, self.user_limit), (address_key, self.address_limit)):
                await conn.execute(_RECORD_FAILURE, key, self.window, limit, self.lock)

    async def succeeded(self, pool: asyncpg.Pool, user_key: str) -> None:
        await pool.execute("DELETE FROM login_throttle WHERE key = $1", user_key)

    async def purge(self, pool: asyncpg.Pool) -> None:
        """Forget counts whose window and lock are both over."""
        await pool.execute(
            "DELETE FROM login_throttle WHERE window_started_at <= now() - $1::interval"
            " AND (locked_until IS NULL OR locked_until <= now())",
            self.window,
        )


# $1 key, $2 window, $3 limit, $4 lock. A failure in a window that has ended opens a new one.
_RECORD_FAILURE = """
INSERT INTO login_throttle AS t (key, failures, window_started_at, locked_until)
VALUES ($1, 1, now(), CASE WHEN $3 <= 1 THEN now() + $4::interval END)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.window_started_at > now() - $2::interval
                    THEN t.failures + 1 ELSE 1 END,
    window_started_at = CASE WHEN t.window_started_at > now() - $2::interval
                             THEN t.window_started_at ELSE now() END,
    locked_until = CASE WHEN (CASE WHEN t.window_started_at > now() - $2::interval
                                   THEN t.failures + 1 ELSE 1 END) >= $3
                        THEN now() + $4::interval ELSE t.locked_until END
"""


class SignIn:
    """The password sign-in of the pages: throttle, verify, session."""

    def __init__(self, settings: Settings, passwords: Passwords, sessions: SessionStore) -> None:
        self.throttle = Throttle(settings)
        self.passwords = passwords
        self.sessions = sessions
        self._slots = anyio.CapacityLimiter(HASHING_SLOTS)

    async def sign_in(
        self, pool: asyncpg.Pool, username: str, password: str, address: str
    ) -> Outcome:
        name = lookup_name(username)
        user_key, address_key = self.throttle.user_key(name), self.throttle.address_key(address)
        keys = [user_key, address_key]
        if (wait := await self.throttle.retry_after(pool, keys)) is not None:
            return Locked(wait)
        async with self._slots:
            if (wait := await self.throttle.retry_after(pool, keys)) is not None:
                return Locked(wait)
            record = await find_for_sign_in(pool, name) if USERNAME.match(name) else None
            if record is None or record.account.disabled:
                await anyio.to_thread.run_sync(self.passwords.verify_dummy, password)
                verified = False
            else:
                verified = await anyio.to_thread.run_sync(
                    self.passwords.verify, record.password_hash, password
                )
            if not verified or record is None:
                await self.throttle.failed(pool, user_key, address_key)
                return Refused()
            if self.passwords.needs_rehash(record.password_hash):
                new_hash = await anyio.to_thread.run_sync(self.passwords.hash, password)
                await replace_hash(pool, name, record.password_hash, new_hash)
        await self.throttle.succeeded(pool, user_key)
        await self.throttle.purge(pool)
        await self.sessions.purge_expired(pool)
        actor = record.account.actor()
        session_id = await self.sessions.create(
            pool, issuer=LOCAL_ISSUER, subject=name, actor=actor
        )
        return SignedIn(actor=actor, session_id=session_id)
