"""Pre-check of a dossier's figures against one rulebook version's certification standards.

The city department reviews a dossier "on the basis of meeting the certification standards"
(FJ Art. 12; XM Art. 7). The pre-check gives that reviewer one line per criterion, in the order
of the annex, with the declared figure, the threshold and the source's boundary word, so that
why a dossier falls short is visible at a glance and the report cites the version it applied.

Outcomes:
- `pass` / `fail`: a threshold compared, or a yes/no declaration the rulebook names for a
  qualitative criterion (FJ Annex §6, the negative list): yes passes, no fails.
- `missing`: the figure (or declaration) needed for that comparison was not given; for a
  yearly series, fewer years than the rule reads.
- `not_assessable`: a qualitative criterion with no declared indicator; the reviewer records
  a finding (FJ Annex §3, §7, §8 and the qualitative parts of §1, §4, §5, §6).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

import msgspec

from domain.errors import ConfigError
from domain.indicators import Indicators
from domain.rulebook import AnyOf, Comparator, Qualitative, RulebookVersion, Threshold

Outcome = Literal["pass", "fail", "not_assessable", "missing"]

_MEETS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "ge": lambda figure, bound: figure >= bound,
    "gt": lambda figure, bound: figure > bound,
    "le": lambda figure, bound: figure <= bound,
    "lt": lambda figure, bound: figure < bound,
    "eq": lambda figure, bound: figure == bound,
}
_SYMBOL = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "="}


class CriterionResult(msgspec.Struct, frozen=True, kw_only=True):
    """One criterion's outcome, with what was compared against what."""

    id: str
    article: str
    label: str
    outcome: Outcome
    figure: str | None = None  # the declared figure, human readable; None when not given
    threshold: str | None = None  # e.g. "≥ 3000000000 yuan (以上)"
    comparator: Comparator | Literal["any_of"] | None = None
    wording: str | None = None  # the source's boundary word(s)
    alternatives: tuple[CriterionResult, ...] = ()  # for an any-of criterion (FJ Annex §2)


class EligibilityReport(msgspec.Struct, frozen=True, kw_only=True):
    """The pre-check of one dossier under one rulebook version.

    `eligible` is True when no criterion failed and none is missing: every threshold is met
    and every yes/no declaration (including the negative list) is given as yes. Criteria left
    to the reviewer (`not_assessable`) do not block it, so eligible means "nothing in the
    declared figures stops this dossier", not "certifiable".
    """

    rulebook_version: str
    eligible: bool
    criteria: tuple[CriterionResult, ...]

    @property
    def shortfalls(self) -> tuple[CriterionResult, ...]:
        """The criteria that stop the dossier: failed or missing."""
        return tuple(c for c in self.criteria if c.outcome in ("fail", "missing"))

    @property
    def for_review(self) -> tuple[CriterionResult, ...]:
        """The criteria a reviewer must judge and record a finding for."""
        return tuple(c for c in self.criteria if c.outcome == "not_assessable")


def precheck(indicators: Indicators, version: RulebookVersion) -> EligibilityReport:
    """Assess every criterion of `version` against the declared `indicators`."""
    criteria = tuple(_assess(criterion, indicators) for criterion in version.thresholds)
    return EligibilityReport(
        rulebook_version=version.id,
        eligible=all(c.outcome in ("pass", "not_assessable") for c in criteria),
        criteria=criteria,
    )


def _assess(criterion: Threshold | AnyOf | Qualitative, indicators: Indicators) -> CriterionResult:
    if isinstance(criterion, Threshold):
        return _threshold(criterion, indicators)
    if isinstance(criterion, AnyOf):
        return _any_of(criterion, indicators)
    return _qualitative(criterion, indicators)


