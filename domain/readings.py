"""Derived readings of a case, each computed in one place (STYLE.md rule 13).

The command side (the application and the aggregate) and the read side (the projections' folds)
call these same functions, so the board never disagrees with the command. Pure: no I/O.

| reading | function | sources |
|---|---|---|
| which rulebook sets a report's deadline | `annual_report_rulebook` | FJ Art. 15, XM Art. 9 |
| annual-report due date | `annual_report_due` | FJ Art. 15 (Mar 30), XM Art. 9 (Apr 30) |
| subsidy entitlement of a funding year | `entitlement`, `entitlement_required` | XM Art. 10, 13 |
| what remains approved; whether a payment fits | `remaining_fen`, `payment_fits` | XM Art. 15 |
| whether a revocation can be appealed, under which periods | `appeal_route` | FJ Art. 16 |
| the last day of a period | `period_end` | Civil Code Art. 201-203 |
| whether a step on a day is still in time | `in_time` | (the due date itself is in time) |

Status on a date and the day a certification lapses are in `domain.status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Protocol

import msgspec

from domain.calendar import Deadline, WorkingDayCalendar
from domain.errors import NotFound
from domain.governance import governing_version
from domain.money import Fen
from domain.programmes import ProgrammeProfile
from domain.rulebook import PeriodRule, Rulebook, RulebookVersion
from domain.subsidy import entitlement as band_amount

# ---- annual report ---------------------------------------------------------------------------


def annual_report_rulebook(
    rulebook: Rulebook, profile: ProgrammeProfile, year: int, recorded_version: str
) -> RulebookVersion:
    """The rulebook version whose deadline applies to the annual report on `year`.

    The obligation arises when the year is over, so the version governing the programme on 1
    January of the following year decides (`domain.governance`: the latest layer in force, else
    the scheme), whenever the report is filed (a report filed late under a newer version keeps
    its due date). Where none is in force yet on that day, the version recorded on the case
    (`recorded_version`, the last one an event recorded) stands in.
    """
    try:
        return governing_version(rulebook, profile, date(year + 1, 1, 1))
    except NotFound:
        return rulebook.get(recorded_version)


def annual_report_due(version: RulebookVersion, year: int) -> date:
    """The day the report on `year` is due under `version`: its month and day of the following
    year (FJ Art. 15: March 30; XM Art. 9: April 30). Filing on that day is in time."""
    deadline = version.annual_report
    return date(year + 1, deadline.month, deadline.day)


# ---- subsidy entitlement ---------------------------------------------------------------------


class AssessmentReading(Protocol):
    """What an entitlement reads of an annual assessment: the aggregate's `Assessment` and the
    fold's `AssessmentDigest` both have it."""

    @property
    def number(self) -> int: ...  # 1st, 2nd, ... assessment since certification

    @property
    def final_score(self) -> Decimal | None: ...  # the city's re-review score (XM Art. 10)

    @property
    def failed(self) -> bool: ...  # a failure ground was recorded (XM Art. 10)


def _decisive(
    assessments: Iterable[AssessmentReading], number: int
) -> AssessmentReading | None:
    """The `number`-th assessment once its final score is recorded."""
    for assessment in assessments:
        if assessment.number == number and assessment.final_score is not None:
            return assessment
    return None


