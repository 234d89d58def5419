"""The status of a case, and how it reads on a given date.

A case records one of the `Status` values. One more status is *read*, never recorded: a
certification whose validity has run out without a pending renewal reads `EXPIRED` from the day
after its last valid day (FJ Art. 14, XM Art. 8: 有效期三年; the period includes its last day,
Civil Code Art. 201-202). That reading is two steps, each written once here:

- `lapses_on` computes, from what the case records, the first day it reads expired (or None),
  whenever the case changes: the aggregate (`CaseState.lapses_on`) and the status view's fold
  (`projections.folds.status_row`, which stores it) both call it;
- `status_on` reads the status on a day from the recorded status and that date: the aggregate,
  the fold and the offline summary call it, and the board's SQL compares the stored date the
  same way (`projections.queries.status_on_sql`).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class Status(StrEnum):
    APPLIED = "applied"  # awaiting city review
    NOT_RECOMMENDED = "not_recommended"  # city declined (final)
    RECOMMENDED = "recommended"  # awaiting province (FJ) or MIIT (XM)
    UNDER_NOTICE = "under_notice"  # FJ: shortlisted and under public notice (公示)
    REJECTED = "rejected"  # final
    CERTIFIED = "certified"  # reads as "expired" from `lapses_on` (derived by date)
    RENEWAL_FAILED = "renewal_failed"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"  # the applicant withdrew before the decision (final)


EXPIRED = "expired"
"""The status a lapsed certification reads on and after its `lapses_on` date (never recorded)."""

FINAL_STATUSES = frozenset({Status.NOT_RECOMMENDED, Status.REJECTED, Status.WITHDRAWN})
"""Statuses no later step leaves: the case ended before certification."""

STATUSES_READ = frozenset({*(str(s) for s in Status), EXPIRED})
"""Every status a reader can see: the recorded ones and `EXPIRED`."""

_ONE_DAY = timedelta(days=1)


def lapses_on(status: str, valid_until: date | None, renewal_pending: bool) -> date | None:
    """The first day a case reads `EXPIRED`, or None if it does not lapse as it stands.

    A certified case lapses the day after `valid_until` (the last valid day is still
    certified), unless a renewal review is pending: while the province (FJ Art. 14) or MIIT
    (XM Art. 8) decides it, the certification keeps reading certified. Any other status (not
    yet certified, renewal failed, revoked) never reads expired. A change to any input (a
    renewal requested, decided, a revocation) gives a new date, computed again then.
    """
    if status != Status.CERTIFIED or valid_until is None or renewal_pending:
        return None
    if valid_until == date.max:  # no day after it: it never lapses
        return None
    return valid_until + _ONE_DAY


def status_on(status: str, lapses: date | None, day: date) -> str:
    """The status a reader sees on `day`: `EXPIRED` on and after `lapses` (from `lapses_on`),
    else the recorded status."""
    if lapses is not None and day >= lapses:
        return EXPIRED
    return str(status)
