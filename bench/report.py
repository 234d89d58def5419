"""The machine the figures come from, and the report: JSON for tools, markdown for people."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from bench.rounds import describe
from bench.stats import Figure


class Machine(msgspec.Struct, kw_only=True):
    cores: int
    cpu: str
    memory_gib: float
    os: str
    python: str
    postgres: str
    database: str
    packages: dict[str, str]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine(postgres: str, database: str) -> Machine:
    packages = {}
    for name in ("eventsourcing", "psycopg", "asyncpg", "msgspec", "litestar", "uvicorn",
                 "uvloop", "httptools", "httpx"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return Machine(
        cores=os.cpu_count() or 0, cpu=_cpu_model(), memory_gib=round(_memory_gib(), 1),
        os=f"{platform.system()} {platform.release()}",
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        postgres=postgres, database=database, packages=packages,
    )


class Report(msgspec.Struct, kw_only=True):
    created_at: str
    quick: bool
    scale: dict[str, Any]
    machine: Machine
    seconds: float
    figures: list[Figure]
    failures: list[str]
    decisions: list[str]
    notes: list[str]


def new_report(*, quick: bool, scale: dict[str, Any], machine: Machine, seconds: float,
               figures: list[Figure], failures: list[str], decisions: list[str],
               notes: list[str]) -> Report:
    return Report(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), quick=quick, scale=scale,
        machine=machine, seconds=round(seconds, 1), figures=figures, failures=failures,
        decisions=decisions, notes=notes,
    )


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


SECTION_ORDER = (
    "Data at scale", "1. Commands over HTTP", "2. Reads over HTTP (16 clients)",
    "3. Projection rebuild from the full log", "4. Export + offline verify of the full log",
    "5. State at a date / replay (1,000-event case)", "Production mode: python -O",
    "Ceilings: database",
    "Ceilings: eventsourcing", "Ceilings: notification log", "Ceilings: HTTP stack",
    "Codec (one Applied event, in memory)", "Not available yet",
)


def ordered(figures: list[Figure]) -> list[Figure]:
    """Figures grouped by section in report order (unknown sections last), stable within one."""
    def rank(f: Figure) -> int:
        return SECTION_ORDER.index(f.section) if f.section in SECTION_ORDER else len(SECTION_ORDER)

    return sorted(figures, key=rank)


def _with_spread(value: float | None, low: float | None, high: float | None, unit: str = "",
                 *, times: bool = False) -> str:
    text = (f"{value:.2f}×" if times else _num(value, unit)) if value is not None else "—"
    if low is None or high is None:
        return text
    if times:
        return f"{text} ({low:.2f}–{high:.2f})"
    return f"{text} ({_num(low)}–{_num(high)})"


def _met(f: Figure) -> str:
    if f.met is None:
        return ""
    text = "yes" if f.met else "**no**"
    return text + (" (straddles)" if f.straddles else "")


def verdict_lines(report: Report) -> list[str]:
    """Every target, one line each: those judged on rounds with their median, spread, rounds,
    met and straddles; those of one run (rebuild, memory, downloads) with their value."""
    lines = []
    for f in ordered(report.figures):
        if f.verdicts:
            lines += [f"- {describe(v)}" for v in f.verdicts]
        elif f.met is not None and f.available:
            ratio = f" ({f.ratio:.2f}× {f.ceiling or ''})".replace(" )", ")") \
                if f.ratio is not None else ""
            lines.append(f"- {f.label}: {_num(f.value, f.unit)}{ratio}; target {f.target or '?'} "
                         f"(one run) → {'met' if f.met else 'not met'}")
    return lines


def markdown(report: Report) -> str:
    m, s = report.machine, report.scale
    lines = [
        f"# Benchmarks — {'quick smoke run' if report.quick else 'full run'}, {report.created_at}",
        "",
        f"Machine: {m.cores} cores ({m.cpu}), {m.memory_gib} GiB RAM, {m.os}, {m.python}; "
        f"{m.postgres}; database: {m.database}.",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m.packages.items()) + ".",
        "",
        f"Data set: {s.get('clusters', 0):,} clusters, {s.get('events', 0):,} events "
        f"({s.get('events_per_cluster', 0):.0f} per cluster on average; synthetic history up "
        f"to {s.get('horizon_year')}), plus one long case of {s.get('long_case_events', 0):,} "
        f"events. Built in {s.get('seconds', 0):,.0f} s. Whole run: {report.seconds:,.0f} s.",
        "",
    ]
    if s.get("note"):
        lines += [str(s["note"]), ""]
    lines += [f"- {n}" for n in report.notes]
    verdicts = verdict_lines(report)
    if verdicts:
        lines += ["", "## Verdicts (median of the rounds, lowest–highest, each round; or one run)",
                  "",
                  *verdicts]
    section = None
    for f in ordered(report.figures):
        if f.section != section:
            section = f.section
            lines += ["", f"## {section}", "",
                      "| measurement | value | p50 | p99 | vs ceiling | target | met |",
                      "|---|---:|---:|---:|---|---|---|"]
        if not f.available:
            lines.append(f"| {f.label} | {f.note} | | | | {f.target or ''} | |")
            continue
        ratio = ""
        if f.ratio is not None:
            ratio = (_with_spread(f.ratio, f.ratio_low, f.ratio_high, times=True)
                     + f" {f.ceiling or ''}").strip()
        label = f.label + (f" — {f.note}" if f.note else "")
        lines.append(
            f"| {label} | {_with_spread(f.value, f.low, f.high, f.unit)} | "
            f"{_num(f.p50_ms, 'ms')} | {_with_spread(f.p99_ms, f.p99_low, f.p99_high, 'ms')} | "
            f"{ratio} | {f.target or ''} | {_met(f)} |"
        )
    if report.decisions:
        lines += ["", "## Decisions", ""] + [f"- {d}" for d in report.decisions]
    if report.failures:
        lines += ["", "## Failures", ""] + [f"- {x}" for x in report.failures]
    return "\n".join(lines) + "\n"


def write(report: Report, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
