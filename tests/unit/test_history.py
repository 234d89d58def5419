"""State of a case at a date (domain.history): valid time, transaction time, both, and diffs.

Events come from the aggregate's own commands (tests.unit.cluster_steps); their recording
times are then set explicitly, one day apart unless a test says otherwise, so that `known_at`
can fall between two recordings.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.case import Status
from domain.cluster import Cluster
from domain.facts import AppealOutcome, Ground, ScoreStage
from domain.history import (
    CaseAtDate,
    Exclusion,
    LoggedEvent,
    Prefix,
    case_at,
    diff,
    diff_between,
    replayable_prefix,
)
from tests.unit.cluster_steps import (
    APPEALED_ON,
    FJ_APPLIED_ON,
    REVOKED_ON,
    XM_CERTIFIED_ON,
    YEAR_ONE_FEN,
    appeal,
    appeal_decision_meta,
    approve,
    fj_revoked,
    miit_recorder,
    pay,
    review_plan,
    score,
    submit_plan,
    xm_certified,
    xm_paid,
)

TODAY = date(2026, 1, 15)
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
APPEAL_DECIDED_ON = date(2025, 11, 14)


def logged(cluster: Cluster, start: datetime = T0) -> list[LoggedEvent]:
    """The cluster's pending events, recorded one day apart from `start`, positions 1, 2, ..."""
    events = cluster.collect_events()
    return [
        LoggedEvent(
            dataclasses.replace(event, timestamp=start + timedelta(days=i)),  # type: ignore[type-var]
            i + 1,
        )
        for i, event in enumerate(events)
    ]


def restamp(events: list[LoggedEvent], index: int, recorded: datetime) -> None:
    events[index] = LoggedEvent(
        dataclasses.replace(events[index].event, timestamp=recorded), events[index].position
    )


def at(events: list[LoggedEvent], **kwargs: Any) -> CaseAtDate:
    return case_at(events[0].event.originator_id, events, today=TODAY, **kwargs)


# ---- revoked, then overturned on appeal (FJ Art. 16) ------------------------------------------


def overturned_case() -> list[LoggedEvent]:
    cluster = fj_revoked()  # certified 2023-05-22, revoked 2025-09-24
    appeal(cluster)  # 2025-10-10
    cluster.decide_appeal(appeal_decision_meta(APPEAL_DECIDED_ON), AppealOutcome.OVERTURNED)
    return logged(cluster)


def test_status_before_the_revocation_is_certified() -> None:
    assert at(overturned_case(), as_of=date(2025, 9, 1)).status == "certified"


def test_status_between_revocation_and_appeal_decision_is_revoked() -> None:
    state = at(overturned_case(), as_of=date(2025, 10, 20))
    assert state.status == "revoked"
    assert state.case is not None
    assert state.case.appeal is not None
    assert state.case.appeal.filed_on == APPEALED_ON


def test_status_after_the_appeal_is_overturned_is_certified_again() -> None:
    state = at(overturned_case(), as_of=date(2025, 11, 20))
    assert state.status == "certified"
    assert state.case is not None
    assert state.case.appeal is not None
    assert state.case.appeal.outcome == AppealOutcome.OVERTURNED


def test_revocation_day_itself_reads_revoked() -> None:
    assert at(overturned_case(), as_of=REVOKED_ON).status == "revoked"


def test_used_events_are_listed_with_versions_and_positions() -> None:
    state = at(overturned_case(), as_of=date(2025, 10, 20))
    assert [(r.version, r.position, r.type) for r in state.used] == [
        (1, 1, "Applied"), (2, 2, "Recommended"), (3, 3, "Shortlisted"), (4, 4, "Certified"),
        (5, 5, "Revoked"), (6, 6, "Appealed"),
    ]
    assert [(r.type, r.reason) for r in state.excluded] == [
        ("AppealDecided", Exclusion.EFFECTIVE_LATER)
    ]
    assert state.version == 6


def test_before_the_application_the_case_does_not_exist() -> None:
    state = at(overturned_case(), as_of=FJ_APPLIED_ON - timedelta(days=1))
    assert not state.exists
    assert state.case is None
    assert state.status is None
    assert state.excluded[0].reason == Exclusion.EFFECTIVE_LATER


def test_without_dates_the_state_is_the_current_case() -> None:
    state = at(overturned_case())
    assert state.case is not None
    assert state.case.status == Status.CERTIFIED
    assert len(state.used) == 7
    assert state.status_on == TODAY


# ---- a late correction (XM Art. 10 score corrected after review) -------------------------------


