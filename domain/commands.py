"""Every command, declared once: its request body, the permission it needs, its route, its
documentation and what it does to the case.

A stage module declares each of its commands with `@command(...)` on the function that acts
(`act`); the registry (`commands()`, `spec_of()`) is what the rest is derived from: the API's
routes and OpenAPI operations (`api.routes.commands`), the application's one generic path
(`infra.application.ClusterLedger.execute`), and the checks that no command lacks a route or a
permission. `Command` names a command; the permission matrix (the programme profiles' `steps`,
`domain/rules/programmes.toml`) is keyed by it.

An act is pure: it reads the case, the body, and what it needs from outside the aggregate
through `rules` (the programme's profile, the rulebook version in force, calendar-based
periods and notices, the eligibility report, the entitlement), and calls the aggregate's
command method. It returns the other aggregates to save with the case (e.g. a voucher's
uniqueness index), or None. An act that opens a case takes no case and returns the new one.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

from domain.errors import DomainError
from domain.inputs import Day, DocumentNumber, LongText, RequestBody, Sha256Hex

if TYPE_CHECKING:
    from uuid import UUID

    from domain.calendar import Deadline
    from domain.case import Notice
    from domain.cluster import Cluster
    from domain.eligibility import EligibilityReport
    from domain.facts import Dossier
    from domain.programmes import ProgrammeProfile
    from domain.regions import Regions
    from domain.rulebook import PeriodRule, Rulebook, RulebookVersion


class Command(StrEnum):
    APPLY = "apply"
    RECOMMEND = "recommend"
    DECLINE = "decline_to_recommend"
    SHORTLIST = "shortlist"
    RAISE_OBJECTION = "raise_objection"
    RESOLVE_OBJECTION = "resolve_objection"
    CERTIFY = "certify"
    REJECT = "reject"
    FILE_ANNUAL_REPORT = "file_annual_report"
    SCORE = "score"
    SUBMIT_FUND_USE_PLAN = "submit_fund_use_plan"
    REVIEW_FUND_USE_PLAN = "review_fund_use_plan"
    APPROVE_SUBSIDY = "approve_subsidy"
    PAY_SUBSIDY = "pay_subsidy"
    REPORT_MAJOR_CHANGE = "report_major_change"
    REQUEST_RENEWAL = "request_renewal"
    DECIDE_RENEWAL = "decide_renewal"
    REVOKE = "revoke"
    APPEAL = "appeal"
    DECIDE_APPEAL = "decide_appeal"
    RECORD_AUDIT_FINDING = "record_audit_finding"
    CONFIRM_RECTIFICATION = "confirm_rectification"
    WITHDRAW = "withdraw"


class CommandBody(RequestBody, kw_only=True):
    """Provenance every command records beside its facts (DOMAIN.md, "Lifecycle"). The actor
    never comes from a body, only from the bearer token."""

    effective_date: Day  # the date on the decision document (valid time)
    document_number: DocumentNumber | None = None
    comment: LongText = ""  # the reason, where a decision needs one
    attachments: Annotated[tuple[Sha256Hex, ...], msgspec.Meta(max_length=50)] = ()


class Rules(Protocol):
    """What acts need from outside the aggregate, given by the application."""

    @property
    def regions(self) -> Regions: ...

    def profile(self, dossier: Dossier) -> ProgrammeProfile:
        """The profile of the case's programme (`domain.programmes`)."""
        ...

    def rulebook(self, dossier: Dossier, on: date) -> RulebookVersion:
        """The rulebook version that governs this case on `on`."""
        ...

    def period(
        self, trigger: date, rule: PeriodRule | None, what: str, version: RulebookVersion
    ) -> Deadline:
        """The end of a period the rulebook defines, by the working-day calendar."""
        ...

    def notice(self, starts_on: date, rule: PeriodRule | None, version: RulebookVersion) -> Notice:
        """A public notice starting on `starts_on`, its end by the rulebook and the calendar."""
        ...

    def eligibility(self, dossier: Dossier, on: date) -> EligibilityReport:
        """The dossier's figures against the certification standards in force on `on`."""
        ...

    def rulebook_of(self) -> Rulebook:
        """Every rulebook version side by side (for readings that pick their own version)."""
        ...

    def entitlement(self, cluster: Cluster, version: RulebookVersion, funding_year: int) -> int:
        """The subsidy (fen) the case is entitled to for `funding_year`."""
        ...


