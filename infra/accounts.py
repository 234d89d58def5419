"""Local accounts: who may sign in to the pages, as which role, over which jurisdiction.

An account's username is the `Actor.user_id` that goes into every event its owner records, so
it is lower case (two spellings never name two people) and never reused for someone else: an
account is disabled, never deleted. Role and jurisdiction must fit together the way a bearer
token's claims must (`domain.permissions.check_jurisdiction_level`, over the region table).

Passwords (`Passwords`):
- hashed with argon2id (argon2-cffi's `PasswordHasher`, whose defaults are RFC 9106's
  low-memory profile: 64 MiB, 3 passes, 4 lanes); a hash made with other parameters is
  replaced at the next successful sign-in (`needs_rehash`), so raising the cost reaches every
  account without a reset;
- normalised to NFKC before hashing and checking (NIST SP 800-63B), so that the full-width
  Latin letters and digits a Chinese input method may produce match their ASCII forms;
- the rule for a new password (`check_new_password`) is NIST SP 800-63B's, not a composition
  rule: at least `MIN_PASSWORD_LENGTH` characters, since the password is the only factor
  (800-63B-4 asks for 15 then), at most `MAX_PASSWORD_LENGTH` (it asks to allow at least 64),
  every printable character allowed, spaces included; refused are control characters, a
  password containing the username, and one of fewer than `MIN_DISTINCT_CHARACTERS` distinct
  characters ("aaaa…", "abab…": the repetitive values its blocklist names). No rule on
  character classes and no forced periodic change, which 800-63B advises against.

Two ways in: the console command changes accounts through `AccountStore` (psycopg, like the
other commands); the API process only reads an account and replaces its hash at sign-in,
through `find_for_sign_in` and `replace_hash` on its asyncpg pool (its event loop never waits
on a synchronous driver). Both end an account's sessions where that is part of the change.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from datetime import datetime

import argon2
import asyncpg
import msgspec
import psycopg
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.actors import Actor, Role
from domain.errors import DomainError, ErrorKind, InvalidInput, NotFound
from domain.permissions import RegionLookup, check_jurisdiction_level

LOCAL_ISSUER = "local"  # the `issuer` of a session signed in with a local account's password
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")  # also a CHECK of the accounts table
MIN_PASSWORD_LENGTH = 15
MAX_PASSWORD_LENGTH = 128
MIN_DISTINCT_CHARACTERS = 5
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class AccountExists(DomainError):
    kind = ErrorKind.CONFLICT


class Account(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    role: Role
    jurisdiction: str
    organisation: str
    disabled: bool
    created_at: datetime
    updated_at: datetime

    def actor(self) -> Actor:
        return Actor(
            user_id=self.username,
            role=self.role,
            organisation=self.organisation,
            jurisdiction=self.jurisdiction,
        )


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidInput(
            "invalid_username",
            f"username {username!r}: 1-64 characters, lower-case letters a-z, digits and"
            " . _ @ -, starting with a letter or digit",
            username=username,
        )
    return username


def lookup_name(typed: str) -> str:
    """What a sign-in form's username is looked up as: trimmed, lower case."""
    return unicodedata.normalize("NFC", typed.strip()).lower()


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_new_password(password: str, username: str) -> str:
    """The password as it will be hashed (NFKC), or `InvalidInput` saying which rule it breaks."""
    password = normalise_password(password)
    if _CONTROL.search(password):
        raise InvalidInput(
            "password_invalid_character", "the password contains a control character"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_short",
            f"the password has {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are"
            " needed (a passphrase of several words is easiest to remember)",
            min_length=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_long",
            f"the password has {len(password)} characters; at most {MAX_PASSWORD_LENGTH}",
            max_length=MAX_PASSWORD_LENGTH,
        )
    if username and username.casefold() in password.casefold():
        raise InvalidInput("password_contains_username", "the password contains the username")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise InvalidInput(
            "password_too_repetitive",
            f"the password uses fewer than {MIN_DISTINCT_CHARACTERS} different characters",
        )
    return password


