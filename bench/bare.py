"""A bare eventsourcing 9.5 application: the stock PostgreSQL recorder and JSON transcoder, no
hash chain, no rules, one small aggregate whose events carry a payload of a chosen size.

It is the ceiling of what the library itself does per save on this machine, beside which the
ledger's own command path is measured.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Note(Aggregate):
    @event("Written")
    def __init__(self, payload: str) -> None:
        self.payload = payload

    @event("Changed")
    def change(self, payload: str) -> None:
        self.payload = payload


class BareApplication(Application[UUID]):
    name = "BenchBare"

    def write(self, payload: str) -> UUID:
        note = Note(payload)
        self.save(note)
        return note.id

    def change(self, note_id: UUID, payload: str) -> None:
        note: Note = self.repository.get(note_id)
        note.change(payload)
        self.save(note)


def open_bare(env: dict[str, str], **extra: Any) -> BareApplication:
    return BareApplication(env={**env, **{k: str(v) for k, v in extra.items()}})
