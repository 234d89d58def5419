"""Rounds, ratios and verdicts: the arithmetic behind every HTTP figure of `make bench`.

Each HTTP measurement (and each ceiling it is compared with) runs in `ROUNDS` interleaved rounds:
round 1 of every measurement, then round 2 of every one, and so on (`interleave`), so that a
machine that slows down for a minute slows every measurement of a round, not one of them. A
figure is reported as the median of its rounds with the spread (lowest–highest).

A target is judged on a ratio to a ceiling measured in the same round (`ratios`: round 1 against
round 1, ...), never on an absolute rate, then on the median of those ratios (`judge`). A target
whose rounds fall on both sides of its limit "straddles" it: the verdict is the median's, and
the report says it straddles. Latency bounds (p99 ≤ N ms) are judged the same way on each
round's p99. A few targets are absolute bounds that the project owner set on a figure's own value
(export and verify ≥ 100,000 events/s each): they are judged the same way on each round's value.

Pure: no I/O, no clock; `tests/unit/test_bench_rounds.py` pins it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal

import msgspec

ROUNDS = 3

Op = Literal[">=", "<="]
# What a target judges, per round:
# - "ratio": the figure's value / its ceiling's value (e.g. commands/s over raw eventsourcing);
# - "inverse_ratio": the ceiling's value / the figure's value, i.e. how many times the time per
#   request of the ceiling the figure takes (e.g. the board page against the JSON list: ≤ 2);
# - "p99_ms": the round's p99 latency in ms (a latency bound, not a rate);
# - "value": the round's value itself, an absolute bound the project owner set (export and
#   verify ≥ 100,000 events/s each); its ceiling, if any, is given beside it, not judged.
Measure = Literal["ratio", "inverse_ratio", "p99_ms", "value"]


class Spread(msgspec.Struct, frozen=True, kw_only=True):
    median: float
    low: float
    high: float


class Target(msgspec.Struct, frozen=True, kw_only=True):
    measure: Measure
    op: Op
    limit: float
    text: str  # what the report prints, e.g. "≥ 0.51× raw eventsourcing (4 threads)"
    unit: str = ""  # of an absolute bound ("value"), e.g. "events/s"


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    target: Target
    rounds: list[float]  # the judged quantity, one per round (empty: nothing to judge)
    median: float | None
    low: float | None
    high: float | None
    met: bool | None  # the median's side of the limit; None when there was nothing to judge
    straddles: bool  # some rounds meet the limit and some do not


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """One figure over its rounds."""

    value: Spread
    p50_ms: float | None
    p99_ms: Spread | None
    ratios: list[float]  # value / ceiling, round by round (empty without a ceiling)
    ratio: Spread | None
    verdicts: list[Verdict]

    @property
    def met(self) -> bool | None:
        """Every target met (on its median); None when no target could be judged."""
        judged = [v.met for v in self.verdicts if v.met is not None]
        if not judged:
            return None
        return all(judged)

    @property
    def straddles(self) -> bool:
        return any(v.straddles for v in self.verdicts)


def interleave(names: Sequence[str], rounds: int = ROUNDS) -> list[tuple[int, str]]:
    """The order of the runs: (round, name) for round 1 of every name, then round 2, ..."""
    if rounds < 1:
        msg = f"at least one round is needed, not {rounds}"
        raise ValueError(msg)
    return [(r, name) for r in range(1, rounds + 1) for name in names]


def spread(values: Sequence[float]) -> Spread:
    """Median and lowest–highest of the rounds' values."""
    if not values:
        msg = "no values to summarise"
        raise ValueError(msg)
    return Spread(median=float(statistics.median(values)), low=float(min(values)),
                  high=float(max(values)))


def ratios(values: Sequence[float], ceilings: Sequence[float]) -> list[float]:
    """value / ceiling round by round: each round's figure against the ceiling measured in the
    same round. A ceiling measured once (outside the rounds) is passed repeated."""
    if len(values) != len(ceilings):
        msg = f"{len(values)} rounds of the figure against {len(ceilings)} of its ceiling"
        raise ValueError(msg)
    if any(c <= 0 for c in ceilings):
        msg = "a ceiling of zero or less cannot be compared with"
        raise ValueError(msg)
    return [v / c for v, c in zip(values, ceilings, strict=True)]


def meets(value: float, op: Op, limit: float) -> bool:
    """The limit itself meets the target on either side (≥ 0.5 holds at 0.5; ≤ 2 at 2)."""
    return value >= limit if op == ">=" else value <= limit


def judge(target: Target, rounds: Sequence[float]) -> Verdict:
    """The target on the median of the rounds' values; `straddles` when the rounds fall on
    both sides of the limit."""
    if not rounds:
        return Verdict(target=target, rounds=[], median=None, low=None, high=None, met=None,
                       straddles=False)
    s = spread(rounds)
    each = [meets(v, target.op, target.limit) for v in rounds]
    return Verdict(target=target, rounds=list(rounds), median=s.median, low=s.low, high=s.high,
                   met=meets(s.median, target.op, target.limit),
                   straddles=any(each) and not all(each))


def judged(target: Target, values: Sequence[float], p99s: Sequence[float | None],
           ceilings: Sequence[float] | None) -> list[float]:
    """The quantity a target judges, per round."""
    if target.measure == "p99_ms":
        return [p for p in p99s if p is not None] if all(p is not None for p in p99s) else []
    if target.measure == "value":
        return list(values)
    if ceilings is None:
        return []
    per_round = ratios(values, ceilings)
    if target.measure == "ratio":
        return per_round
    return [1 / r if r > 0 else float("inf") for r in per_round]


def summarise(values: Sequence[float], *, p50s: Sequence[float | None] = (),
              p99s: Sequence[float | None] = (), ceilings: Sequence[float] | None = None,
              targets: Sequence[Target] = ()) -> Summary:
    """A figure over its rounds: median and spread of its value and p99, its per-round ratios to
    the ceiling measured in the same rounds (`ceilings`, aligned with `values`; None when the
    ceiling was not measured), and a verdict per target."""
    p50 = [p for p in p50s if p is not None]
    p99 = [p for p in p99s if p is not None]
    per_round = ratios(values, ceilings) if ceilings is not None else []
    return Summary(
        value=spread(values),
        p50_ms=float(statistics.median(p50)) if p50 else None,
        p99_ms=spread(p99) if p99 else None,
        ratios=per_round,
        ratio=spread(per_round) if per_round else None,
        verdicts=[judge(t, judged(t, values, list(p99s) or [None] * len(values), ceilings))
                  for t in targets],
    )


def describe(verdict: Verdict) -> str:
    """"0.62× (0.55–0.70) ≥ 0.51: met" / "... not met, straddles" / "not judged"."""
    t = verdict.target
    if verdict.met is None or verdict.median is None:
        return f"{t.text}: not judged (nothing measured to judge it on)"
    unit = {"p99_ms": " ms", "value": f" {t.unit}".rstrip()}.get(t.measure, "×")
    fmt = {"p99_ms": _ms, "value": _count}.get(t.measure, _times)
    state = "met" if verdict.met else "not met"
    if verdict.straddles:
        state += ", straddles the target (its rounds fall on both sides)"
    if len(verdict.rounds) == 1:
        return f"{t.text}: {fmt(verdict.median)}{unit} (one run) → {state}"
    return (f"{t.text}: {fmt(verdict.median)}{unit} ({fmt(verdict.low)}–{fmt(verdict.high)}"
            f"{unit}, rounds {', '.join(fmt(v) for v in verdict.rounds)}) → {state}")


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
