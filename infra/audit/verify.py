"""Offline verification of an export: no database, only the file and the public key.

In one pass over the file, line by line (memory stays flat in the length of the log; what grows
is one small state per cluster):

1. the hash chain: each event's digest is recomputed from the embedded state bytes and chained
   from the header's anchor; every stored chain hash must match (`infra.chain`);
2. checkpoints: each signature must verify with the public key (given with `--public-key`, or,
   unpinned, the key the file names), and the signed hash must equal the chain entry at its
   position;
3. replay: every event is decoded with the ledger's own mapper (`infra.codec`) and applied to
   its `Cluster` aggregate with eventsourcing's `mutate` (the same code, and the same version
   sequence check, as loading the aggregate in the application), and folded by the projections'
   pure folds (`projections.folds`), from which the status and funding summary is built with
   the read side's own `summarise` — so the figures can be compared with the live projections.

A problem names the first bad position. After a chain mismatch the check carries on from the
stored hash, so one altered event is reported once and later events are still checked.

What the chain alone can tell: an event altered, removed or inserted in the database without
rewriting the chain table breaks the chain at that position. An alterer who also recomputed
the chain table is caught by the first signed checkpoint after the change (the position named
is that checkpoint's). Events appended after the last checkpoint are only as trustworthy as
the export itself: sign the head (`cluster-ledger checkpoint --head`) before exporting.
"""

from __future__ import annotations

import base64
import gc
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.domain import CanInitAggregate, OriginatorVersionError
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent

from domain.cluster import Cluster
from infra.audit.format import (
    FORMAT,
    LINE_DECODER,
    Anchor,
    CheckpointLine,
    EndLine,
    EventLine,
    Header,
    MissingLine,
)
from infra.audit.signing import CheckpointVerifier
from infra.chain import GENESIS, entry_hash, event_digest
from infra.codec import MsgspecMapper
from infra.progress import Progress
from projections.folds import (
    IGNORED_EVENTS,
    ClusterDigest,
    Rules,
    UnhandledEvent,
    fold,
    funding_rows,
    status_row,
)
from projections.summary import Summary, summarise

MAX_PROBLEMS = 100  # listed in the report; all are counted


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    position: int | None  # None: not tied to one position (e.g. the file ends early)
    line: int  # line number in the file, from 1
    message: str


class VerifyReport(msgspec.Struct, kw_only=True):
    ok: bool
    format: str | None = None
    exported_at: str | None = None
    after: int | None = None
    to: int | None = None
    complete: bool = False  # the export starts at the beginning of the log
    events: int = 0
    first_position: int | None = None
    last_position: int | None = None
    last_hash: str | None = None
    checkpoints: int = 0
    checkpoints_verified: int = 0
    key_fingerprint: str | None = None
    key_source: str | None = None  # "argument" or "export file (not pinned)"
    clusters: int = 0
    events_replayed: int = 0
    events_not_replayed: int = 0  # of cases opened before a partial export's range
    problem_count: int = 0
    first_bad_position: int | None = None
    problems: list[Problem] = msgspec.field(default_factory=list)
    summary_on: date | None = None
    summary: Summary | None = None


def offline_mapper() -> MsgspecMapper:
    """The ledger's mapper (its transcoder is never used: msgspec does the work)."""
    return MsgspecMapper(JSONTranscoder())


