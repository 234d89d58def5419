"""The verification report as text for a terminal (`cluster-ledger verify`)."""

from __future__ import annotations

from infra.audit.verify import KEY_EMBEDDED_TRUSTED
from projections.audit_replay import VerifyReport


def _yuan(fen: int) -> str:
    """Fen as yuan with thousands separators, in integers: exact at any size."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def render_report(report: VerifyReport, source: str) -> str:
    out: list[str] = []
    add = out.append
    add(f"cluster-ledger verify {source}")
    add(f"  format      {report.format}   exported {report.exported_at}")
    scope = "the whole log" if report.complete else f"positions after {report.after}"
    add(
        f"  range       {scope}, up to {report.to}: {report.events} events, "
        f"positions {report.first_position}..{report.last_position}"
    )
    add(f"  chain head  {report.last_hash}")
    key = f"{report.key_fingerprint} ({report.key_source})" if report.key_fingerprint else "none"
    add(
        f"  checkpoints {report.checkpoints_verified} of {report.checkpoints} verified; key {key}"
    )
    if report.key_source and report.key_source != "argument":
        add(
            "  WARNING     signatures were checked against the key named in the file itself; "
            "pass --public-key with the publisher's key to pin it"
        )
    if report.checkpoints == 0:
        add("  WARNING     no signed checkpoint in range: only the chain's consistency is shown")
    add(
        f"  replay      {report.events_replayed} events replayed into {report.clusters} cases"
        + (
            f"; {report.events_not_replayed} not replayed"
            if report.events_not_replayed else ""
        )
    )
    summary = report.summary
    if summary is not None:
        add("")
        add(f"Summary (statuses read on {summary.on.isoformat()}; compare GET /api/stats?on=...)")
        add("  Clusters by status")
        add(f"    {'status':<16}{'city':<8}{'county':<8}{'applied':<9}{'clusters':>8}")
        totals: dict[str, int] = {}
        for row in summary.clusters:
            totals[row.status] = totals.get(row.status, 0) + row.clusters
            add(
                f"    {row.status:<16}{row.city_code:<8}{row.county_code:<8}{row.year:<9}"
                f"{row.clusters:>8}"
            )
        add("    total: " + ", ".join(f"{s} {n}" for s, n in sorted(totals.items())))
        add("  Funding (yuan)")
        approved = sum(f.approved_fen for f in summary.funding)
        paid = sum(f.paid_fen for f in summary.funding)
        # Wide enough for the largest figure (the totals) and two spaces: columns never touch.
        width = max(len(_yuan(approved)), len(_yuan(paid)), len("approved")) + 2
        add(f"    {'city':<8}{'county':<8}{'year':<6}{'approved':>{width}}{'paid':>{width}}")
        for funding in summary.funding:
            add(
                f"    {funding.city_code:<8}{funding.county_code:<8}{funding.year:<6}"
                f"{_yuan(funding.approved_fen):>{width}}{_yuan(funding.paid_fen):>{width}}"
            )
        add(f"    {'total':<22}{_yuan(approved):>{width}}{_yuan(paid):>{width}}")
    elif not report.complete:
        add("  (no summary: a partial export lacks the cases' beginnings)")
    add("")
    if report.result != "failed":
        add(_result_line(report))
    else:
        add(
            f"RESULT: FAILED — {report.problem_count} problem(s); first bad position: "
            f"{report.first_bad_position}"
        )
        for problem in report.problems:
            where = f"position {problem.position}" if problem.position is not None else "file"
            add(f"  [{problem.code}] {where} (line {problem.line}): {problem.message}")
        if report.problem_count > len(report.problems):
            add(f"  ... and {report.problem_count - len(report.problems)} more")
    return "\n".join(out) + "\n"


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _result_line(report: VerifyReport) -> str:
    """The RESULT line of a report without problems: it names what was not checked."""
    if report.result == "unsigned":
        if not report.chain_only_events:
            return "RESULT: UNSIGNED — the file holds no event and no signed checkpoint"
        return (
            f"RESULT: UNSIGNED — no signed checkpoint covers positions {report.chain_only_from}"
            f"..{report.last_position} ({_events(report.chain_only_events)}): they are covered "
            "by the chain only"
        )
    if report.result == "unpinned":
        return (
            "RESULT: UNPINNED — no problem found, but the signatures were not checked against "
            "a pinned key, only against the one the file itself names; pass --public-key with "
            "the publisher's key (or --trust-embedded-key to accept the file's)"
        )
    line = "RESULT: OK"
    if report.key_source == KEY_EMBEDDED_TRUSTED:
        line += (
            " (signatures checked against the key embedded in the file, --trust-embedded-key; "
            "not pinned)"
        )
    if report.chain_only_events:
        line += (
            f" — positions {report.chain_only_from}..{report.last_position} "
            f"({_events(report.chain_only_events)}) after the last signed checkpoint (position "
            f"{report.signed_through}) are covered by the chain only"
        )
    return line
