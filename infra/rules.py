"""Load the rulebook and region table shipped in `domain/rules/`, validated at start-up."""

from __future__ import annotations

from pathlib import Path

from domain.commands import Command
from domain.errors import ConfigError
from domain.programmes import Programmes, parse_programmes
from domain.regions import Regions, parse_regions
from domain.rulebook import Rulebook, parse_rulebook_version

RULES_DIR = Path(__file__).resolve().parent.parent / "domain" / "rules"
REGIONS_FILE = "regions-fj.toml"
PROGRAMMES_FILE = "programmes.toml"


def load_rulebook(directory: Path = RULES_DIR) -> Rulebook:
    files = sorted(
        p for p in directory.glob("*.toml") if p.name not in (REGIONS_FILE, PROGRAMMES_FILE)
    )
    if not files:
        raise ConfigError("no_rulebook", f"no rulebook files in {directory}")
    versions = tuple(parse_rulebook_version(p.read_bytes(), source_name=p.name) for p in files)
    ids = [v.id for v in versions]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            "invalid_rulebook", f"duplicate rulebook version ids in {directory}: {ids}"
        )
    return Rulebook(versions=versions)


def load_regions(directory: Path = RULES_DIR) -> Regions:
    path = directory / REGIONS_FILE
    return parse_regions(path.read_bytes())


def load_programmes(directory: Path = RULES_DIR) -> Programmes:
    path = directory / PROGRAMMES_FILE
    return parse_programmes(
        path.read_bytes(), commands=frozenset(str(c) for c in Command), source_name=path.name
    )
