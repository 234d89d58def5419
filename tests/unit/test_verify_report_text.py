"""The verify report as text: the funding table's columns stay apart at any size."""

from __future__ import annotations

from datetime import date

from infra.audit.report import _yuan, render_report
from infra.audit.verify import VerifyReport
from projections.summary import FundingTotal, StatusCount, Summary


def _funding(county: str, year: int, approved: int, paid: int) -> FundingTotal:
    return FundingTotal(
        city_code=county[:4] + "00", county_code=county, year=year, entitled_fen=approved,
        approved_fen=approved, paid_fen=paid, remaining_fen=approved - paid,
    )


def test_yuan_is_exact_in_integers() -> None:
    assert _yuan(0) == "0.00"
    assert _yuan(5) == "0.05"
    assert _yuan(123_456_789) == "1,234,567.89"
    assert _yuan(-1_050) == "-10.50"
    # Beyond what a float holds exactly (2**53 fen): every digit is kept.
    assert _yuan(2**53 + 1) == "90,071,992,547,409.93"


def test_funding_columns_never_touch_when_totals_reach_billions() -> None:
    funding = (
        _funding("350213", 2027, 184_500_000_00, 184_500_000_00),
        _funding("350213", 2028, 4_808_100_000_00, 4_808_100_000_00),
    )
    report = VerifyReport(
        ok=True, complete=True,
        summary=Summary(
            on=date(2026, 11, 23),
            clusters=(StatusCount(status="certified", city_code="350200",
                                  county_code="350213", year=2025, clusters=2),),
            funding=funding,
        ),
    )
    text = render_report(report, "export.ndjson")
    lines = text.splitlines()
    total = next(line for line in lines if line.strip().startswith("total ") and "," in line)
    approved, paid = total.split()[1:]
    assert approved == paid == "4,992,600,000.00"
    # Every figure's column is right-aligned to the header's, with space between columns.
    header = next(line for line in lines if "approved" in line)
    for line in (header, *(x for x in lines if x.strip().startswith("350200"))):
        assert line.rstrip().endswith(("paid", ".00"))
        assert len(line) == len(header)
    assert "  " in total.split("4,992,600,000.00")[1]
