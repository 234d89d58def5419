"""The city subsidy a cluster's operating unit is entitled to, per funding year (XM Art. 13).

Year 1 is a lump sum once certified; years 2 and 3 follow the final score of the previous
year's annual assessment (Art. 13: 第二年根据第一年绩效考核结果 ...). The amounts and the bands
are rulebook data; this module only picks the band. A band's minimum is included (80（含）分以上).
"""

from __future__ import annotations

from decimal import Decimal

from domain.errors import InvalidInput, RuleViolation
from domain.money import Fen
from domain.rulebook import RulebookVersion


def entitlement(
    version: RulebookVersion, funding_year: int, previous_final_score: Decimal | None
) -> Fen:
    """Amount in fen for `funding_year` under `version`.

    Raises NotFound("no_subsidy_for_year") when the version grants nothing for that year
    (FJ grants no subsidy at all), RuleViolation("score_required") when a banded year has no
    final score of the assessment it depends on, InvalidInput("score_out_of_range") for a
    score outside the version's scale (XM Art. 13: 满分100分).
    """
    year = version.subsidy_year(funding_year)
    if year.lump_sum_fen is not None:
        return year.lump_sum_fen
    if previous_final_score is None:
        raise RuleViolation(
            "score_required",
            f"funding year {funding_year} depends on the final score of annual assessment "
            f"{year.by_assessment} ({year.article})",
            funding_year=funding_year,
            by_assessment=year.by_assessment,
        )
    score = previous_final_score
    if not score.is_finite() or not version.score_min <= score <= version.score_max:
        raise InvalidInput(
            "score_out_of_range",
            f"score {score} is outside {version.score_min}..{version.score_max}",
            score=str(score),
        )
    for band in year.bands:  # listed from the highest minimum down (checked when parsed)
        if score >= band.min_score:
            return band.amount_fen
    return 0
