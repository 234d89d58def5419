"""Programme profiles (`domain/rules/programmes.toml`): what differs between programmes, as data.

A profile names the rulebook scheme that certifies a programme's clusters and the local layers on
top, the region its clusters lie in, who certifies, which steps exist and which roles act at each
(the permission matrix), and the differences of procedure the sources write down. Rule code reads
a profile's fields and never tests a programme's name. Reading the file is I/O and lives in
`infra/rules.py`; `parse_programmes` turns its bytes into validated profiles.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from domain.actors import Role
from domain.errors import ConfigError, NotAllowed, RuleViolation
from domain.rulebook import Programme


class DossierRequirement(msgspec.Struct, frozen=True, kw_only=True):
    """A dossier field the programme requires when applying (refused with `code` when empty)."""

    field: str
    code: str
    article: str
    text: str


class Scoring(msgspec.Struct, frozen=True, kw_only=True):
    """Which role gives the initial score and which the final one ("" where nobody scores)."""

    initial: str = ""
    final: str = ""


class ProgrammeProfile(msgspec.Struct, frozen=True, kw_only=True):
    programme: Programme = Programme.FJ  # filled in from the table's key
    title: str
    source: str
    scheme: Programme  # the rulebook programme that certifies (FJ, or NATIONAL for MIIT)
    local_layers: tuple[Programme, ...] = ()  # rulebook programmes layered on top, by date
    region: str  # GB/T 2260 code its clusters must lie in
    outside_region: str  # the refusal's code when a dossier's county lies outside `region`
    certifying_body: str
    certification_notice: bool  # the certifying body shortlists under public notice first
    renewal_assesses_plan_targets: bool
    operating_unit_fixed: bool  # changing the operating unit needs a reason
    dossier_requires: tuple[DossierRequirement, ...] = ()
    scoring: Scoring = Scoring()
    steps: dict[str, frozenset[Role]] = msgspec.field(default_factory=dict)

    def roles_for(self, command: str) -> frozenset[Role]:
        return self.steps.get(command, frozenset())

    def has_step(self, command: str) -> bool:
        return bool(self.steps.get(command))

    def check_step(self, command: str, action: str) -> None:
        """Refuse a step the programme does not have (a rule of the aggregate, beside the
        permission check the application makes first)."""
        if not self.has_step(command):
            raise RuleViolation(
                "not_in_programme",
                f"the {self.programme} programme has no step to {action}",
                programme=str(self.programme),
            )


class Programmes(msgspec.Struct, frozen=True):
    profiles: Mapping[Programme, ProgrammeProfile]

    def get(self, programme: Programme | str) -> ProgrammeProfile:
        profile = self.profiles.get(Programme(programme))
        if profile is None:
            raise RuleViolation(
                "programme_not_managed",
                f"{programme} is a comparison standard, not a programme this ledger manages",
                programme=str(programme),
            )
        return profile

    def allowed_roles(self, command: str, programme: Programme | str) -> frozenset[Role]:
        profile = self.profiles.get(Programme(programme))
        return profile.roles_for(command) if profile else frozenset()

    def issuable_roles(self, command: str) -> frozenset[Role]:
        """The roles that may issue `command` in some programme (the route's first check)."""
        return frozenset().union(*(p.roles_for(command) for p in self.profiles.values()))

    def check_step(self, command: str, programme: Programme | str, role: Role) -> None:
        """Refuse unless `command` is a step of the programme and `role` may take it."""
        roles = self.allowed_roles(command, programme)
        if not roles:
            raise NotAllowed(
                "command_not_in_programme",
                f"{command} is not a step of the {programme} programme",
                command=str(command),
                programme=str(programme),
            )
        if role not in roles:
            raise NotAllowed(
                "role_not_permitted",
                f"role {role} may not {command} in the {programme} programme; "
                f"allowed: {', '.join(sorted(roles))}",
                command=str(command),
                role=str(role),
                allowed=sorted(roles),
            )


def parse_programmes(raw: bytes, *, commands: frozenset[str], source_name: str) -> Programmes:
    """Decode and validate the profiles; every step must be a known command and every role a
    known role, or the file is refused naming itself."""
    try:
        table = msgspec.toml.decode(raw, type=dict[str, ProgrammeProfile])
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ConfigError("invalid_programmes", f"{source_name}: {exc}") from exc
    profiles: dict[Programme, ProgrammeProfile] = {}
    for key, profile in table.items():
        try:
            programme = Programme(key)
        except ValueError:
            raise ConfigError(
                "invalid_programmes", f"{source_name}: unknown programme {key!r}"
            ) from None
        unknown = set(profile.steps) - commands
        if unknown:
            raise ConfigError(
                "invalid_programmes",
                f"{source_name}: [{key}.steps] unknown commands {sorted(unknown)}",
            )
        for role in (profile.scoring.initial, profile.scoring.final):
            if role and role not in set(Role):
                raise ConfigError("invalid_programmes", f"{source_name}: unknown role {role!r}")
        profiles[programme] = msgspec.structs.replace(profile, programme=programme)
    return Programmes(profiles=profiles)
