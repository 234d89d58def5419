"""The verify report as text: the funding table's columns stay apart at any size, and the
RESULT line names what was not checked."""

from __future__ import annotations

from datetime import date

import msgspec

from api.cli.verify_report import _yuan, render_report
from infra.audit.verify import KEY_EMBEDDED, KEY_EMBEDDED_TRUSTED, KEY_GIVEN
from projections.audit_replay import VerifyReport
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
        ok=True, result="ok", complete=True,
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


def _result_line(**fields: object) -> str:
    """The RESULT line of a report of 12 events at positions 1..12, all signed with a key
    given, but for `fields`."""
    signed: dict[str, object] = {
        "events": 12, "first_position": 1, "last_position": 12, "checkpoints": 2,
        "checkpoints_verified": 2, "signed_through": 12, "key_fingerprint": "sha256:ab",
        "key_source": KEY_GIVEN,
    }
    report = msgspec.convert(signed | fields, VerifyReport)
    lines = render_report(report, "export.ndjson").splitlines()
    return next(line for line in lines if line.startswith("RESULT:"))


def test_result_is_a_plain_ok_when_everything_is_signed_with_a_key_given() -> None:
    assert _result_line(ok=True, result="ok") == "RESULT: OK"


def test_result_names_the_embedded_key_when_it_was_trusted() -> None:
    line = _result_line(ok=True, result="ok", key_source=KEY_EMBEDDED_TRUSTED)
    assert line == (
        "RESULT: OK (signatures checked against the key embedded in the file, "
        "--trust-embedded-key; not pinned)"
    )


def test_result_names_the_positions_after_the_last_signed_checkpoint() -> None:
    line = _result_line(
        ok=True, result="ok", signed_through=10, chain_only_from=11, chain_only_events=2
    )
    assert line == (
        "RESULT: OK — positions 11..12 (2 events) after the last signed checkpoint "
        "(position 10) are covered by the chain only"
    )


def test_result_is_unpinned_when_only_the_file_names_the_key() -> None:
    line = _result_line(ok=False, result="unpinned", key_source=KEY_EMBEDDED)
    assert line.startswith("RESULT: UNPINNED — no problem found, but the signatures were not "
                           "checked against a pinned key")
    assert "--public-key" in line


def test_result_is_unsigned_when_no_checkpoint_was_signed() -> None:
    line = _result_line(
        ok=False, result="unsigned", checkpoints=0, checkpoints_verified=0, signed_through=None,
        chain_only_from=1, chain_only_events=12,
    )
    assert line == (
        "RESULT: UNSIGNED — no signed checkpoint covers positions 1..12 (12 events): they are "
        "covered by the chain only"
    )


def test_result_is_unsigned_for_a_file_without_events() -> None:
    line = _result_line(
        ok=False, result="unsigned", events=0, first_position=None, last_position=None,
        checkpoints=0, checkpoints_verified=0, signed_through=None,
    )
    assert line == "RESULT: UNSIGNED — the file holds no event and no signed checkpoint"