class Passwords:
    """argon2id hashes. Every method is CPU- and memory-heavy (tens to hundreds of ms, 64 MiB
    by default): the API calls them in a worker thread, a few at a time."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalise_password(password))

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, normalise_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    @functools.cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def verify_dummy(self, password: str) -> None:
        """Check `password` against a hash no one knows: the same work as for a real account,
        so that an unknown or disabled username takes as long to refuse as a wrong password."""
        self.verify(self._dummy_hash, password)


class SignInRecord(msgspec.Struct, frozen=True, kw_only=True):
    account: Account
    password_hash: str


# The columns `_account` reads, in its order.
_SELECT_FOR_SIGN_IN = (
    "SELECT username, role, jurisdiction, organisation, disabled, created_at, updated_at,"
    " password_hash FROM accounts WHERE username = $1"
)
_INSERT = (
    "INSERT INTO accounts (username, role, jurisdiction, organisation, password_hash)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (username) DO NOTHING"
    " RETURNING username, role, jurisdiction, organisation, disabled, created_at, updated_at"
)
_LIST = (
    "SELECT username, role, jurisdiction, organisation, disabled, created_at, updated_at"
    " FROM accounts ORDER BY username"
)


def _account(row: tuple[object, ...] | asyncpg.Record) -> Account:
    return Account(
        username=str(row[0]),
        role=Role(str(row[1])),
        jurisdiction=str(row[2]),
        organisation=str(row[3]),
        disabled=bool(row[4]),
        created_at=row[5],  # type: ignore[arg-type]
        updated_at=row[6],  # type: ignore[arg-type]
    )


# ---- the API process (asyncpg) -----------------------------------------------------------------


async def find_for_sign_in(pool: asyncpg.Pool, username: str) -> SignInRecord | None:
    row = await pool.fetchrow(_SELECT_FOR_SIGN_IN, username)
    if row is None:
        return None
    return SignInRecord(account=_account(row), password_hash=row["password_hash"])


async def replace_hash(pool: asyncpg.Pool, username: str, old: str, new: str) -> None:
    """Store a rehashed password, unless the password was changed meanwhile."""
    await pool.execute(
        "UPDATE accounts SET password_hash = $3, updated_at = now()"
        " WHERE username = $1 AND password_hash = $2",
        username, old, new,
    )


# ---- the console command (psycopg) -------------------------------------------------------------

_END_SESSIONS = "DELETE FROM web_sessions WHERE issuer = %s AND subject = %s"


class AccountStore:
    """Adds, changes and lists accounts; for `cluster-ledger user`."""

    def __init__(
        self, conninfo: str, regions: RegionLookup, passwords: Passwords | None = None
    ) -> None:
        self._conninfo = conninfo
        self._regions = regions
        self._passwords = passwords or Passwords()

    def add(
        self, username: str, *, role: Role, jurisdiction: str, organisation: str, password: str
    ) -> Account:
        check_username(username)
        check_jurisdiction_level(role, jurisdiction, self._regions)
        password_hash = self._passwords.hash(check_new_password(password, username))
        with psycopg.connect(self._conninfo) as conn:
            row = conn.execute(
                _INSERT,
                (username, str(role), jurisdiction, organisation, password_hash),
            ).fetchone()
        if row is None:
            raise AccountExists(
                "user_exists", f"a user named {username!r} exists already", username=username
            )
        return _account(row)

    def set_password(self, username: str, password: str) -> int:
        """Replace the password; end the account's sessions (a password is changed when it may
        be known to someone else). Returns how many sessions ended."""
        password_hash = self._passwords.hash(check_new_password(password, username))
        return self._change(
            username, "UPDATE accounts SET password_hash = %s, updated_at = now()"
            " WHERE username = %s", (password_hash, username),
        )

    def disable(self, username: str) -> int:
        """Refuse every further sign-in and end the account's sessions at once. Returns how
        many sessions ended."""
        return self._change(
            username, "UPDATE accounts SET disabled = true, updated_at = now()"
            " WHERE username = %s", (username,),
        )

    def _change(self, username: str, sql: str, params: tuple[object, ...]) -> int:
        with psycopg.connect(self._conninfo) as conn, conn.transaction():
            if conn.execute(sql, params).rowcount == 0:  # type: ignore[arg-type]
                raise NotFound("user_not_found", f"no user named {username!r}", username=username)
            return conn.execute(_END_SESSIONS, (LOCAL_ISSUER, username)).rowcount

    def list(self) -> list[Account]:
        with psycopg.connect(self._conninfo) as conn:
            rows = conn.execute(_LIST).fetchall()
        return [_account(row) for row in rows]
