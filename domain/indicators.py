"""The certification figures a dossier declares (FJ Annex §1–§6 and its negative list).

Every field is optional with a default: a figure the applicant has not yet given is `None`
(the pre-check reports it as missing), and new indicators can be added without breaking
stored dossiers (schemas only grow). Percentages are percentage points as `Decimal`
(60 means 60 %), never floats, so that 60 % exactly meets "60%以上".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from domain.errors import InvalidInput

NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]

_SHARES = ("sme_output_share_pct", "leading_industry_share_pct", "industrial_internet_adoption_pct")


class Indicators(msgspec.Struct, frozen=True, kw_only=True):
    """Figures as declared by the applicant; reviewers verify them on site (FJ Art. 12)."""

    area_km2: Decimal | None = None
    # Total output value in yuan, oldest year first; "each of the last 3 years" reads the tail.
    output_value_yuan: tuple[NonNegativeInt, ...] = ()
    sme_output_share_pct: Decimal | None = None
    leading_industry_share_pct: Decimal | None = None
    output_growth_avg_pct: Decimal | None = None
    champion_or_little_giant_count: NonNegativeInt | None = None
    specialised_innovative_hightech_count: NonNegativeInt | None = None
    sme_rd_growth_avg_pct: Decimal | None = None
    invention_patent_growth_avg_pct: Decimal | None = None
    invention_patents_per_10k_people: Decimal | None = None
    industrial_internet_adoption_pct: Decimal | None = None
    co2_intensity_falling: bool | None = None
    energy_water_better_than_benchmark: bool | None = None
    negative_list_clear: bool | None = None

    def __post_init__(self) -> None:
        # msgspec cannot constrain Decimals, so they are checked here; growth rates may
        # legitimately be negative or above 100, shares may not.
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Decimal) and not value.is_finite():
                raise InvalidInput(
                    "indicator_out_of_range", f"{name} must be a finite number", indicator=name
                )
        for name in _SHARES:
            share: Decimal | None = getattr(self, name)
            if share is not None and not (0 <= share <= 100):
                raise InvalidInput(
                    "indicator_out_of_range",
                    f"{name} must be a percentage between 0 and 100, got {share}",
                    indicator=name,
                )
        for name in ("area_km2", "invention_patents_per_10k_people"):
            figure: Decimal | None = getattr(self, name)
            if figure is not None and figure < 0:
                raise InvalidInput(
                    "indicator_out_of_range",
                    f"{name} must not be negative, got {figure}",
                    indicator=name,
                )