@runtime_checkable
class Claim(Protocol):
    """An aggregate an act saves beside the case to claim a value that is unique across every
    case (its id derives from the value): when the save collides, another case holds it."""

    id: UUID

    def taken(self) -> DomainError:
        """The refusal when the value was claimed already."""
        ...


B = TypeVar("B", bound=CommandBody)
F = TypeVar("F", bound=Callable[..., Any])

_PATH_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


@dataclass(frozen=True, kw_only=True)
class CommandSpec(Generic[B]):
    command: Command  # the permission it needs (the programme profiles' `steps`)
    body: type[B]  # its request body
    path: str  # its route below the case ("/recommendation"); "" for a command opening one
    operation_id: str
    summary: str
    description: str  # the act's docstring
    opens_case: bool
    act: Callable[..., Any]  # (cluster, meta, body, rules, **path) -> others | None, or
    # (meta, body, rules) -> the new Cluster when it opens a case
    name: str  # the act's name, e.g. "decline_to_recommend"
    uses: tuple[str, ...] = ()  # rulebook aspects whose conventions the decision relies on

    @property
    def path_parameters(self) -> tuple[str, ...]:
        """The names of the path's parameters besides the case: keyword arguments of the act."""
        return tuple(name for name, _ in _PATH_PARAMETER.findall(self.path))


_REGISTRY: dict[Command, CommandSpec[Any]] = {}

# The stage modules that declare commands: importing them fills the registry.
STAGE_MODULES = (
    "domain.review",
    "domain.certification",
    "domain.monitoring",
    "domain.funding",
    "domain.sanctions",
)


def command(
    which: Command,
    *,
    body: type[CommandBody],
    path: str,
    summary: str,
    opens_case: bool = False,
    uses: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declare the decorated act as the command `which` (see the module's docstring). Its
    OpenAPI operation id is the act's name in camelCase (`decline_to_recommend`:
    `declineToRecommend`)."""

    def register(act: F) -> F:
        first, *rest = act.__name__.split("_")
        spec = CommandSpec(
            command=which,
            body=body,
            path=path,
            operation_id=first + "".join(word.capitalize() for word in rest),
            summary=summary,
            description=inspect.cleandoc(act.__doc__ or ""),
            opens_case=opens_case,
            act=act,
            name=act.__name__,
            uses=uses,
        )
        _check(spec)
        _REGISTRY[which] = spec
        return act

    return register


def _check(spec: CommandSpec[Any]) -> None:
    """A declaration that could not be routed or run is refused when its module loads (a
    programming error, never an answer to a request)."""
    earlier = _REGISTRY.get(spec.command)
    if earlier is not None and earlier.act is not spec.act:
        raise TypeError(f"{spec.command} is declared twice")
    if not spec.description:
        raise TypeError(f"{spec.name}: the act needs a docstring")
    if spec.opens_case != (spec.path == ""):
        raise TypeError(f"{spec.name}: a command on a case has a path below it")
    keywords = {
        name for name, p in inspect.signature(spec.act).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    if keywords != set(spec.path_parameters):
        raise TypeError(
            f"{spec.name}: the act's keyword arguments {sorted(keywords)} are not the path's "
            f"parameters {sorted(spec.path_parameters)}"
        )


@functools.cache
def commands() -> tuple[CommandSpec[Any], ...]:
    """Every declared command, in the order of the stage modules."""
    for module in STAGE_MODULES:
        importlib.import_module(module)
    return tuple(_REGISTRY.values())


def spec_of(which: Command) -> CommandSpec[Any]:
    return _by_command()[which]


@functools.cache
def _by_command() -> dict[Command, CommandSpec[Any]]:
    return {spec.command: spec for spec in commands()}
