"""Every value a page shows in words has both languages; texts fill their placeholders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import get_args

import pytest

from api.i18n import label, problem_text, t
from api.i18n.catalogue import LOCALES, catalogue
from domain.actors import Role
from domain.case import Status
from domain.cluster import cluster_event_classes
from domain.commands import Command
from domain.facts import AppealOutcome, ChangeKind, Ground, ScoreStage
from domain.regions import Level
from domain.rulebook import Programme
from infra.rules import load_rulebook
from projections.folds import DeadlineKind
from projections.queries import STATUS_VALUES


def _event_names() -> list[str]:
    return list(cluster_event_classes())


def _fund_use_categories() -> set[str]:
    return {c for version in load_rulebook().versions for c in version.fund_use_categories}


VALUES: dict[str, list[str]] = {
    "status": sorted(STATUS_VALUES),
    "deadline_kind": [str(k) for k in DeadlineKind],
    "role": [str(r) for r in Role],
    "programme": [str(p) for p in Programme],
    "event": _event_names(),
    "ground": [str(g) for g in Ground],
    "change_kind": [str(k) for k in ChangeKind],
    "score_stage": [str(s) for s in ScoreStage],
    "appeal_outcome": [str(o) for o in AppealOutcome],
    "command": [str(c) for c in Command],
    "region_level": list(get_args(Level)),
    "fund_use_category": sorted(_fund_use_categories()),
}


@pytest.mark.parametrize(("group", "value"), [(g, v) for g, vs in VALUES.items() for v in vs])
def test_every_value_shown_in_words_has_both_languages(group: str, value: str) -> None:
    text = catalogue().ui.get(f"{group}.{value}")
    assert text is not None, f"ui.toml has no [{group}] {value}"
    assert text.zh != value


def test_the_value_lists_are_complete() -> None:
    assert "expired" in VALUES["status"]  # derived by date, not a recorded Status
    assert len(VALUES["event"]) == 23
    assert len(VALUES["fund_use_category"]) == 6


def test_a_label_is_the_value_in_words() -> None:
    assert label("zh", "status", "certified") == "已认定"
    assert label("en", "status", Status.UNDER_NOTICE) == "Under public notice"
    assert label("zh", "event", "AppealDecided") == "申诉复核结论"
    assert label("zh", "programme", "FJ") == "福建省级特色产业集群"


def test_a_value_without_words_is_shown_as_it_is() -> None:
    assert label("zh", "status", "archived") == "archived"
    assert label("zh", "no_such_group", "x") == "x"
    assert label("zh", "status", None) == ""


def test_t_fills_a_ui_string() -> None:
    assert t("zh", "status.revoked") == "已撤销认定"
    assert t("en", "problem.unknown_detail", code="x_y") == "Error code: x_y."


def test_t_refuses_an_unknown_key_or_a_missing_parameter() -> None:
    with pytest.raises(KeyError):
        t("zh", "status.no_such_status")
    with pytest.raises(KeyError):
        t("zh", "problem.unknown_detail")


def test_a_problem_in_chinese_fills_its_details_in_words() -> None:
    title, detail = problem_text(
        "zh", "role_not_permitted", {"role": "city", "allowed": ["province", "miit_recorder"]}
    )
    assert title == "角色无权办理"
    assert detail == (
        "设区市工信部门无权办理此事项；有权办理的是：省工信厅、工信部决定录入（市级）。"
    )


def test_a_problem_in_english_joins_lists_with_commas() -> None:
    _, detail = problem_text("en", "wrong_state", {"status": "applied",
                                                   "expected": ["certified", "expired"]})
    assert detail == "The case is Applied; this step needs it to be Certified, Expired."


def test_the_four_eyes_rule_reads_as_an_officer_would_write_it() -> None:
    title, detail = problem_text("zh", "four_eyes", {"user_id": "xm-officer"})
    assert title == "须由另一人办理"
    assert detail.startswith("同一人不得既推荐又认定")
    assert "用户 xm-officer 已在本案中办理前一环节" in detail


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"appeal_deadline": "2026-03-30"}, "期限已于2026年3月30日届满"),
        ({"appeal_deadline": date(2026, 3, 30)}, "期限已于2026年3月30日届满"),
        ({"appeal_deadline": "not a date"}, "期限已于not a date届满"),
    ],
)
def test_dates_in_a_problem_are_written_as_dates(details: dict[str, object], expected: str) -> None:
    assert expected in problem_text("zh", "appeal_window_closed", details)[1]


def test_money_in_a_problem_is_written_in_yuan_from_fen() -> None:
    details = {"amount_fen": 123_456_789, "remaining_fen": Decimal(5)}
    assert problem_text("zh", "payment_exceeds_approval", details)[1] == (
        "拟拨付 1,234,567.89元，超过核定金额的未拨付余额 0.05元。"
    )
    assert problem_text("en", "payment_exceeds_approval", details)[1] == (
        "CNY 1,234,567.89 exceeds what remains of the approval (CNY 0.05)."
    )


def test_a_missing_detail_shows_an_ellipsis_rather_than_failing() -> None:
    _, detail = problem_text("zh", "four_eyes", {})
    assert "用户 … 已在本案中" in detail


def test_a_code_without_an_entry_falls_back_to_its_status() -> None:
    assert problem_text("zh", "brand_new_code", {}, status=409) == (
        "与案件当前状态冲突", "错误代码：brand_new_code。"
    )
    assert problem_text("en", "brand_new_code", {}) == (
        "The request could not be completed", "Error code: brand_new_code."
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_recorded_times_in_a_template_are_shown_in_china_standard_time(locale: str) -> None:
    from api.i18n.messages import write_value

    instant = datetime(2026, 3, 29, 16, 5, 9, tzinfo=UTC)  # 00:05:09 on the 30th in Beijing
    written = write_value(locale, instant, "datetime")  # type: ignore[arg-type]
    assert written == {"zh": "2026年3月30日 00:05:09", "en": "30 Mar 2026 00:05:09"}[locale]


def test_a_value_that_cannot_be_written_by_its_kind_is_shown_as_it_is() -> None:
    from api.i18n.messages import write_value

    naive = datetime(2026, 3, 30, 8, 0)  # noqa: DTZ001 - the point
    assert write_value("zh", naive, "datetime") == "2026-03-30 08:00:00"
    assert write_value("zh", 1.5, "yuan") == "1.5"
    assert write_value("zh", "2026-13-01", "date") == "2026-13-01"
    assert write_value("en", None, "status") == "—"


def test_a_set_of_mixed_values_is_written_in_a_stable_order() -> None:
    assert problem_text("en", "wrong_state", {"status": "x", "expected": {2, "a", 1}})[1] == (
        "The case is x; this step needs it to be 1, 2, a."
    )
