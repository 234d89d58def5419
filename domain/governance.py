"""Which rulebook versions govern a case on a date: its scheme, and the local layers on top.

A programme's profile (`domain.programmes`) names the scheme that certifies its clusters (FJ
2022 for Fujian's provincial clusters; MIIT's national measures for Xiamen's national clusters)
and the local layers that add rules from their own effective date (Xiamen's 2024 evaluation and
subsidy rules). On a given date the latest layer in force governs, and before any layer is in
force the scheme does: a national cluster in Xiamen certified by MIIT in 2022 or 2023 is
recommended and certified under MIIT's measures of the day, and assessed and funded under
Xiamen's rules from 2024-11-25 (XM Art. 2, 5, 15(一), 19).

Pure: the caller passes the loaded rulebook and profile.
"""

from __future__ import annotations

from datetime import date

import msgspec

from domain.errors import NotFound
from domain.programmes import ProgrammeProfile
from domain.rulebook import Convention, Rulebook, RulebookVersion

CERTIFIED_BEFORE_RULES = "certified_before_rules"


def governing_version(rulebook: Rulebook, profile: ProgrammeProfile, on: date) -> RulebookVersion:
    """The version whose rules a decision of `profile`'s programme dated `on` applies: the
    latest local layer in force on that date, else the scheme's version in force."""
    for layer in reversed(profile.local_layers):
        try:
            return rulebook.in_force(layer, on)
        except NotFound:
            continue  # not yet in force on that date: the layer below governs
    return rulebook.in_force(profile.scheme, on)


def versions_in_force(rulebook: Rulebook, profile: ProgrammeProfile, on: date) -> tuple[str, ...]:
    """The id of each layer in force on `on`, scheme first (what a decision records)."""
    ids: list[str] = []
    for programme in (profile.scheme, *profile.local_layers):
        try:
            ids.append(rulebook.in_force(programme, on).id)
        except NotFound:
            continue
    return tuple(ids)


class Stamp(msgspec.Struct, frozen=True, kw_only=True):
    """What a decision records of the rules it applied (`EventMeta.rulebooks`, `.conventions`)."""

    rulebooks: tuple[str, ...] = ()
    conventions: tuple[Convention, ...] = ()


def stamp(
    rulebook: Rulebook,
    profile: ProgrammeProfile,
    on: date,
    aspects: tuple[str, ...],
    certified_on: date | None,
) -> Stamp:
    """The layers in force on `on` and the conventions of the governing version that a decision
    touching `aspects` relies on. A convention marked `certified_before_rules` applies only to a
    case certified before that version took effect."""
    layers = versions_in_force(rulebook, profile, on)
    try:
        version = governing_version(rulebook, profile, on)
    except NotFound:
        return Stamp(rulebooks=layers)
    chosen = tuple(
        c for c in version.conventions
        if c.aspect in aspects
        and (
            c.when != CERTIFIED_BEFORE_RULES
            or (certified_on is not None and certified_on < version.effective_from)
        )
    )
    return Stamp(rulebooks=layers, conventions=chosen)