def _threshold(rule: Threshold, indicators: Indicators) -> CriterionResult:
    declared = _read(indicators, rule.indicator)
    if rule.years is not None:
        return _series(rule, declared)
    if declared is None:
        return _result(rule, "missing", None)
    figure = _number_of(declared, rule)
    passed = _MEETS[rule.comparator](figure, rule.value)
    return _result(rule, "pass" if passed else "fail", _quantity(figure, rule.unit))


def _series(rule: Threshold, declared: object) -> CriterionResult:
    """Each of the last `rule.years` figures must meet the bound; report the worst one."""
    if not isinstance(declared, tuple):
        raise ConfigError("invalid_rulebook", f"{rule.id}: {rule.indicator} is not a yearly series")
    years = rule.years or 0
    if len(declared) < years:
        given = f"{len(declared)} of {years} years given" if declared else None
        return _result(rule, "missing", given)
    last = [_number_of(value, rule) for value in declared[len(declared) - years :]]
    lower_bound = rule.comparator in ("ge", "gt")
    worst = min(last) if lower_bound else max(last)
    passed = all(_MEETS[rule.comparator](value, rule.value) for value in last)
    extreme = "lowest" if lower_bound else "highest"
    figure = f"{_quantity(worst, rule.unit)} ({extreme} of the last {years} years)"
    return _result(rule, "pass" if passed else "fail", figure)


def _any_of(rule: AnyOf, indicators: Indicators) -> CriterionResult:
    """Met by any alternative; missing when none is met and one could still be."""
    alternatives = tuple(_threshold(alternative, indicators) for alternative in rule.alternatives)
    outcomes = {alternative.outcome for alternative in alternatives}
    outcome: Outcome = (
        "pass" if "pass" in outcomes else "missing" if "missing" in outcomes else "fail"
    )
    return CriterionResult(
        id=rule.id,
        article=rule.article,
        label=rule.label,
        outcome=outcome,
        figure=" / ".join(a.figure or "not given" for a in alternatives),
        threshold=" or ".join(a.threshold or "" for a in alternatives),
        comparator="any_of",
        wording=" / ".join(a.wording or "" for a in alternatives),
        alternatives=alternatives,
    )


def _qualitative(rule: Qualitative, indicators: Indicators) -> CriterionResult:
    base = CriterionResult(
        id=rule.id, article=rule.article, label=rule.label, outcome="not_assessable"
    )
    if rule.indicator is None:
        return base
    declared = _read(indicators, rule.indicator)
    if declared is None:
        return msgspec.structs.replace(base, outcome="missing", threshold="yes", comparator="eq")
    if not isinstance(declared, bool):
        raise ConfigError("invalid_rulebook", f"{rule.id}: {rule.indicator} is not yes/no")
    return msgspec.structs.replace(
        base,
        outcome="pass" if declared else "fail",
        figure="yes" if declared else "no",
        threshold="yes",
        comparator="eq",
    )


def _read(indicators: Indicators, name: str) -> object:
    if name not in Indicators.__struct_fields__:
        raise ConfigError("invalid_rulebook", f"rulebook names unknown indicator {name!r}")
    value: object = getattr(indicators, name)
    return value


def _number_of(value: object, rule: Threshold) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ConfigError("invalid_rulebook", f"{rule.id}: {rule.indicator} is not a number")
    return Decimal(value)


def _result(rule: Threshold, outcome: Outcome, figure: str | None) -> CriterionResult:
    bound = f"{_SYMBOL[rule.comparator]} {_quantity(rule.value, rule.unit)} ({rule.wording})"
    return CriterionResult(
        id=rule.id,
        article=rule.article,
        label=rule.label,
        outcome=outcome,
        figure=figure,
        threshold=bound,
        comparator=rule.comparator,
        wording=rule.wording,
    )


def _quantity(value: Decimal, unit: str) -> str:
    number = str(int(value)) if value == value.to_integral_value() else f"{value.normalize():f}"
    if not unit:
        return number
    return f"{number}%" if unit == "%" else f"{number} {unit}"
