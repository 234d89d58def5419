"""The password sign-in against a real PostgreSQL: the work done for each kind of refusal,
rehashing when the argon2 parameters change, and how many hashes run at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import argon2
import asyncpg
import pytest

from api.runtime import open_pool
from domain.actors import Role
from infra.accounts import AccountStore, Passwords
from infra.database import ConnectionInfo
from infra.rules import load_regions
from infra.sessions import SessionPolicy, SessionStore
from infra.settings import Settings
from infra.sign_in import HASHING_SLOTS, Locked, Refused, SignedIn, SignIn

PASSWORD = "correct horse battery staple"
CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class RecordingPasswords(Passwords):
    """Cheap argon2 parameters; records which hash each verification was against, and how many
    ran at once."""

    def __init__(self, hold: float = 0.0) -> None:
        super().__init__(CHEAP)
        self.checked: list[str] = []
        self.hold = hold
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.checked.append(password_hash)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.hold)  # so that concurrent verifications overlap
            return super().verify(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
async def pool(migrated: ConnectionInfo) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(migrated)
    await pool.execute("DELETE FROM login_throttle")
    yield pool
    await pool.close()


def new_account(url: str, passwords: Passwords) -> str:
    username = f"s-{uuid.uuid4().hex[:12]}"
    AccountStore(url, load_regions(), passwords).add(
        username, role=Role.COUNTY, jurisdiction="350203", organisation="思明区工业和信息化局",
        password=PASSWORD,
    )
    return username


def service(passwords: Passwords) -> SignIn:
    settings = Settings()
    return SignIn(settings, passwords, SessionStore(SessionPolicy.of(settings)))


async def test_the_right_password_gives_a_session_as_the_accounts_actor(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    passwords = RecordingPasswords()
    username = new_account(migrated.url, passwords)
    outcome = await service(passwords).sign_in(pool, username, PASSWORD, "10.0.0.1")
    assert isinstance(outcome, SignedIn)
    assert (outcome.actor.user_id, outcome.actor.role, outcome.actor.jurisdiction) == (
        username, Role.COUNTY, "350203",
    )
    session = await SessionStore(SessionPolicy.of(Settings())).resolve(pool, outcome.session_id)
    assert session is not None
    assert session.actor == outcome.actor


async def test_an_unknown_username_costs_one_verification_against_a_hash_no_one_knows(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    passwords = RecordingPasswords()
    known = new_account(migrated.url, passwords)
    [(known_hash,)] = await pool.fetch(
        "SELECT password_hash FROM accounts WHERE username = $1", known
    )
    sign_in = service(passwords)
    assert await sign_in.sign_in(pool, "s-nobody-here", PASSWORD, "10.0.0.2") == Refused()
    assert await sign_in.sign_in(pool, known, "a wrong password, long", "10.0.0.2") == Refused()
    assert len(passwords.checked) == 2  # one verification each
    dummy, real = passwords.checked
    assert real == known_hash
    assert dummy != known_hash
    assert dummy.startswith("$argon2id$")


async def test_a_disabled_account_costs_the_same_verification_and_is_refused(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    passwords = RecordingPasswords()
    username = new_account(migrated.url, passwords)
    AccountStore(migrated.url, load_regions(), passwords).disable(username)
    assert await service(passwords).sign_in(pool, username, PASSWORD, "10.0.0.3") == Refused()
    assert len(passwords.checked) == 1


async def test_a_hash_made_with_other_argon2_parameters_is_replaced_at_sign_in(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    username = new_account(migrated.url, Passwords(CHEAP))
    current = Passwords()  # argon2-cffi's defaults: RFC 9106 low memory
    outcome = await service(current).sign_in(pool, username, PASSWORD, "10.0.0.4")
    assert isinstance(outcome, SignedIn)
    stored = await pool.fetchval("SELECT password_hash FROM accounts WHERE username = $1", username)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not current.needs_rehash(stored)
    assert current.verify(stored, PASSWORD)


async def test_no_more_than_the_hashing_slots_verify_at_once(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    passwords = RecordingPasswords(hold=0.05)
    sign_in = service(passwords)
    names = [f"s-burst-{n}" for n in range(3 * HASHING_SLOTS)]
    async with anyio.create_task_group() as tasks:
        for n, name in enumerate(names):
            tasks.start_soon(sign_in.sign_in, pool, name, PASSWORD, f"10.1.0.{n}")
    assert len(passwords.checked) == len(names)
    assert passwords.most_at_once == HASHING_SLOTS


async def test_a_burst_of_guesses_at_one_name_is_stopped_near_the_limit(
    pool: asyncpg.Pool, migrated: ConnectionInfo
) -> None:
    passwords = RecordingPasswords(hold=0.02)
    sign_in = service(passwords)  # 5 failures per username
    outcomes: list[object] = []

    async def guess(n: int) -> None:
        outcomes.append(await sign_in.sign_in(pool, "s-target", f"guess number {n:04}", "10.2.0.1"))

    async with anyio.create_task_group() as tasks:
        for n in range(20):
            tasks.start_soon(guess, n)
    # The lock is read again once a hashing slot is held: at most one guess per other slot
    # gets past the fifth failure.
    assert len(passwords.checked) <= 5 + HASHING_SLOTS - 1
    assert sum(isinstance(o, Locked) for o in outcomes) >= 20 - (5 + HASHING_SLOTS - 1)