def corrected_score_case() -> tuple[list[LoggedEvent], datetime, datetime]:
    """The city's final score 72 for 2025 (effective 2026-03-10), corrected to 81 with the
    same effective date but recorded a month later."""
    cluster = xm_paid()
    score(cluster, 2025, ScoreStage.DISTRICT_INITIAL, "72")
    score(cluster, 2025, ScoreStage.CITY_FINAL, "72")
    score(cluster, 2025, ScoreStage.CITY_FINAL, "81", correction=True,
          on=date(2026, 3, 10), comment="复核发现研发投入统计口径错误")
    events = logged(cluster)
    first = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    corrected = datetime(2026, 4, 12, 15, 30, tzinfo=UTC)
    restamp(events, len(events) - 3, first - timedelta(days=28))
    restamp(events, len(events) - 2, first)
    restamp(events, len(events) - 1, corrected)
    return events, first, corrected


def final_score(state: CaseAtDate) -> Decimal | None:
    assert state.case is not None
    return state.case.assessments[2025].final_score


def test_late_correction_wins_when_known_now() -> None:
    events, _, _ = corrected_score_case()
    assert final_score(at(events, as_of=date(2026, 3, 31))) == Decimal(81)


def test_late_correction_is_unknown_before_it_was_recorded() -> None:
    events, first, corrected = corrected_score_case()
    between = first + (corrected - first) / 2
    state = at(events, as_of=date(2026, 3, 31), known_at=between)
    assert final_score(state) == Decimal(72)
    assert state.excluded[-1].reason == Exclusion.RECORDED_LATER
    assert state.excluded[-1].type == "Scored"


def test_late_correction_is_known_from_its_recording_on() -> None:
    events, _, corrected = corrected_score_case()
    state = at(events, as_of=date(2026, 3, 31), known_at=corrected)
    assert final_score(state) == Decimal(81)
    assert state.case is not None
    assert state.case.assessments[2025].corrections == 1


def test_late_correction_does_not_reach_before_its_effective_date() -> None:
    events, _, _ = corrected_score_case()
    state = at(events, as_of=date(2026, 3, 9))
    assert state.case is not None
    assert state.case.assessments[2025].final_score is None
    assert state.case.assessments[2025].initial_score == Decimal(72)


# ---- paid while certified, or after a revocation recorded later --------------------------------


def revoked_after_payment_case() -> tuple[list[LoggedEvent], datetime]:
    """Year 1 paid on 2025-03-20; MIIT's revocation, dated 2025-03-15, is recorded afterwards."""
    cluster = xm_paid()
    cluster.revoke(
        miit_recorder(date(2025, 3, 15), document_number="工信部企业函〔2025〕31号",
                      comment="发现申报材料虚假"),
        Ground.FALSE_APPLICATION, date(2025, 3, 25), None, False, "XM-2024",
    )
    events = logged(cluster)
    return events, events[-2].event.timestamp  # the payment's recording time


def test_payment_was_made_while_certified_as_known_then() -> None:
    events, paid_at = revoked_after_payment_case()
    state = at(events, as_of=date(2025, 3, 20), known_at=paid_at)
    assert state.status == "certified"
    assert state.case is not None
    assert state.case.funding[1].paid_fen == YEAR_ONE_FEN


def test_payment_fell_after_the_revocation_as_known_now() -> None:
    events, _ = revoked_after_payment_case()
    state = at(events, as_of=date(2025, 3, 20))
    assert state.status == "revoked"
    assert state.case is not None
    assert state.case.revocation is not None
    assert state.case.revocation.decided_on == date(2025, 3, 15)
    assert state.case.funding[1].paid_fen == YEAR_ONE_FEN


def test_before_the_payment_date_nothing_is_paid() -> None:
    events, _ = revoked_after_payment_case()
    state = at(events, as_of=date(2025, 3, 19))
    assert state.case is not None
    assert state.case.funding[1].paid_fen == 0
    assert state.status == "revoked"


# ---- filtering and edge cases ------------------------------------------------------------------


def test_event_whose_predecessor_is_filtered_out_is_inapplicable() -> None:
    """An approval dated before the plan it approves (dates entered out of order)."""
    cluster = xm_certified()
    submit_plan(cluster, on=date(2025, 2, 10))
    review_plan(cluster, on=date(2025, 2, 12))
    approve(cluster, on=date(2025, 2, 5))
    state = at(logged(cluster), as_of=date(2025, 2, 7))
    assert [(r.type, r.reason) for r in state.excluded] == [
        ("FundUsePlanSubmitted", Exclusion.EFFECTIVE_LATER),
        ("FundUsePlanReviewed", Exclusion.EFFECTIVE_LATER),
        ("SubsidyApproved", Exclusion.INAPPLICABLE),
    ]
    assert state.case is not None
    assert state.case.funding == {}


def test_known_at_before_the_application_was_recorded_has_no_case() -> None:
    events = logged(xm_certified())
    state = at(events, known_at=T0 - timedelta(seconds=1))
    assert not state.exists
    assert {r.reason for r in state.excluded} == {Exclusion.RECORDED_LATER}