def entitlement(
    version: RulebookVersion, funding_year: int, assessments: Iterable[AssessmentReading]
) -> Fen | None:
    """What funding year `funding_year` entitles to under `version`, in fen; None while it
    cannot be known yet.

    - A lump-sum year (year 1, XM Art. 13) entitles to its sum, whatever the assessments.
    - A banded year follows the final score of the assessment it depends on
      (`SubsidyYear.by_assessment`; XM Art. 13: 第二年根据第一年绩效考核结果 ...): the band
      whose minimum the score reaches (minimum included, 80（含）分以上; `domain.subsidy`).
      Until that assessment has a final score the amount is not known: None. A district's
      initial score does not decide, even with failure grounds: the city's re-review restates
      them.
    - An assessment that failed (any failure ground) entitles to 0, whatever its score
      (XM Art. 10: 考核不予通过，不得享受相关支持措施).

    Raises NotFound("no_subsidy_for_year") when `version` grants nothing for that year (FJ
    grants no subsidy at all), InvalidInput("score_out_of_range") for a final score outside the
    version's scale. The command refuses an unknown amount (`entitlement_required`); the read
    side shows it as not yet known.
    """
    year = version.subsidy_year(funding_year)
    if year.by_assessment is None:
        return band_amount(version, funding_year, None)
    decisive = _decisive(assessments, year.by_assessment)
    if decisive is None:
        return None
    if decisive.failed:
        return 0
    return band_amount(version, funding_year, decisive.final_score)


def entitlement_required(
    version: RulebookVersion, funding_year: int, assessments: Iterable[AssessmentReading]
) -> Fen:
    """`entitlement`, for a command that needs the amount now (approving a subsidy): where it
    is not known yet, raises RuleViolation("score_required") naming the assessment awaited."""
    amount = entitlement(version, funding_year, assessments)
    if amount is None:
        # Without a final score the band lookup refuses with its own code and details.
        return band_amount(version, funding_year, None)
    return amount


# ---- payments --------------------------------------------------------------------------------


def remaining_fen(approved_fen: int, paid_fen: int) -> Fen:
    """What is approved and not yet paid (XM Art. 15), in fen."""
    return approved_fen - paid_fen


def payment_fits(approved_fen: int, paid_fen: int, amount_fen: int) -> bool:
    """Whether paying `amount_fen` keeps the payments within the approval: payments never
    exceed what was approved (XM Art. 15). Paying exactly what remains fits. (That an amount is
    positive is checked with the input, `amount_not_positive`.)"""
    return amount_fen <= remaining_fen(approved_fen, paid_fen)


# ---- appeals and periods ---------------------------------------------------------------------


class AppealRoute(msgspec.Struct, frozen=True, kw_only=True):
    """How a revocation is appealed under one rulebook version (FJ Art. 16)."""

    rulebook_version: str
    period: PeriodRule  # to file the appeal, from receipt of the decision (15 working days)
    reply: PeriodRule  # for the decision-maker to reply, from the appeal (30 working days)


def appeal_route(version: RulebookVersion) -> AppealRoute | None:
    """The appeal route of a revocation decided under `version`, or None: no appeal route.

    FJ Art. 16 sets both periods. The XM rules set neither (MIIT certifies and revokes national
    clusters): a revocation recorded under them has no appeal deadline, and an appeal is
    refused with `no_appeal_route`. A version with only one of the two periods offers no route
    either: an appeal that could be filed but never answered in time is not a route.
    """
    if version.appeal_period is None or version.appeal_reply is None:
        return None
    return AppealRoute(
        rulebook_version=version.id, period=version.appeal_period, reply=version.appeal_reply
    )


def period_end(calendar: WorkingDayCalendar, trigger: date, rule: PeriodRule) -> Deadline:
    """The last day of the period `rule` sets from `trigger` (the appeal window from the day a
    revocation is received, the reply window from the appeal, a public notice from its first
    day): counted in working days or calendar days as the rule says, from the day after the
    trigger unless the rule counts the trigger day (Civil Code Art. 201, 203)."""
    if rule.working_days:
        return calendar.add_working_days(
            trigger, rule.days, count_trigger_day=rule.count_trigger_day
        )
    return calendar.add_calendar_days(trigger, rule.days, count_trigger_day=rule.count_trigger_day)


def in_time(due_on: date, day: date) -> bool:
    """Whether a step taken on `day` meets a deadline of `due_on`: the due date itself is still
    in time; the day after is late (overdue)."""
    return day <= due_on
