"""The benchmark report's verdict list (bench/report.py): every target, rounds or one run."""

from __future__ import annotations

from bench.report import Machine, new_report, verdict_lines
from bench.rounds import Target, judge
from bench.stats import Figure

EXPORT = Target(measure="value", op=">=", limit=100_000, unit="events/s",
                text="export ≥ 100,000 events/s")


def _report(figures: list[Figure]) -> list[str]:
    machine = Machine(cores=2, cpu="x", memory_gib=1.0, os="Linux", python="CPython 3.11",
                      postgres="PostgreSQL 15", database="test", packages={})
    return verdict_lines(new_report(quick=True, scale={}, machine=machine, seconds=1.0,
                                    figures=figures, failures=[], decisions=[], notes=[]))


def test_verdicts_list_round_targets_and_one_run_targets_but_not_information() -> None:
    lines = _report([
        Figure(key="export", section="4. Export + offline verify of the full log",
               label="export", value=99_000.0, unit="events/s", targets=[EXPORT],
               verdicts=[judge(EXPORT, [99_000.0, 101_000.0, 98_000.0])], met=False,
               straddles=True),
        Figure(key="export_memory", section="4. Export + offline verify of the full log",
               label="export peak RSS, full log vs its first 10%", value=106.0, unit="MB",
               ratio=1.31, target="flat in the log's length", met=True),
        Figure(key="export_verify", section="4. Export + offline verify of the full log",
               label="export + verify, end to end (information)", value=40_000.0,
               unit="events/s", ceiling="scan_msgspec", ratio=0.44),
        Figure(key="rebuild_bitemporal", section="3. Projection rebuild from the full log",
               label="rebuild the bitemporal view", available=False, note="not available: x",
               met=False),
    ])
    assert lines == [
        "- export ≥ 100,000 events/s: 99,000 events/s (98,000–101,000 events/s, rounds 99,000, "
        "101,000, 98,000) → not met, straddles the target (its rounds fall on both sides)",
        "- export peak RSS, full log vs its first 10%: 106 MB (1.31×); target flat in the log's "
        "length (one run) → met",
    ]
