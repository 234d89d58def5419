"""Domain errors: every refused step raises one, with a stable machine-readable code.

The API maps the *kind* of error (not each code) to an HTTP status in one place
(`api/errors.py`); the code and the human message travel to the client unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What sort of refusal this is; decides the HTTP status."""

    INVALID = "invalid"  # the request itself is malformed or out of range -> 422
    RULE = "rule"  # a business rule forbids the step -> 422
    STATE = "state"  # the case is not in a state that allows the step -> 409
    FORBIDDEN = "forbidden"  # actor lacks role or jurisdiction -> 403
    NOT_FOUND = "not_found"  # -> 404
    CONFLICT = "conflict"  # concurrent change / stale version -> 409 (412 over HTTP with If-Match)
    CONFIG = "config"  # a configuration or rules file is wrong (start-up)


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    `code` is stable (clients and tests key on it); `message` is for humans;
    `details` carries the figures that explain the refusal.
    """

    kind: ErrorKind = ErrorKind.RULE

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidInput(DomainError):
    kind = ErrorKind.INVALID


class RuleViolation(DomainError):
    kind = ErrorKind.RULE


class WrongState(DomainError):
    kind = ErrorKind.STATE


class NotAllowed(DomainError):
    kind = ErrorKind.FORBIDDEN


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class VersionConflict(DomainError):
    kind = ErrorKind.CONFLICT


class ConfigError(DomainError):
    kind = ErrorKind.CONFIG
