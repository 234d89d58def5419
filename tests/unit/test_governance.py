"""Which rulebook layers govern a case on a date, and which conventions a decision relies on
(`domain.governance`), on the shipped rulebook and programme profiles."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest

from domain.errors import NotFound
from domain.governance import governing_version, stamp, versions_in_force
from domain.programmes import ProgrammeProfile, Programmes
from domain.rulebook import Programme, Rulebook
from infra.rules import load_programmes, load_rulebook


@cache
def rulebook() -> Rulebook:
    return load_rulebook()


@cache
def programmes() -> Programmes:
    return load_programmes()


def profile(programme: Programme) -> ProgrammeProfile:
    return programmes().get(programme)


XM, FJ = Programme.XM, Programme.FJ


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2022, 9, 12), None),  # before MIIT's measures: nothing governs
        (date(2022, 9, 13), "NATIONAL-2022"),
        (date(2023, 12, 31), "NATIONAL-2022"),
        (date(2024, 1, 1), "NATIONAL-2024"),
        (date(2024, 11, 24), "NATIONAL-2024"),  # the day before Xiamen's rules
        (date(2024, 11, 25), "XM-2024"),  # XM Art. 19: from the day of publication
    ],
)
def test_a_xiamen_case_is_governed_by_miits_measures_until_xiamens_layer(
    on: date, expected: str | None
) -> None:
    if expected is None:
        with pytest.raises(NotFound):
            governing_version(rulebook(), profile(XM), on)
    else:
        assert governing_version(rulebook(), profile(XM), on).id == expected


def test_the_layers_in_force_are_recorded_scheme_first() -> None:
    assert versions_in_force(rulebook(), profile(XM), date(2024, 11, 24)) == ("NATIONAL-2024",)
    assert versions_in_force(rulebook(), profile(XM), date(2024, 11, 25)) == (
        "NATIONAL-2024", "XM-2024",
    )
    assert versions_in_force(rulebook(), profile(FJ), date(2023, 5, 4)) == ("FJ-2022",)


def test_a_decision_relies_on_the_conventions_of_the_aspects_it_uses() -> None:
    found = stamp(rulebook(), profile(FJ), date(2023, 5, 4), ("certification_notice",), None)
    assert [c.id for c in found.conventions] == ["certification_notice_length"]
    assert stamp(rulebook(), profile(FJ), date(2023, 5, 4), (), None).conventions == ()


def test_the_funding_year_convention_holds_only_for_a_case_certified_before_the_rules() -> None:
    aspects = ("funding_years",)
    on = date(2025, 1, 6)
    before = stamp(rulebook(), profile(XM), on, aspects, date(2024, 11, 24))
    on_the_day = stamp(rulebook(), profile(XM), on, aspects, date(2024, 11, 25))
    assert [c.id for c in before.conventions] == [
        "funding_years_of_clusters_certified_before_the_rules"
    ]
    assert on_the_day.conventions == ()