class _Verifier:
    def __init__(self, rules: Rules, public_keys: Sequence[str]) -> None:
        self.rules = rules
        self.report = VerifyReport(ok=False)
        # Several keys: checkpoints signed before a key rotation stay verifiable.
        self.keys = {k.fingerprint: k for k in map(CheckpointVerifier, public_keys)}
        if self.keys:
            self.report.key_fingerprint = ", ".join(self.keys)
            self.report.key_source = "argument"
        self.mapper = offline_mapper()
        self.header: Header | None = None
        self.end: EndLine | None = None
        self.previous = b""  # chain hash of the last entry
        self.last_position = -1
        self.last_stored_hash: str | None = None  # of the last line (None: it had none)
        self.last_chain_hash: str | None = None  # the last chain hash the file holds
        self.aggregates: dict[int, Any] = {}  # by the cluster id's integer
        self.digests: dict[int, ClusterDigest] = {}
        self.tainted: set[int] = set()
        self.line_number = 0

    # ---- problems --------------------------------------------------------------------------

    def problem(self, code: str, position: int | None, message: str) -> None:
        report = self.report
        report.problem_count += 1
        if len(report.problems) < MAX_PROBLEMS:
            report.problems.append(
                Problem(code=code, position=position, line=self.line_number, message=message)
            )
        if position is not None and (
            report.first_bad_position is None or position < report.first_bad_position
        ):
            report.first_bad_position = position

    # ---- the pass --------------------------------------------------------------------------

    def run(self, lines: Iterable[bytes], progress: Progress | None) -> VerifyReport:
        decode = LINE_DECODER.decode
        for raw in lines:
            self.line_number += 1
            if progress is not None:
                progress.advance(len(raw))
            if not raw.strip():
                continue
            try:
                line = decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.problem(
                    "unreadable_line", self.last_position + 1 if self.header else None,
                    f"line {self.line_number} is not a valid export line: {exc}",
                )
                continue
            kind = type(line)
            if self.header is None and kind is not Header:
                self.problem("no_header", None, "the file does not start with a header line")
                self.start(_NO_HEADER)
            if self.end is not None:
                self.problem("after_end", None, "lines follow the end line")
            if kind is EventLine:
                self.event(line)  # type: ignore[arg-type]
            else:
                self._dispatch(line)
        return self.finish()

    def _dispatch(self, line: Any) -> None:
        if type(line) is Header:
            self.start(line)
        elif type(line) is CheckpointLine:
            self.checkpoint(line)
        elif type(line) is MissingLine:
            self.missing(line)
        elif type(line) is EndLine:
            self.end = line
        elif type(line) is EventLine:
            self.event(line)

    def start(self, header: Header) -> None:
        if self.header is not None:
            self.problem("second_header", None, "a second header line")
            return
        self.header = header
        report = self.report
        report.format = header.format
        report.exported_at = header.exported_at.isoformat()
        report.after, report.to = header.after, header.to
        report.complete = header.after == 0
        if header.format != FORMAT:
            self.problem("unknown_format", None, f"format {header.format!r}, expected {FORMAT}")
        self.previous = bytes.fromhex(header.anchor.hash)
        self.last_position = header.anchor.position
        if not self.keys and header.public_key:
            key = CheckpointVerifier(header.public_key)
            self.keys = {key.fingerprint: key}
            report.key_fingerprint = key.fingerprint
            report.key_source = "export file (not pinned)"

    def event(self, line: EventLine) -> None:
        report = self.report
        position = line.position
        report.events += 1
        if report.first_position is None:
            report.first_position = position
        if position <= self.last_position:
            self.problem(
                "out_of_order", position,
                f"position {position} follows position {self.last_position}",
            )
        if len(line.payload):
            state = bytes(line.payload)
        elif line.payload_b64 is not None:
            state = base64.b64decode(line.payload_b64)
        else:
            state = b""
        expected = entry_hash(
            self.previous, position, event_digest(line.cluster_id, line.version, line.topic, state)
        )
        stored = line.hash
        if stored is None:
            self.problem(
                "no_chain_entry", position,
                f"the event at position {position} ({line.type} v{line.version} of "
                f"{line.cluster_id}) has no chain entry: it was added outside the ledger",
            )
        elif expected.hex() != stored:
            self.problem(
                "chain_mismatch", position,
                f"the chain breaks at position {position} ({line.type} v{line.version} of "
                f"{line.cluster_id}): this event was altered, or an entry between positions "
                f"{self.last_position} and {position} was removed or inserted",
            )
            self.previous = bytes.fromhex(stored)
        else:
            self.previous = expected
        self.last_position = position
        self.last_stored_hash = stored
        if stored is not None:
            self.last_chain_hash = stored
        self.replay(line, state)

    def missing(self, line: MissingLine) -> None:
        self.problem(
            "event_missing", line.position,
            f"the chain has an entry at position {line.position} but the log has no event there: "
            "it was deleted",
        )
        if line.position <= self.last_position:
            self.problem(
                "out_of_order", line.position,
                f"position {line.position} follows position {self.last_position}",
            )
        self.previous = bytes.fromhex(line.hash)
        self.last_position = line.position
        self.last_stored_hash = self.last_chain_hash = line.hash

    def checkpoint(self, line: CheckpointLine) -> None:
        report = self.report
        report.checkpoints += 1
        position = line.position
        signed = False
        key = self.keys.get(line.key_fingerprint)
        if not self.keys:
            self.problem(
                "no_public_key", position,
                f"the checkpoint at position {position} cannot be checked: no public key",
            )
        elif key is None:
            self.problem(
                "unknown_checkpoint_key", position,
                f"the checkpoint at position {position} was signed by {line.key_fingerprint}, "
                f"not by a key given ({', '.join(self.keys)})",
            )
        elif not key.verify(line):
            self.problem(
                "bad_signature", position,
                f"the signature of the checkpoint at position {position} does not verify",
            )
        else:
            signed = True
        if position != self.last_position:
            self.problem(
                "checkpoint_without_entry", position,
                f"a checkpoint pins position {position}, which is not in the log",
            )
        elif line.hash != self.last_stored_hash:
            self.problem(
                "checkpoint_mismatch", position,
                f"the log at position {position} is not what was signed on "
                f"{line.created_at.isoformat()}: an event at or before position {position} was "
                "altered, removed or inserted after signing",
            )
        elif signed:
            report.checkpoints_verified += 1

    # ---- replay ----------------------------------------------------------------------------

    def replay(self, line: EventLine, state: bytes) -> None:
        # Keyed by the id's integer: uuid.UUID hashes in Python, an int in C (hot path).
        key = line.cluster_id.int
        report = self.report
        if key in self.tainted:
            report.events_not_replayed += 1
            return
        try:
            event = self.mapper.to_domain_event(
                StoredEvent(
                    originator_id=line.cluster_id, originator_version=line.version,
                    topic=line.topic, state=state,
                )
            )
        except (MapperDeserialisationError, ValueError, TypeError, AttributeError) as exc:
            self.problem("undecodable_event", line.position, f"position {line.position}: {exc}")
            self.tainted.add(key)
            return
        self._check_copies(line, event)
        try:
            applied = self._apply(line, key, event)
        except OriginatorVersionError as exc:
            self._replay_failed(
                line, key, "version_out_of_sequence", f"out of sequence ({exc})"
            )
        except UnhandledEvent as exc:
            self._replay_failed(line, key, "replay_failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - untrusted input: any failure is a finding
            self._replay_failed(
                line, key, "replay_failed", f"cannot be applied: {type(exc).__name__}: {exc}"
            )
        else:
            if applied:
                report.events_replayed += 1

    def _apply(self, line: EventLine, key: int, event: Any) -> bool:
        """Mutate the aggregate and fold the digest; False if the event was not replayed."""
        aggregates = self.aggregates
        position = line.position
        if isinstance(event, CanInitAggregate):
            if key in aggregates:
                self._replay_failed(line, key, "created_twice", "creates a case created before")
                return False
            aggregates[key] = event.mutate(None)
        else:
            aggregate = aggregates.get(key)
            if aggregate is None:
                if self.report.complete:
                    self._replay_failed(line, key, "unknown_case", "no event created the case")
                else:
                    self.report.events_not_replayed += 1
                return False
            event.mutate(aggregate)
        if not isinstance(event, IGNORED_EVENTS):
            digests = self.digests
            digests[key] = fold(digests.get(key), event, position, self.rules)
        return True

    def _replay_failed(self, line: EventLine, key: int, code: str, what: str) -> None:
        self.problem(
            code, line.position,
            f"position {line.position}: {line.type} v{line.version} of {line.cluster_id} {what}",
        )
        self.tainted.add(key)

    def _check_copies(self, line: EventLine, event: Any) -> None:
        """The fields a reader sees beside the payload must say what the payload says."""
        meta = getattr(event, "meta", None)
        if (
            line.recorded_at != event.timestamp
            or line.effective_date != (meta.effective_date if meta else None)
            or line.actor != (meta.actor if meta else None)
            or line.document_number != (meta.document_number if meta else None)
            or line.type != type(event).__name__
        ):
            self.problem(
                "fields_disagree", line.position,
                f"position {line.position}: the line's recorded_at/effective_date/actor/"
                "document_number/type differ from its payload",
            )

    # ---- end -------------------------------------------------------------------------------

    def finish(self) -> VerifyReport:
        report = self.report
        if self.header is None:
            self.problem("no_header", None, "the file is empty or has no header line")
        end = self.end
        if end is None:
            self.problem(
                "truncated", None,
                f"the file ends without its end line after position {self.last_position}: "
                "it is truncated",
            )
        elif (
            end.events != report.events
            or end.last_position != self.last_position_or_none()
            or end.last_hash != self.last_chain_hash
        ):
            self.problem(
                "end_mismatch", None,
                f"the end line says {end.events} events up to position {end.last_position}; "
                f"the file has {report.events} up to position {self.last_position_or_none()}",
            )
        report.last_position = self.last_position_or_none()
        report.last_hash = self.previous.hex() if self.previous else None
        report.clusters = sum(1 for a in self.aggregates.values() if isinstance(a, Cluster))
        self._consistency()
        report.ok = report.problem_count == 0
        return report

    def last_position_or_none(self) -> int | None:
        anchor = self.header.anchor.position if self.header else 0
        return self.last_position if self.last_position > anchor else None

    def _consistency(self) -> None:
        """The aggregate and the projections' fold must agree on every case's status."""
        for key, digest in self.digests.items():
            if key in self.tainted:
                continue
            aggregate = self.aggregates.get(key)
            if aggregate is not None and str(aggregate.case.status) != digest.status:
                self.problem(
                    "fold_disagrees", digest.position,
                    f"{digest.cluster_id}: the aggregate says {aggregate.case.status}, "
                    f"the projection fold says {digest.status}",
                )

    def summary(self, on: date) -> Summary:
        rules = self.rules
        digests = list(self.digests.values())
        return summarise(
            (status_row(d, rules) for d in digests),
            (row for d in digests for row in funding_rows(d, rules)),
            on=on,
        )


_NO_HEADER = Header(
    format=FORMAT, exported_at=datetime(1970, 1, 1, tzinfo=UTC), after=0, to=0,
    anchor=Anchor(position=0, hash=GENESIS.hex()),
)


def verify_lines(
    lines: Iterable[bytes], rules: Rules, *, public_keys: Sequence[str] = (),
    on: date | None = None, progress: Progress | None = None,
) -> VerifyReport:
    """Verify an export given as lines of bytes; `on` dates the summary (default: the day the
    export was made, so the figures match what the live projections showed that day)."""
    verifier = _Verifier(rules, public_keys)
    # The pass makes no reference cycles (measured: none per event); the cyclic collector would
    # only rescan the growing set of case states again and again, costing a fifth of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = verifier.run(lines, progress)
    finally:
        if collecting:
            gc.enable()
    header = verifier.header
    summary_on = on or (header.exported_at if header else datetime.now(UTC)).astimezone(UTC).date()
    report.summary_on = summary_on
    if report.complete:
        report.summary = verifier.summary(summary_on)
    return report


def _read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def verify_file(
    path: Path, rules: Rules, *, public_keys: Sequence[str] = (), on: date | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    if progress is not None:
        progress.total = path.stat().st_size
    return verify_lines(
        _read_lines(path), rules, public_keys=public_keys, on=on, progress=progress
    )
