"""Statistics for reporting screens, as a pure function of status and funding rows.

`summarise` is what an offline verifier computes from rows it folded itself; the read API
computes the same `Summary` with SQL over the view tables (`projections.queries.fetch_summary`).
Both must agree to the fen.

- Clusters are counted by status (as read on `on` by `domain.status.status_on`: a lapsed
  certification is "expired"), county, city and the year the case was applied for.
- Funding is totalled by county, city and budget year (the year of the approval, or of the
  plan while it is unapproved; see `FundingRow.budget_year`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date

import msgspec

from domain.status import status_on
from projections.folds import FundingRow, StatusRow


class StatusCount(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    city_code: str
    county_code: str
    year: int  # year of application
    clusters: int


class FundingTotal(msgspec.Struct, frozen=True, kw_only=True):
    city_code: str
    county_code: str
    year: int  # budget year
    entitled_fen: int  # where the rulebook can say (see FundingRow.entitled_fen)
    approved_fen: int
    paid_fen: int
    remaining_fen: int


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    on: date
    clusters: tuple[StatusCount, ...]  # ordered by status, county, year
    funding: tuple[FundingTotal, ...]  # ordered by county, year


def summarise(
    status_rows: Iterable[StatusRow], funding_rows: Iterable[FundingRow], *, on: date
) -> Summary:
    counts: Counter[tuple[str, str, str, int]] = Counter(
        (
            status_on(r.status, r.lapses_on, on),
            r.city_code,
            r.county_code,
            r.applied_on.year,
        )
        for r in status_rows
    )
    sums: defaultdict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in funding_rows:
        total = sums[(row.city_code, row.county_code, row.budget_year)]
        total[0] += row.entitled_fen or 0
        total[1] += row.approved_fen
        total[2] += row.paid_fen
        total[3] += row.remaining_fen
    return _summary(counts, sums, on)


def _summary(
    counts: Counter[tuple[str, str, str, int]],
    sums: defaultdict[tuple[str, str, int], list[int]],
    on: date,
) -> Summary:
    clusters = tuple(
        StatusCount(status=s, city_code=city, county_code=county, year=year, clusters=n)
        for (s, city, county, year), n in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][2], item[0][3])
        )
    )
    funding = tuple(
        FundingTotal(
            city_code=city, county_code=county, year=year, entitled_fen=v[0],
            approved_fen=v[1], paid_fen=v[2], remaining_fen=v[3],
        )
        for (city, county, year), v in sorted(sums.items(), key=lambda i: (i[0][1], i[0][2]))
    )
    return Summary(on=on, clusters=clusters, funding=funding)


def merge_summaries(parts: Iterable[Summary], *, on: date) -> Summary:
    """The summary of the union of disjoint sets of clusters, from the summary of each set
    (all read on `on`): what `summarise` gives over all their rows at once."""
    counts: Counter[tuple[str, str, str, int]] = Counter()
    sums: defaultdict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for part in parts:
        if part.on != on:
            raise ValueError(f"a summary read on {part.on} cannot merge into one on {on}")
        for c in part.clusters:
            counts[(c.status, c.city_code, c.county_code, c.year)] += c.clusters
        for f in part.funding:
            total = sums[(f.city_code, f.county_code, f.year)]
            total[0] += f.entitled_fen
            total[1] += f.approved_fen
            total[2] += f.paid_fen
            total[3] += f.remaining_fen
    return _summary(counts, sums, on)
