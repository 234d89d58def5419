"""The benchmark's rounds, per-round ratios and verdicts (bench/rounds.py): pure arithmetic."""

from __future__ import annotations

import pytest

from bench.rounds import (
    Target,
    describe,
    interleave,
    judge,
    meets,
    ratios,
    spread,
    summarise,
)

AT_LEAST_HALF = Target(measure="ratio", op=">=", limit=0.5, text="≥ 0.5× ceiling")
AT_MOST_TWICE = Target(measure="inverse_ratio", op="<=", limit=2.0, text="≤ 2× the JSON list")
P99_50 = Target(measure="p99_ms", op="<=", limit=50.0, text="p99 ≤ 50 ms")


# ---- interleaving ----------------------------------------------------------------------------


def test_rounds_interleave_every_measurement_before_the_next_round() -> None:
    assert interleave(["health", "commands", "list"], 3) == [
        (1, "health"), (1, "commands"), (1, "list"),
        (2, "health"), (2, "commands"), (2, "list"),
        (3, "health"), (3, "commands"), (3, "list"),
    ]


def test_one_round_is_the_measurements_once_and_none_is_refused() -> None:
    assert interleave(["a", "b"], 1) == [(1, "a"), (1, "b")]
    with pytest.raises(ValueError, match="at least one round"):
        interleave(["a"], 0)


# ---- median and spread -----------------------------------------------------------------------


def test_spread_is_the_median_and_the_lowest_and_highest_round() -> None:
    s = spread([900.0, 700.0, 1000.0])
    assert (s.median, s.low, s.high) == (900.0, 700.0, 1000.0)


def test_spread_of_two_rounds_takes_the_mean_of_the_middle_pair() -> None:
    assert spread([1.0, 2.0]).median == 1.5


def test_spread_of_no_rounds_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        spread([])


# ---- ratios in the same round ----------------------------------------------------------------


def test_ratios_pair_each_round_with_the_ceiling_of_the_same_round() -> None:
    # Round 2 was slow for both; against round 2's own ceiling it is no worse than the others.
    assert ratios([600.0, 300.0, 630.0], [1000.0, 500.0, 1050.0]) == pytest.approx(
        [0.6, 0.6, 0.6])


