"""What a reader may see: the counties of their jurisdiction, narrowed by a region filter.

Every read (the JSON API's lists and the pages) is restricted by the same role x jurisdiction
code: the province sees all Fujian, a city its own counties (Pingtan 350128 counts as a city of
its own, not under Fuzhou), a county itself.
"""

from __future__ import annotations

import functools

import msgspec

from api.runtime import Runtime
from domain.actors import Actor
from domain.regions import Regions


def visible_counties(regions: Regions, actor: Actor) -> list[str]:
    """The county codes an actor may read (an unknown jurisdiction sees nothing)."""
    return list(_visible_counties(regions, actor.jurisdiction))


@functools.lru_cache(maxsize=1024)
def _visible_counties(regions: Regions, jurisdiction: str) -> tuple[str, ...]:
    # A `Regions` never changes once built (its table is read once at start-up), so the
    # counties a jurisdiction covers are computed once per (regions, jurisdiction).
    return tuple(sorted(
        region.code
        for region in regions
        if region.level == "county" and regions.covers(jurisdiction, region.code)
    ))


def region_scope(
    regions: Regions, counties: list[str], region: str | None
) -> tuple[list[str], str | None]:
    """Narrow the visible counties by a region filter: counties and a code prefix (if any)."""
    if region is None:
        return counties, None
    inside = _counties_in(regions, region) if len(region) == 6 else None
    if inside is not None:
        return [c for c in counties if c in inside], None
    return counties, region


@functools.lru_cache(maxsize=1024)
def _counties_in(regions: Regions, code: str) -> frozenset[str] | None:
    """The counties of a known division `code` (None if `code` is not one); see above."""
    if not any(r.code == code for r in regions):
        return None
    return frozenset(r.code for r in regions.counties_in(code))


def read_scope(
    runtime: Runtime, actor: Actor, region: str | None
) -> tuple[tuple[str, ...], str | None]:
    """The counties (and a code prefix, if any) an actor reads, narrowed by `region`."""
    return _cached_scope(runtime.ledger.services.regions, actor.jurisdiction, region)


@functools.lru_cache(maxsize=4096)
def _cached_scope(
    regions: Regions, jurisdiction: str, region: str | None
) -> tuple[tuple[str, ...], str | None]:
    """`region_scope` of a jurisdiction's counties, once per (regions, jurisdiction, region)
    (see `_visible_counties`): the same tuple every time, which the query caches compare
    by identity before they compare it item by item."""
    visible = list(_visible_counties(regions, jurisdiction))
    counties, prefix = region_scope(regions, visible, region)
    return tuple(counties), prefix


class RegionOption(msgspec.Struct, frozen=True):
    code: str
    label: str  # "福州市" for a city, "福州市 · 鼓楼区" for a county


def region_options(regions: Regions, jurisdiction: str) -> tuple[RegionOption, ...]:
    """What a region filter offers a reader: each city they cover, followed by its counties
    (Pingtan as a city of its own), in code order; a county reader gets their county."""
    return _region_options(regions, jurisdiction)


@functools.lru_cache(maxsize=256)
def _region_options(regions: Regions, jurisdiction: str) -> tuple[RegionOption, ...]:
    from api.i18n import region_label

    counties = _visible_counties(regions, jurisdiction)
    cities = sorted({regions.city_of(code).code for code in counties})
    options: list[RegionOption] = []
    for city in cities:
        own = [code for code in counties if regions.city_of(code).code == city]
        if len(cities) > 1 or len(own) > 1:
            options.append(RegionOption(code=city, label=region_label(regions, city)))
        options.extend(
            RegionOption(code=code, label=region_label(regions, code))
            for code in own if code != city
        )
    return tuple(options)
