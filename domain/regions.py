"""Administrative divisions (GB/T 2260 six-digit codes) and which jurisdiction covers which county.

A cluster lies in one county (FJ Art. 2, 11: 定位在县级区划范围内); a user acts only inside their
jurisdiction: the province on all its counties, a city on its own counties, a county on itself.

Pingtan Comprehensive Experimental Zone counts as a city for FJ (preamble; Art. 4:
各设区市（含平潭）) although GB/T 2260 lists 350128 平潭县 under 福州市. Its one code is a county
that is its own city (`city_code == code`): a Pingtan city-level user covers Pingtan clusters,
a Fuzhou user does not.

Reading the file is I/O and happens elsewhere; `parse_regions` validates the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from domain.errors import ConfigError, InvalidInput

Level = Literal["province", "city", "county"]


class Region(msgspec.Struct, frozen=True):
    code: str  # GB/T 2260, six digits
    name: str
    level: Level
    # The city-level jurisdiction over this region: a city's own code, a county's city,
    # Pingtan's own code; None for the province.
    city_code: str | None = None

    @property
    def acts_as_city(self) -> bool:
        """True for a prefecture-level city and for a county that counts as one (Pingtan)."""
        return self.city_code == self.code


class Regions:
    """All divisions of one province, looked up by code."""

    def __init__(self, regions: Iterable[Region]) -> None:
        self._by_code = {region.code: region for region in regions}

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def get(self, code: str) -> Region:
        region = self._by_code.get(code)
        if region is None:
            raise InvalidInput("unknown_region", f"no division {code!r}", region=code)
        return region

    def county(self, code: str) -> Region:
        """The county-level division `code`; clusters are located only in counties (FJ Art. 11)."""
        region = self._by_code.get(code)
        if region is None or region.level != "county":
            raise InvalidInput(
                "unknown_region", f"{code!r} is not a known county-level division", region=code
            )
        return region

    def city_of(self, county_code: str) -> Region:
        """The city-level jurisdiction over a county (Pingtan: itself)."""
        county = self.county(county_code)
        city = self._by_code.get(county.city_code or "")
        if city is None:  # parse_regions gives every county a city; this guards hand-built ones
            raise ConfigError("invalid_regions", f"county {county.code} has no city")
        return city

    def covers(self, jurisdiction_code: str, county_code: str) -> bool:
        """Whether a user of `jurisdiction_code` may act on a cluster in `county_code`.

        An unknown jurisdiction covers nothing; an unknown county is invalid input.
        """
        county = self.county(county_code)
        jurisdiction = self._by_code.get(jurisdiction_code)
        if jurisdiction is None:
            return False
        if jurisdiction.level == "province":
            return county.code[:2] == jurisdiction.code[:2]
        return jurisdiction.code in (county.code, county.city_code)

    def counties_in(self, jurisdiction_code: str) -> tuple[Region, ...]:
        """Every county a user of `jurisdiction_code` covers, in code order."""
        self.get(jurisdiction_code)
        return tuple(
            region
            for region in sorted(self._by_code.values(), key=lambda r: r.code)
            if region.level == "county" and self.covers(jurisdiction_code, region.code)
        )


class _County(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    name: str


class _City(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    name: str
    counties: tuple[_County, ...] = ()
    county_level: bool = False  # one code that is both county and city (Pingtan, FJ Art. 4)


class _RegionsFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    province: _County
    cities: tuple[_City, ...]


def parse_regions(raw: bytes, *, source_name: str = "regions") -> Regions:
    """Decode and validate a regions TOML file; a bad file names itself and the problem."""
    try:
        data = msgspec.toml.decode(raw, type=_RegionsFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError("invalid_regions", f"{source_name}: {exc}") from exc
    province = data.province
    regions = [Region(province.code, province.name, "province")]
    for city in data.cities:
        if city.county_level:
            regions.append(Region(city.code, city.name, "county", city_code=city.code))
            continue
        regions.append(Region(city.code, city.name, "city", city_code=city.code))
        regions.extend(
            Region(county.code, county.name, "county", city_code=city.code)
            for county in city.counties
        )
    _check(regions, data, source_name)
    return Regions(regions)


def _check(regions: list[Region], data: _RegionsFile, source_name: str) -> None:
    def fail(problem: str) -> ConfigError:
        return ConfigError("invalid_regions", f"{source_name}: {problem}")

    codes = [region.code for region in regions]
    if len(codes) != len(set(codes)):
        raise fail("duplicate region codes")
    if not data.province.code.endswith("0000"):
        raise fail(f"province code {data.province.code} must end in 0000")
    for region in regions:
        if len(region.code) != 6 or not region.code.isdigit():
            raise fail(f"{region.code!r} is not a six-digit code")
        if region.code[:2] != data.province.code[:2]:
            raise fail(f"{region.code} lies outside province {data.province.code}")
    for city in data.cities:
        if city.county_level:
            if city.counties:
                raise fail(f"county-level city {city.code} cannot list counties")
            continue
        if not city.code.endswith("00") or not city.counties:
            raise fail(f"city {city.code} must end in 00 and list its counties")
        for county in city.counties:
            if county.code[:4] != city.code[:4] or county.code.endswith("00"):
                raise fail(f"county {county.code} does not belong to city {city.code}")
