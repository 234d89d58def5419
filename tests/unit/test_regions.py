"""Fujian's divisions (GB/T 2260), Pingtan as a city (FJ Art. 4), and jurisdiction coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import ConfigError, InvalidInput
from domain.regions import Regions, parse_regions

FILE = Path(__file__).resolve().parents[2] / "domain" / "rules" / "regions-fj.toml"
REGIONS = parse_regions(FILE.read_bytes(), source_name=FILE.name)

PINGTAN, FUZHOU, FUJIAN = "350128", "350100", "350000"


def test_fujian_has_nine_prefecture_level_cities() -> None:
    assert sum(region.level == "city" for region in REGIONS) == 9


def test_fujian_has_84_county_level_divisions() -> None:
    assert sum(region.level == "county" for region in REGIONS) == 84


def test_ten_jurisdictions_act_as_cities_counting_pingtan() -> None:
    assert sum(region.acts_as_city for region in REGIONS) == 10
    assert REGIONS.get(PINGTAN).acts_as_city


@pytest.mark.parametrize(
    ("code", "name", "city"),
    [
        ("350102", "鼓楼区", FUZHOU),
        ("350105", "马尾区", FUZHOU),
        ("350112", "长乐区", FUZHOU),
        ("350203", "思明区", "350200"),
        ("350211", "集美区", "350200"),
        ("350213", "翔安区", "350200"),
        ("350582", "晋江市", "350500"),
        ("350583", "南安市", "350500"),
        ("350526", "德化县", "350500"),
        ("350603", "龙文区", "350600"),
        ("350802", "新罗区", "350800"),
        ("350823", "上杭县", "350800"),
        ("350824", "武平县", "350800"),
        ("350723", "光泽县", "350700"),
        ("350781", "邵武市", "350700"),
        ("350404", "三元区", "350400"),
        ("350304", "荔城区", "350300"),
    ],
)
def test_county_is_found_by_code_with_its_city(code: str, name: str, city: str) -> None:
    county = REGIONS.county(code)
    assert (county.name, county.level, county.city_code) == (name, "county", city)


def test_city_is_found_by_code() -> None:
    assert REGIONS.get("350200").name == "厦门市"


def test_province_is_found_by_code() -> None:
    assert REGIONS.get(FUJIAN).level == "province"


def test_unknown_code_is_an_unknown_region() -> None:
    with pytest.raises(InvalidInput) as raised:
        REGIONS.get("359999")
    assert raised.value.code == "unknown_region"


def test_county_lookup_refuses_an_unknown_code() -> None:
    with pytest.raises(InvalidInput) as raised:
        REGIONS.county("359999")
    assert raised.value.code == "unknown_region"


def test_county_lookup_refuses_a_city_code() -> None:
    with pytest.raises(InvalidInput):
        REGIONS.county(FUZHOU)


def test_county_lookup_refuses_the_province_code() -> None:
    with pytest.raises(InvalidInput):
        REGIONS.county(FUJIAN)


def test_districts_merged_in_2021_are_no_longer_counties() -> None:
    with pytest.raises(InvalidInput):
        REGIONS.county("350402")  # 梅列区, merged into 三元区 350404


def test_city_of_a_county_is_its_prefecture() -> None:
    assert REGIONS.city_of("350582").code == "350500"


def test_pingtan_is_a_county_where_clusters_can_lie() -> None:
    assert REGIONS.county(PINGTAN).level == "county"


def test_pingtan_is_its_own_city() -> None:
    assert REGIONS.city_of(PINGTAN).code == PINGTAN


def test_pingtan_city_user_covers_pingtan_clusters() -> None:
    assert REGIONS.covers(PINGTAN, PINGTAN)


def test_fuzhou_city_user_does_not_cover_pingtan_clusters() -> None:
    assert not REGIONS.covers(FUZHOU, PINGTAN)


def test_province_covers_pingtan_clusters() -> None:
    assert REGIONS.covers(FUJIAN, PINGTAN)


def test_province_covers_every_county() -> None:
    counties = [region.code for region in REGIONS if region.level == "county"]
    assert all(REGIONS.covers(FUJIAN, code) for code in counties)


def test_city_covers_its_own_county() -> None:
    assert REGIONS.covers("350200", "350211")


def test_city_does_not_cover_another_citys_county() -> None:
    assert not REGIONS.covers("350200", "350582")


def test_county_covers_itself() -> None:
    assert REGIONS.covers("350203", "350203")


def test_county_does_not_cover_a_neighbouring_county() -> None:
    assert not REGIONS.covers("350203", "350206")


def test_covers_refuses_a_city_code_in_place_of_a_county() -> None:
    with pytest.raises(InvalidInput):
        REGIONS.covers("350203", "350200")


def test_unknown_jurisdiction_covers_nothing() -> None:
    assert not REGIONS.covers("110000", "350203")


def test_counties_in_xiamen_are_its_six_districts() -> None:
    assert [r.code for r in REGIONS.counties_in("350200")] == [
        "350203",
        "350205",
        "350206",
        "350211",
        "350212",
        "350213",
    ]


def test_counties_in_fuzhou_leave_out_pingtan() -> None:
    codes = [region.code for region in REGIONS.counties_in(FUZHOU)]
    assert len(codes) == 12
    assert PINGTAN not in codes


def parse(text: str) -> Regions:
    return parse_regions(text.encode(), source_name="bad.toml")


PROVINCE = '[province]\ncode = "350000"\nname = "福建省"\n'


def test_duplicate_code_is_rejected() -> None:
    text = PROVINCE + (
        '[[cities]]\ncode = "350200"\nname = "厦门市"\n'
        'counties = [{ code = "350203", name = "a" }, { code = "350203", name = "b" }]\n'
    )
    with pytest.raises(ConfigError, match="duplicate"):
        parse(text)


def test_county_outside_its_city_is_rejected() -> None:
    text = PROVINCE + (
        '[[cities]]\ncode = "350200"\nname = "厦门市"\n'
        'counties = [{ code = "350582", name = "晋江市" }]\n'
    )
    with pytest.raises(ConfigError, match="does not belong"):
        parse(text)


def test_malformed_regions_file_names_itself() -> None:
    with pytest.raises(ConfigError) as raised:
        parse("[province]\ncode = 350000\n")
    assert raised.value.code == "invalid_regions"
    assert "bad.toml" in raised.value.message
