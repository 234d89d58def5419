"""The rulebook: programme versions with effective dates, as data.

Schemas only (msgspec Structs) plus pure look-ups. Reading the files is I/O and lives in
`infra/rules.py`; `parse_rulebook_version` turns bytes into a validated version.

Boundary words follow Chinese legal counting (Civil Code Art. 1259): 以上/以下/不少于/不低于/不超过
include the number ("ge"/"le"); 高于/低于/超过 do not ("gt"/"lt").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

import msgspec

from domain.errors import ConfigError, NotFound


class Programme(StrEnum):
    FJ = "FJ"  # Fujian provincial clusters, 闽工信 2022 measures
    XM = "XM"  # national clusters managed by Xiamen, 厦工信企业〔2024〕188号
    NATIONAL = "NATIONAL"  # MIIT 工信部企业〔2022〕119号 standards (comparison, XM certification)


Comparator = Literal["ge", "gt", "le", "lt", "eq"]


class Threshold(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="threshold"):
    """One quantitative criterion: `figure <comparator> value`.

    With `years` set the indicator is a yearly series and each of the last `years`
    figures must meet the bound (FJ Annex §1: 近三年产值均在30亿元以上).
    """

    id: str  # stable criterion id, e.g. "output_value_each_year"
    article: str  # where it is written, e.g. "FJ Annex §1"
    label: str  # human wording
    indicator: str  # name of the Indicators field it reads
    comparator: Comparator
    value: Decimal
    wording: str  # the source's boundary word, e.g. "以上", "高于"
    unit: str = ""
    years: int | None = None  # series indicator: each of the last `years` figures


class AnyOf(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="any_of"):
    """A criterion met when any of its alternatives is met (FJ Annex §2)."""

    id: str
    article: str
    label: str
    alternatives: tuple[Threshold, ...]


class Qualitative(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="qualitative"):
    """A criterion a reviewer judges; the pre-check reports it as not assessable.

    With `indicator` set, the dossier's yes/no declaration decides it instead.
    """

    id: str
    article: str
    label: str
    indicator: str | None = None  # a yes/no indicator when the dossier declares one


class PeriodRule(msgspec.Struct, frozen=True, kw_only=True):
    """A period counted in working days (工作日) or calendar days."""

    days: int
    working_days: bool = True
    count_trigger_day: bool = False  # MIIT notices count the publication day; appeals do not
    article: str = ""
    note: str = ""


class AnnualDeadline(msgspec.Struct, frozen=True, kw_only=True):
    """A calendar date each year (annual report for the previous year)."""

    month: int
    day: int
    article: str = ""


class ScoreBand(msgspec.Struct, frozen=True, kw_only=True):
    """`min_score` included (含), the next band's minimum excluded; amount in fen."""

    min_score: Decimal
    amount_fen: int


class SubsidyYear(msgspec.Struct, frozen=True, kw_only=True):
    """Funding year n of the three-year city subsidy."""

    funding_year: int
    article: str
    lump_sum_fen: int | None = None  # year 1: paid once certified
    bands: tuple[ScoreBand, ...] = ()  # later years: by the previous assessment's final score
    by_assessment: int | None = None  # which annual assessment's final score decides


class Convention(msgspec.Struct, frozen=True, kw_only=True):
    """A reading chosen where the sources are silent or leave room, written down with the
    article it reads, so that each decision that relies on it can say so."""

    id: str
    aspect: str  # the step it concerns: "subsidy_notice", "funding_years", ...
    article: str
    text: str
    # "certified_before_rules": only for a case certified before this version took effect
    when: str = ""


class RulebookVersion(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # e.g. "FJ-2022"; recorded on every decision that applied a rule
    programme: Programme
    title: str
    source: str  # document and number
    effective_from: date
    term_ends: date | None = None  # the document's own term (FJ Art. 18: two years)
    validity_years: int
    annual_report: AnnualDeadline
    appeal_period: PeriodRule | None = None
    appeal_reply: PeriodRule | None = None
    certification_notice: PeriodRule | None = None
    subsidy_notice: PeriodRule | None = None
    thresholds: tuple[Threshold | AnyOf | Qualitative, ...] = ()
    subsidy: tuple[SubsidyYear, ...] = ()
    score_min: Decimal = Decimal(0)
    score_max: Decimal = Decimal(100)
    fund_use_categories: tuple[str, ...] = ()
    # The first year this version's annual assessment covers; None: it sets no assessment.
    assessment_first_year: int | None = None
    conventions: tuple[Convention, ...] = ()

    def subsidy_year(self, funding_year: int) -> SubsidyYear:
        for year in self.subsidy:
            if year.funding_year == funding_year:
                return year
        raise NotFound(
            "no_subsidy_for_year",
            f"rulebook {self.id} grants no subsidy for funding year {funding_year}",
            funding_year=funding_year,
            rulebook=self.id,
        )


class Rulebook(msgspec.Struct, frozen=True):
    """All versions side by side; pick one by programme and date."""

    versions: tuple[RulebookVersion, ...]

    def get(self, version_id: str) -> RulebookVersion:
        for version in self.versions:
            if version.id == version_id:
                return version
        raise NotFound("unknown_rulebook_version", f"no rulebook version {version_id!r}")

    def in_force(self, programme: Programme, on: date) -> RulebookVersion:
        """The latest version of `programme` whose effective date is on or before `on`.

        A version past its own term (FJ 2022 ended 2024-12-05) still applies until a
        successor is loaded: the seeds contain none, and a silent gap would be worse.
        """
        candidates = [
            v for v in self.versions if v.programme == programme and v.effective_from <= on
        ]
        if not candidates:
            raise NotFound(
                "no_rulebook_in_force",
                f"no {programme} rulebook version is in force on {on.isoformat()}",
                programme=str(programme),
                on=on.isoformat(),
            )
        return max(candidates, key=lambda v: v.effective_from)


def parse_rulebook_version(raw: bytes, *, source_name: str) -> RulebookVersion:
    """Decode and validate one TOML rulebook file; a bad file names itself and the field."""
    try:
        version = msgspec.toml.decode(raw, type=RulebookVersion)
    except msgspec.ValidationError as exc:
        raise ConfigError("invalid_rulebook", f"{source_name}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ConfigError("invalid_rulebook", f"{source_name}: not valid TOML: {exc}") from exc
    _check_consistency(version, source_name)
    return version


def _check_consistency(version: RulebookVersion, source_name: str) -> None:
    for year in version.subsidy:
        amounts = [band.min_score for band in year.bands]
        if amounts != sorted(amounts, reverse=True):
            raise ConfigError(
                "invalid_rulebook",
                f"{source_name}: subsidy year {year.funding_year} bands must be listed "
                "from the highest minimum score down",
            )
        if (year.lump_sum_fen is not None) == bool(year.bands):
            raise ConfigError(
                "invalid_rulebook",
                f"{source_name}: subsidy year {year.funding_year} needs a lump sum or bands, "
                "not both",
            )
        if year.bands and year.by_assessment is None:
            raise ConfigError(
                "invalid_rulebook",
                f"{source_name}: subsidy year {year.funding_year} has bands but no by_assessment",
            )
    ids = [criterion.id for criterion in version.thresholds]
    if len(ids) != len(set(ids)):
        raise ConfigError("invalid_rulebook", f"{source_name}: criterion ids must be unique")
    if version.term_ends is not None and version.term_ends < version.effective_from:
        raise ConfigError("invalid_rulebook", f"{source_name}: term_ends before effective_from")