def test_known_at_alone_reads_the_status_on_its_own_date() -> None:
    events = logged(xm_certified())
    state = at(events, known_at=datetime(2025, 1, 3, 23, 0, tzinfo=UTC))
    assert state.status_on == date(2025, 1, 3)
    assert state.status == "certified"


def test_known_at_must_be_timezone_aware() -> None:
    events = logged(xm_certified())
    with pytest.raises(ValueError, match="timezone"):
        at(events, known_at=datetime(2025, 1, 3, 12, 0))  # noqa: DTZ001


def test_certification_past_validity_reads_expired_on_that_date() -> None:
    events = logged(xm_certified())  # valid until 2028-01-20
    assert at(events, as_of=date(2028, 1, 21)).status == "expired"
    assert at(events, as_of=date(2028, 1, 20)).status == "certified"


# ---- diff ----------------------------------------------------------------------------------------


def test_diff_names_changed_paths_old_and_new() -> None:
    events = overturned_case()
    changes = diff_between(
        at(events, as_of=date(2025, 9, 1)), at(events, as_of=date(2025, 10, 20))
    )
    by_path = {c.path: (c.old, c.new) for c in changes.changes}
    assert by_path["status"] == ("certified", "revoked")
    assert by_path["revocation"][0] is None
    assert by_path["revocation"][1]["decided_on"] == REVOKED_ON.isoformat()
    assert by_path["last_effective_date"] == ("2023-05-22", "2025-10-10")
    assert [e.type for e in changes.events] == ["Revoked", "Appealed"]
    assert changes.status_from == "certified"
    assert changes.status_to == "revoked"


def test_diff_of_a_state_with_itself_is_empty() -> None:
    events = overturned_case()
    state = at(events, as_of=date(2025, 10, 20))
    assert diff(state.case, state.case) == ()


def test_diff_reaches_into_nested_mappings() -> None:
    cluster = xm_certified()
    submit_plan(cluster)
    review_plan(cluster)
    approve(cluster)
    pay(cluster, YEAR_ONE_FEN, "XM-2025-0009")
    events = logged(cluster)
    changes = diff_between(
        at(events, as_of=date(2025, 3, 10)), at(events, as_of=date(2025, 3, 25))
    )
    by_path = {c.path: (c.old, c.new) for c in changes.changes}
    assert by_path["funding.1.paid_fen"] == (0, YEAR_ONE_FEN)
    assert by_path["funding.1.vouchers[0]"] == (None, "XM-2025-0009")


def test_diff_from_before_the_application_lists_the_whole_case_as_new() -> None:
    events = logged(xm_certified())
    changes = diff_between(
        at(events, as_of=date(2024, 1, 1)), at(events, as_of=XM_CERTIFIED_ON)
    )
    paths = {c.path for c in changes.changes}
    assert {"status", "dossier", "certified_on"} <= paths
    assert changes.status_from is None
    assert changes.status_to == "certified"


# ---- starting from a saved state (a snapshot) --------------------------------------------------


def _prefix(events: list[LoggedEvent], length: int) -> Prefix:
    aggregate = None
    for item in events[:length]:
        aggregate = item.event.mutate(aggregate)
    refs = at(events[:length]).used
    assert len(refs) == length
    return Prefix(aggregate=aggregate, refs=refs)


def test_a_prefix_gives_the_same_answer_as_the_fold_from_the_first_event() -> None:
    events = logged(xm_paid())
    days = sorted({item.event.meta.effective_date for item in events})
    checked = 0
    for day in [*days, TODAY]:
        refs = at(events).used
        length = replayable_prefix(refs, day, None)
        for start in range(1, length + 1):
            fast = case_at(
                events[0].event.originator_id, events[start:], today=TODAY, as_of=day,
                prefix=_prefix(events, start),
            )
            assert fast == at(events, as_of=day)
            checked += 1
    assert checked > len(events)


def test_replayable_prefix_stops_at_the_first_event_the_filters_drop() -> None:
    events = logged(xm_paid())
    refs = at(events).used
    assert replayable_prefix(refs, None, None) == len(refs)
    assert replayable_prefix(refs, None, T0 + timedelta(days=2, hours=1)) == 3
    first_day = refs[0].effective_date
    assert replayable_prefix(refs, first_day - timedelta(days=1), None) == 0


def test_a_prefix_the_filters_would_cut_is_refused() -> None:
    events = logged(xm_paid())
    prefix = _prefix(events, 4)
    with pytest.raises(ValueError, match="does not pass the filters"):
        case_at(
            events[0].event.originator_id, events[4:], today=TODAY,
            known_at=T0 + timedelta(days=1, hours=1), prefix=prefix,
        )
    with pytest.raises(ValueError, match="do not continue the prefix"):
        case_at(events[0].event.originator_id, events[5:], today=TODAY, prefix=prefix)
