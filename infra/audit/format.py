"""The export format: NDJSON, one JSON object per line, `kind` first.

    {"kind":"header", ...}        format, export time, range, chain anchor, checkpoint public key
    {"kind":"event", ...}         one per event, in log (position) order
    {"kind":"missing", ...}       a chain entry whose event row is gone (tampering)
    {"kind":"checkpoint", ...}    a signed checkpoint, right after the entry it pins
    {"kind":"end", ...}           count and last chain hash: a truncated file is noticed

An event line carries `payload`: the event's stored state bytes, embedded verbatim (they are
canonical msgspec JSON), so a verifier recomputes the chain digest byte for byte from the line.
State bytes that are not a one-line JSON object (only possible after tampering) travel as
`payload_b64` instead. The other fields (`recorded_at`, `effective_date`, `actor`,
`document_number`) are copies of values inside the payload for readers with `jq`; the verifier
checks that they agree with it.

Positions are notification ids: increasing, not necessarily contiguous (a rolled-back insert
leaves a gap), which is why each chain entry covers its own position.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from domain.actors import Actor
from infra.audit.signing import Checkpoint

FORMAT = "cluster-ledger-audit/1"
MEDIA_TYPE = "application/x-ndjson"


class Anchor(msgspec.Struct, frozen=True, kw_only=True):
    """The chain entry just before the first exported position (position 0: the genesis)."""

    position: int
    hash: str


class Header(msgspec.Struct, frozen=True, kw_only=True, tag="header", tag_field="kind"):
    format: str
    exported_at: datetime
    after: int  # the export holds positions > after ...
    to: int  # ... and <= to
    anchor: Anchor
    public_key: str | None = None  # PEM of the checkpoint key configured when exporting
    public_key_fingerprint: str | None = None


class EventLine(msgspec.Struct, frozen=True, kw_only=True, tag="event", tag_field="kind"):
    position: int
    cluster_id: UUID  # originator id (also voucher index aggregates)
    version: int
    type: str
    topic: str
    recorded_at: datetime | None = None
    effective_date: date | None = None
    actor: Actor | None = None
    document_number: str | None = None
    hash: str | None = None  # chain entry hash, hex; None: the event has no chain entry
    payload: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: see payload_b64
    payload_b64: str | None = None


class MissingLine(msgspec.Struct, frozen=True, kw_only=True, tag="missing", tag_field="kind"):
    position: int
    hash: str


class CheckpointLine(Checkpoint, frozen=True, kw_only=True, tag="checkpoint", tag_field="kind"):
    pass


class EndLine(msgspec.Struct, frozen=True, kw_only=True, tag="end", tag_field="kind"):
    events: int  # event lines written
    last_position: int | None
    last_hash: str | None


Line = Header | EventLine | MissingLine | CheckpointLine | EndLine

LINE_DECODER: msgspec.json.Decoder[Line] = msgspec.json.Decoder(Line)  # type: ignore[arg-type]
LINE_ENCODER = msgspec.json.Encoder()


def encode_line(line: msgspec.Struct) -> bytes:
    return LINE_ENCODER.encode(line) + b"\n"
