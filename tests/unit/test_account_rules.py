"""The rules for usernames and new passwords (NIST SP 800-63B style), boundaries on both
sides; the password's Unicode normalisation. Pure: no database."""

from __future__ import annotations

import argon2
import pytest

from domain.errors import InvalidInput
from infra.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Passwords,
    check_new_password,
    check_username,
    lookup_name,
)

CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def refusal(password: str, username: str = "someone") -> str:
    with pytest.raises(InvalidInput) as refused:
        check_new_password(password, username)
    return refused.value.code


def test_a_password_of_the_minimum_length_is_accepted_and_one_shorter_is_not() -> None:
    assert MIN_PASSWORD_LENGTH == 15
    assert check_new_password("abcdefghijklmno", "someone") == "abcdefghijklmno"
    assert refusal("abcdefghijklmn") == "password_too_short"


def test_a_password_of_the_maximum_length_is_accepted_and_one_longer_is_not() -> None:
    longest = ("correct horse battery staple " * 5)[:MAX_PASSWORD_LENGTH]
    assert check_new_password(longest, "someone") == longest
    assert refusal(longest + "x") == "password_too_long"


def test_no_character_classes_are_required() -> None:
    assert check_new_password("correct horse battery staple", "someone")  # lower case only
    assert check_new_password("730194862051739", "someone")  # digits only
    assert check_new_password("晋江市运动鞋原辅材料产业集群台账", "someone")


def test_a_password_containing_the_username_is_refused_whatever_its_case() -> None:
    assert refusal("my name is SomeOne, hello", "someone") == "password_contains_username"


def test_a_repetitive_password_is_refused_and_five_distinct_characters_pass() -> None:
    assert refusal("abababababababab") == "password_too_repetitive"
    assert refusal("abcdabcdabcdabcd") == "password_too_repetitive"
    assert check_new_password("abcdeabcdeabcdea", "someone")


def test_a_control_character_is_refused() -> None:
    assert refusal("correct horse\tbattery staple") == "password_invalid_character"


def test_a_full_width_password_is_the_same_password() -> None:
    passwords = Passwords(CHEAP)
    stored = passwords.hash("Spring Festival 2026")
    assert passwords.verify(stored, "Ｓｐｒｉｎｇ　Ｆｅｓｔｉｖａｌ　２０２６")
    assert not passwords.verify(stored, "Spring Festival 2025")


def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    stored = Passwords(CHEAP).hash("Spring Festival 2026")
    assert Passwords().needs_rehash(stored)
    assert not Passwords(CHEAP).needs_rehash(stored)
    assert Passwords().needs_rehash("not a hash")


@pytest.mark.parametrize("name", ["a", "county-jinjiang", "li.wei@fj", "x_1", "a" * 64])
def test_usernames_that_are_accepted(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["", "Alice", "-lead", "a" * 65, "李伟", "a b", "a/b"])
def test_usernames_that_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_username(name)
    assert refused.value.code == "invalid_username"


def test_a_typed_username_is_looked_up_trimmed_and_in_lower_case() -> None:
    assert lookup_name("  County-JinJiang ") == "county-jinjiang"