def test_ratios_refuse_rounds_that_do_not_line_up_or_an_empty_ceiling() -> None:
    with pytest.raises(ValueError, match="3 rounds of the figure against 2"):
        ratios([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="zero or less"):
        ratios([1.0], [0.0])


def test_the_median_ratio_is_not_the_ratio_of_the_medians() -> None:
    # Figure and ceiling each have a median of 600 / 1000, but the rounds say 0.6, 0.75, 0.5.
    summary = summarise([600.0, 600.0, 500.0], ceilings=[1000.0, 800.0, 1000.0])
    assert summary.ratios == pytest.approx([0.6, 0.75, 0.5])
    assert summary.ratio is not None
    assert summary.ratio.median == pytest.approx(0.6)
    assert (summary.ratio.low, summary.ratio.high) == pytest.approx((0.5, 0.75))


# ---- verdicts: boundaries on both sides --------------------------------------------------------


def test_the_limit_itself_meets_the_target_on_either_side() -> None:
    assert meets(0.5, ">=", 0.5)
    assert not meets(0.4999, ">=", 0.5)
    assert meets(2.0, "<=", 2.0)
    assert not meets(2.0001, "<=", 2.0)


def test_at_least_every_round_above_is_met_without_straddling() -> None:
    v = judge(AT_LEAST_HALF, [0.5, 0.6, 0.7])
    assert (v.met, v.straddles) == (True, False)
    assert (v.median, v.low, v.high) == (0.6, 0.5, 0.7)


def test_at_least_every_round_below_is_not_met_without_straddling() -> None:
    v = judge(AT_LEAST_HALF, [0.49, 0.3, 0.4])
    assert (v.met, v.straddles) == (False, False)


def test_at_least_straddling_with_the_median_above_is_met_and_straddles() -> None:
    v = judge(AT_LEAST_HALF, [0.45, 0.55, 0.6])
    assert (v.met, v.straddles) == (True, True)


def test_at_least_straddling_with_the_median_below_is_not_met_and_straddles() -> None:
    v = judge(AT_LEAST_HALF, [0.45, 0.48, 0.5])
    assert (v.met, v.straddles) == (False, True)


def test_at_most_every_round_below_is_met_and_one_round_above_straddles() -> None:
    assert (judge(AT_MOST_TWICE, [1.2, 2.0, 1.9]).met,
            judge(AT_MOST_TWICE, [1.2, 2.0, 1.9]).straddles) == (True, False)
    v = judge(AT_MOST_TWICE, [1.2, 1.9, 2.01])
    assert (v.met, v.straddles) == (True, True)
    v = judge(AT_MOST_TWICE, [2.01, 2.5, 1.9])
    assert (v.met, v.straddles) == (False, True)
    v = judge(AT_MOST_TWICE, [2.01, 2.5, 3.0])
    assert (v.met, v.straddles) == (False, False)


def test_nothing_to_judge_is_neither_met_nor_failed() -> None:
    v = judge(AT_LEAST_HALF, [])
    assert (v.met, v.straddles, v.median) == (None, False, None)
    assert "not judged" in describe(v)


# ---- a figure over its rounds ------------------------------------------------------------------


def test_an_inverse_ratio_judges_the_ceiling_over_the_figure() -> None:
    # The board page at 400, 500, 450 req/s against the JSON list at 1000, 900, 1000:
    # the page takes 2.5×, 1.8× and 2.22× the list's time per request.
    summary = summarise([400.0, 500.0, 450.0], ceilings=[1000.0, 900.0, 1000.0],
                        targets=[AT_MOST_TWICE])
    (verdict,) = summary.verdicts
    assert verdict.rounds == pytest.approx([2.5, 1.8, 1000 / 450])
    assert verdict.median == pytest.approx(1000 / 450)
    assert (verdict.met, verdict.straddles) == (False, True)
    assert summary.met is False
    assert summary.straddles is True


def test_a_latency_bound_judges_each_rounds_p99() -> None:
    summary = summarise([700.0, 720.0, 690.0], p50s=[3.0, 2.0, 4.0], p99s=[40.0, 55.0, 45.0],
                        ceilings=[1000.0, 1000.0, 1000.0], targets=[AT_LEAST_HALF, P99_50])
    ratio_verdict, latency = summary.verdicts
    assert (ratio_verdict.met, ratio_verdict.straddles) == (True, False)
    assert latency.rounds == [40.0, 55.0, 45.0]
    assert (latency.met, latency.straddles) == (True, True)
    assert summary.p50_ms == 3.0
    assert summary.p99_ms is not None
    assert summary.p99_ms.median == 45.0
    assert summary.met is True


def test_every_target_must_hold_for_the_figure_to_be_met() -> None:
    summary = summarise([700.0, 720.0, 690.0], p99s=[60.0, 55.0, 70.0],
                        ceilings=[1000.0, 1000.0, 1000.0], targets=[AT_LEAST_HALF, P99_50])
    assert [v.met for v in summary.verdicts] == [True, False]
    assert summary.met is False
    assert summary.straddles is False


def test_without_a_ceiling_a_ratio_target_is_not_judged() -> None:
    summary = summarise([700.0, 720.0, 690.0], targets=[AT_LEAST_HALF])
    assert summary.ratio is None
    assert summary.verdicts[0].met is None
    assert summary.met is None


def test_describe_names_the_median_the_spread_the_rounds_and_a_straddle() -> None:
    text = describe(judge(AT_LEAST_HALF, [0.45, 0.55, 0.6]))
    assert text == ("≥ 0.5× ceiling: 0.55× (0.45–0.60×, rounds 0.45, 0.55, 0.60) → met, "
                    "straddles the target (its rounds fall on both sides)")
    assert describe(judge(P99_50, [40.0, 41.5, 39.0])).endswith("→ met")


# ---- absolute bounds (the project owner's: export and verify ≥ 100,000 events/s) ---------------

AT_LEAST_100K = Target(measure="value", op=">=", limit=100_000, unit="events/s",
                       text="export ≥ 100,000 events/s")


def test_an_absolute_bound_judges_each_rounds_own_value_not_its_ratio() -> None:
    # Against a read+decode ceiling of 90,000 events/s every round's ratio is above 1, yet the
    # bound is on the rate itself: two of three rounds are below 100,000.
    summary = summarise([104_000.0, 95_000.0, 99_000.0], ceilings=[90_000.0] * 3,
                        targets=[AT_LEAST_100K])
    (verdict,) = summary.verdicts
    assert verdict.rounds == [104_000.0, 95_000.0, 99_000.0]
    assert (verdict.met, verdict.straddles) == (False, True)
    assert summary.ratio is not None
    assert summary.ratio.median == pytest.approx(1.1)  # given beside, not judged


def test_an_absolute_bound_is_judged_without_a_ceiling_and_at_its_limit() -> None:
    summary = summarise([100_000.0, 120_000.0, 101_000.0], targets=[AT_LEAST_100K])
    assert summary.ratio is None
    assert (summary.verdicts[0].met, summary.verdicts[0].straddles) == (True, False)


def test_describe_an_absolute_bound_in_its_unit_and_a_single_run_as_one_run() -> None:
    assert describe(judge(AT_LEAST_100K, [95_000.0, 104_000.0, 99_500.0])) == (
        "export ≥ 100,000 events/s: 99,500 events/s (95,000–104,000 events/s, rounds 95,000, "
        "104,000, 99,500) → not met, straddles the target (its rounds fall on both sides)")
    assert describe(judge(AT_LEAST_100K, [106_000.0])) == (
        "export ≥ 100,000 events/s: 106,000 events/s (one run) → met")
