"""The verification report as text for a terminal (`cluster-ledger verify`)."""

from __future__ import annotations

from infra.audit.verify import VerifyReport


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
    if report.ok:
        add("RESULT: OK")
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
