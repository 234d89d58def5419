"""Offline verification of an export: no database, only the file and the public key.

In one pass over the file, line by line (memory stays flat in the length of the log: cases not
in use are packed into a temporary file, and memory keeps ~100 bytes per case, see `_Cases`):

1. the hash chain: each event's digest is recomputed from the embedded state bytes and chained
   from the header's anchor; every stored chain hash must match (`infra.chain`);
2. checkpoints: each signature must verify with the public key (given with `--public-key`, or,
   unpinned, the key the file names), and the signed hash must equal the chain entry at its
   position; the events after the last signed checkpoint are counted (the chain alone covers
   them);
3. replay: every event is decoded by the ledger's own codec (`infra.codec.decode_event`, what
   its mapper does) and applied to its `Cluster` aggregate with eventsourcing's `mutate`
   (the same code, and the same version sequence check, as loading the aggregate in the
   application), and folded by the projections' pure folds (`projections.folds`), from which
   the status and funding summary is built with the read side's own `summarise` — so the
   figures can be compared with the live projections.

`verify_file` splits the pass over two processes where it can fork: this one checks the chain
and the signatures and replays part of the cases (chosen by id), a child replays the others; each
case is replayed whole, in log order, by one process, and the findings are merged into the order
one sequential pass reports them (`verify_lines` is that pass, and gives the same report).

A problem names the first bad position. After a chain mismatch the check carries on from the
stored hash, so one altered event is reported once and later events are still checked.

What the chain alone can tell: an event altered, removed or inserted in the database without
rewriting the chain table breaks the chain at that position. An alterer who also recomputed
the chain table is caught by the first signed checkpoint after the change (the position named
is that checkpoint's). Events appended after the last checkpoint are only as trustworthy as
the export itself: sign the head (`cluster-ledger checkpoint --head`) before exporting.

The report's `result` says what the pass showed, and only that: `ok` (no problem; at least one
signed checkpoint, verified with a key given, or with the file's own key when the caller trusts
it explicitly), `failed` (problems found), `unsigned` (no problem, but no signed checkpoint in
the file: nothing shows the events are the publisher's), `unpinned` (no problem, but the
signatures were checked only against the key the file itself names, which whoever made the file
chose).
"""

from __future__ import annotations

import base64
import gc
import multiprocessing
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, NamedTuple
from uuid import UUID

import msgspec
from eventsourcing.domain import CanInitAggregate, OriginatorVersionError
from eventsourcing.persistence import MapperDeserialisationError

from domain.case import CaseState
from domain.cluster import Cluster
from domain.errors import ConfigError
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
from infra.codec import decode_event
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
from projections.summary import Summary, merge_summaries, summarise

MAX_PROBLEMS = 100  # listed in the report; all are counted

# Where the key the signatures were checked with came from (`VerifyReport.key_source`).
KEY_GIVEN = "argument"
KEY_EMBEDDED = "export file (not pinned)"
KEY_EMBEDDED_TRUSTED = "export file (--trust-embedded-key; not pinned)"

Result = Literal["ok", "failed", "unsigned", "unpinned"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    position: int | None  # None: not tied to one position (e.g. the file ends early)
    line: int  # line number in the file, from 1
    message: str


class VerifyReport(msgspec.Struct, kw_only=True):
    ok: bool  # `result` is "ok"
    result: Result = "failed"
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
    signed_through: int | None = None  # position of the last verified checkpoint
    chain_only_from: int | None = None  # first position after it (or the first one if none)
    chain_only_events: int = 0  # events after it: covered by the chain only
    key_fingerprint: str | None = None
    key_source: str | None = None  # KEY_GIVEN, KEY_EMBEDDED or KEY_EMBEDDED_TRUSTED
    clusters: int = 0
    events_replayed: int = 0
    events_not_replayed: int = 0  # of cases opened before a partial export's range
    problem_count: int = 0
    first_bad_position: int | None = None
    problems: list[Problem] = msgspec.field(default_factory=list)
    summary_on: date | None = None
    summary: Summary | None = None


_CHAIN, _REPLAY = 0, 1  # which part of the pass found a problem (the chain's come first)
_PASS, _FINISH = 0, 1  # found reading a line, or at the end of the file


class _Findings:
    """The problems one part of the pass found, in the order found, each with a sort key that
    places it in the order one sequential pass over the file reports them."""

    def __init__(self, part: int) -> None:
        self.part = part
        self.line_number = 0
        self.stage = _PASS
        self.count = 0
        self.first_bad_position: int | None = None
        self.listed: list[tuple[tuple[int, int, int], Problem]] = []

    def problem(self, code: str, position: int | None, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(
                (
                    (self.stage, self.line_number, self.part),
                    Problem(code=code, position=position, line=self.line_number, message=message),
                )
            )
        if position is not None and (
            self.first_bad_position is None or position < self.first_bad_position
        ):
            self.first_bad_position = position


class _ChainResult(msgspec.Struct, kw_only=True):
    """What the chain check hands over (from a child process, as msgpack)."""

    report: VerifyReport
    count: int
    first_bad_position: int | None
    listed: list[tuple[tuple[int, int, int], Problem]]
    header: Header | None
    line_number: int


class _ChainCheck:
    """Steps 1 and 2: the file's structure, the hash chain and the checkpoint signatures."""

    def __init__(self, public_keys: Sequence[str], *, trust_embedded_key: bool = False) -> None:
        self.findings = _Findings(_CHAIN)
        self.trust_embedded_key = trust_embedded_key
        self.problem = self.findings.problem
        self.report = VerifyReport(ok=False)
        # Several keys: checkpoints signed before a key rotation stay verifiable.
        self.keys = {k.fingerprint: k for k in map(CheckpointVerifier, public_keys)}
        if self.keys:
            self.report.key_fingerprint = ", ".join(self.keys)
            self.report.key_source = KEY_GIVEN
        self.header: Header | None = None
        self.end: EndLine | None = None
        self.previous = b""  # chain hash of the last entry
        self.last_position = -1
        self.last_stored_hash: str | None = None  # of the last line (None: it had none)
        self.last_chain_hash: str | None = None  # the last chain hash the file holds

    def line(self, line: Any, error: Exception | None) -> None:
        if error is not None:
            self.problem(
                "unreadable_line", self.last_position + 1 if self.header else None,
                f"line {self.findings.line_number} is not a valid export line: {error}",
            )
            return
        kind = type(line)
        if self.header is None and kind is not Header:
            self.problem("no_header", None, "the file does not start with a header line")
            self.start(_NO_HEADER)
        if self.end is not None:
            self.problem("after_end", None, "lines follow the end line")
        if kind is EventLine:
            self.event(line)
        elif kind is Header:
            self.start(line)
        elif kind is CheckpointLine:
            self.checkpoint(line)
        elif kind is MissingLine:
            self.missing(line)
        elif kind is EndLine:
            self.end = line

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
            try:
                key = CheckpointVerifier(header.public_key)
            except ConfigError as exc:
                self.problem(
                    "invalid_embedded_key", None,
                    f"the header's public key is not an Ed25519 public key: {exc.message}",
                )
                return
            self.keys = {key.fingerprint: key}
            report.key_fingerprint = key.fingerprint
            report.key_source = KEY_EMBEDDED_TRUSTED if self.trust_embedded_key else KEY_EMBEDDED

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
        expected = entry_hash(
            self.previous, position,
            event_digest(line.cluster_id, line.version, line.topic, _state(line)),
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
        if report.chain_only_from is None:
            report.chain_only_from = position
        report.chain_only_events += 1

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
        if self.report.chain_only_from is None:
            self.report.chain_only_from = line.position

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
            # It pins every position of the file up to its own (each entry chains the last).
            report.signed_through = position
            report.chain_only_from = None
            report.chain_only_events = 0

    def finish(self) -> _ChainResult:
        self.findings.stage = _FINISH
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
        findings = self.findings
        return _ChainResult(
            report=report, count=findings.count, first_bad_position=findings.first_bad_position,
            listed=findings.listed, header=self.header, line_number=findings.line_number,
        )

    def last_position_or_none(self) -> int | None:
        anchor = self.header.anchor.position if self.header else 0
        return self.last_position if self.last_position > anchor else None


def _state(line: EventLine) -> bytes:
    payload: bytes = line.payload  # type: ignore[assignment]  # a buffer: no copy is made
    if len(payload):
        return payload
    if line.payload_b64 is not None:
        return base64.b64decode(line.payload_b64)
    return b""


_HOT_CASES = 256  # cases kept as live objects at first; the others are packed (`_Cases`)
_STRETCH = 4096  # case switches between two looks at how often cases had to be unpacked
_DIGEST_PACKER = msgspec.msgpack.Encoder()
_DIGEST_UNPACKER = msgspec.msgpack.Decoder(ClusterDigest)


_CASE_PACKER = msgspec.msgpack.Encoder()
_CASE_UNPACKER = msgspec.msgpack.Decoder(CaseState)


def _pack_aggregate(aggregate: Any) -> bytes:
    """An exact copy of the aggregate as bytes (read back only by this process): a Cluster's
    case as typed msgpack (as `Cluster.__deepcopy__` copies it; pickle is ~10x slower on it),
    the rest of its attributes pickled. Not compressed: zlib took 60 of the 90 µs a 100-event
    case took to pack, and saved only disk (2.3 KB instead of 7 KB), not memory."""
    attributes = dict(vars(aggregate))
    case = attributes.pop("case", None)
    return pickle.dumps(
        (type(aggregate), attributes, None if case is None else _CASE_PACKER.encode(case)),
        protocol=pickle.HIGHEST_PROTOCOL,
    )


def _unpack_aggregate(blob: bytes) -> Any:
    cls, attributes, case = pickle.loads(blob)  # noqa: S301 - our own bytes
    aggregate = object.__new__(cls)
    aggregate.__dict__.update(attributes)
    if case is not None:
        aggregate.__dict__["case"] = _CASE_UNPACKER.decode(case)
    return aggregate


def _unpack_digest(blob: bytes) -> ClusterDigest:
    return _DIGEST_UNPACKER.decode(blob)


_STATUS_NAMES: dict[Any, str] = {}


def _status_name(status: Any) -> str:
    """One shared string per status, not one per packed case."""
    name = _STATUS_NAMES.get(status)
    if name is None:
        name = _STATUS_NAMES[status] = str(status)
    return name


class _Packed(NamedTuple):
    at: int  # offset of the blobs in the spill file
    aggregate: int  # length of the aggregate's blob (pickled)
    digest: int  # length of the digest's blob (msgpack) after it; 0: no digest
    status: str | None  # the aggregate's case status (None: not a Cluster)


class _Spill:
    """Packed cases on disk: an anonymous temporary file (gone when closed or when the process
    ends), appended to and read back by offset. A case unpacked again leaves its old blobs
    behind; the file grows with the cases packed, ~7 KB for a 100-event case (85 MB for the
    10,000 cases of the benchmark's 1M-event log)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="cluster-ledger-verify-")  # noqa: SIM115
        self._end = 0

    def put(self, *blobs: bytes) -> int:
        at = self._end
        self._file.seek(at)
        for blob in blobs:
            self._file.write(blob)
            self._end += len(blob)
        return at

    def get(self, at: int, length: int) -> bytes:
        self._file.seek(at)
        return self._file.read(length)

    def close(self) -> None:
        self._file.close()


class _Cases:
    """Every case's aggregate and fold digest, in memory that stays flat in the log's length.

    The most recently used cases are live objects; the others are packed into a spill file
    on disk (`_Spill`), and memory keeps only where each one is and its status: the aggregate
    pickled (an exact round trip, written and read only by this process; the case as typed
    msgpack), the digest as msgpack. Where a log's events come mostly case by case, few cases
    are unpacked again. Where they interleave across more cases than are kept live,
    unpacking on nearly every event would cost several times the replay: when more than a
    tenth of the events of a stretch of the log had to unpack their case, every case known
    so far may stay live (memory then grows with the cases the log interleaves).
    """

    def __init__(self, hot: int | None = None) -> None:
        self.hot: dict[int, list[Any]] = {}  # key -> [aggregate, digest], least recent first
        self.packed: dict[int, _Packed] = {}
        self.spill: _Spill | None = None  # opened when the first case is packed
        self.limit = _HOT_CASES if hot is None else hot
        self.last: int | None = None
        self.uses = 0  # in the current stretch of _STRETCH events
        self.unpacked = 0

    def __contains__(self, key: int) -> bool:
        return key in self.hot or key in self.packed

    def get(self, key: int) -> list[Any] | None:
        hot = self.hot
        if key == self.last:
            return hot[key]
        self.uses += 1
        if self.uses >= _STRETCH:
            if self.unpacked * 10 > self.uses:
                self.limit = max(self.limit * 2, len(hot) + len(self.packed))
            self.uses = self.unpacked = 0
        case = hot.pop(key, None)
        if case is None:
            packed = self.packed.pop(key, None)
            if packed is None:
                return None
            self.unpacked += 1
            case = [
                _unpack_aggregate(self._blob(packed.at, packed.aggregate)),
                self._digest(packed),
            ]
        self._put(key, case)
        return case

    def add(self, key: int, aggregate: Any, digest: ClusterDigest | None) -> None:
        self._put(key, [aggregate, digest])

    def _put(self, key: int, case: list[Any]) -> None:
        hot = self.hot
        hot[key] = case
        self.last = key
        if len(hot) > self.limit:
            oldest = next(iter(hot))
            aggregate, digest = hot.pop(oldest)
            if self.spill is None:
                self.spill = _Spill()
            blob = _pack_aggregate(aggregate)
            packed_digest = b"" if digest is None else _DIGEST_PACKER.encode(digest)
            status = _status_name(aggregate.case.status) if isinstance(aggregate, Cluster) else None
            self.packed[oldest] = _Packed(
                self.spill.put(blob, packed_digest), len(blob), len(packed_digest), status
            )

    def _blob(self, at: int, length: int) -> bytes:
        assert self.spill is not None  # noqa: S101 - a packed case implies the spill file
        return self.spill.get(at, length)

    def _digest(self, packed: _Packed) -> ClusterDigest | None:
        if not packed.digest:
            return None
        return _unpack_digest(self._blob(packed.at + packed.aggregate, packed.digest))

    def states(self) -> Iterator[tuple[int, str | None, ClusterDigest | None]]:
        """(key, the aggregate's case status or None if not a Cluster, digest) of every case,
        one at a time: packed digests are read back on the way, not kept."""
        for key, (aggregate, digest) in self.hot.items():
            status = str(aggregate.case.status) if isinstance(aggregate, Cluster) else None
            yield key, status, digest
        for key, packed in self.packed.items():
            yield key, packed.status, self._digest(packed)

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
            self.spill = None

    def digests(self) -> Iterator[ClusterDigest]:
        for _, _, digest in self.states():
            if digest is not None:
                yield digest


class _Replay:
    """Step 3: every event decoded and applied to its aggregate, and folded into its digest."""

    def __init__(self, rules: Rules, share: _Share | None = None) -> None:
        self.rules = rules
        self.share = share  # None: every case; else only the cases of this share
        self.findings = _Findings(_REPLAY)
        self.problem = self.findings.problem
        self.header: Header | None = None
        self.complete = False
        self.cases = _Cases()
        self.tainted: set[int] = set()
        self.events_replayed = 0
        self.events_not_replayed = 0

    def line(self, line: Any, error: Exception | None) -> None:
        kind = type(line)
        if kind is EventLine:
            if self.header is None:
                self.header = _NO_HEADER
                self.complete = True
            if self.share is None or self.share.holds(line.cluster_id.int):
                self.replay(line)
        elif kind is Header and self.header is None:
            self.header = line
            self.complete = line.after == 0
        elif error is None and self.header is None:
            self.header = _NO_HEADER
            self.complete = True

    def replay(self, line: EventLine) -> None:
        # Keyed by the id's integer: uuid.UUID hashes in Python, an int in C (hot path).
        key = line.cluster_id.int
        if key in self.tainted:
            self.events_not_replayed += 1
            return
        try:
            event = decode_event(line.cluster_id, line.version, line.topic, _state(line))
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
                self.events_replayed += 1

    def _apply(self, line: EventLine, key: int, event: Any) -> bool:
        """Mutate the aggregate and fold the digest; False if the event was not replayed."""
        cases = self.cases
        if isinstance(event, CanInitAggregate):
            if key in cases:
                self._replay_failed(line, key, "created_twice", "creates a case created before")
                return False
            aggregate = event.mutate(None)
            digest = (
                None if isinstance(event, IGNORED_EVENTS)
                else fold(None, event, line.position, self.rules)
            )
            cases.add(key, aggregate, digest)
            return True
        case = cases.get(key)
        if case is None:
            if self.complete:
                self._replay_failed(line, key, "unknown_case", "no event created the case")
            else:
                self.events_not_replayed += 1
            return False
        event.mutate(case[0])
        if not isinstance(event, IGNORED_EVENTS):
            case[1] = fold(case[1], event, line.position, self.rules)
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

    def finish(self, on: date | None) -> _ReplayResult:
        """Count the cases, check the fold against the aggregates, and build the summary."""
        try:
            return self._finish(on)
        finally:
            self.cases.close()

    def _finish(self, on: date | None) -> _ReplayResult:
        findings = self.findings
        findings.stage = _FINISH
        clusters = 0
        for key, status, digest in self.cases.states():
            if status is not None:
                clusters += 1
            # The aggregate and the projections' fold must agree on every case's status.
            if (
                digest is not None and key not in self.tainted and status is not None
                and status != digest.status
            ):
                self.problem(
                    "fold_disagrees", digest.position,
                    f"{digest.cluster_id}: the aggregate says {status}, "
                    f"the projection fold says {digest.status}",
                )
        summary = None
        if self.complete:
            rules, cases = self.rules, self.cases
            summary = summarise(
                (status_row(d, rules) for d in cases.digests()),
                (row for d in cases.digests() for row in funding_rows(d, rules)),
                on=_summary_date(self.header, on),
            )
        return _ReplayResult(
            count=findings.count, first_bad_position=findings.first_bad_position,
            listed=findings.listed, clusters=clusters, events_replayed=self.events_replayed,
            events_not_replayed=self.events_not_replayed, summary=summary,
        )


class _Share(NamedTuple):
    """The cases one replay process takes: those whose id's integer modulo `of` is in
    [`first`, `stop`) (ids are random: the shares are even in expectation)."""

    first: int
    stop: int
    of: int

    def holds(self, key: int) -> bool:
        return self.first <= key % self.of < self.stop


class _ReplayResult(msgspec.Struct, kw_only=True):
    """What one replay hands over (from a child process, as msgpack)."""

    count: int
    first_bad_position: int | None
    listed: list[tuple[tuple[int, int, int], Problem]]
    clusters: int
    events_replayed: int
    events_not_replayed: int
    summary: Summary | None


def _summary_date(header: Header | None, on: date | None) -> date:
    return on or (header.exported_at if header else datetime.now(UTC)).astimezone(UTC).date()


_NO_HEADER = Header(
    format=FORMAT, exported_at=datetime(1970, 1, 1, tzinfo=UTC), after=0, to=0,
    anchor=Anchor(position=0, hash=GENESIS.hex()),
)


def _decoded(decode: Callable[[bytes], Any], raw: bytes) -> tuple[Any, Exception | None]:
    """One line decoded, or None and why it could not be (each part reports that its way)."""
    try:
        return decode(raw), None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, exc


def _scan(lines: Iterable[bytes], parts: Sequence[Any], progress: Progress | None) -> int:
    """Decode each line once and hand it to each part of the pass; the number of lines."""
    decode = LINE_DECODER.decode
    number = 0
    for raw in lines:
        number += 1
        if progress is not None:
            progress.advance(len(raw))
        if not raw or raw.isspace():
            continue
        line, error = _decoded(decode, raw)
        for part in parts:
            part.findings.line_number = number
            part.line(line, error)
    for part in parts:
        part.findings.line_number = number
    return number


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    # The pass makes no reference cycles (measured: none per event); the cyclic collector would
    # only rescan the growing set of case states again and again, costing a fifth of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _conclude(
    chain: _ChainResult, replays: Sequence[_ReplayResult], on: date | None
) -> VerifyReport:
    """One report from the chain check and the replay of every share of the cases: problems
    in the order one sequential pass finds them."""
    report = chain.report
    summary_on = _summary_date(chain.header, on)
    report.summary_on = summary_on
    report.clusters = sum(r.clusters for r in replays)
    report.events_replayed = sum(r.events_replayed for r in replays)
    report.events_not_replayed = sum(r.events_not_replayed for r in replays)
    if report.complete:
        summaries = [r.summary for r in replays if r.summary is not None]
        report.summary = (
            summaries[0] if len(summaries) == 1 else merge_summaries(summaries, on=summary_on)
        )
    parts: list[_ChainResult | _ReplayResult] = [chain, *replays]
    listed = sorted((item for part in parts for item in part.listed), key=lambda i: i[0])
    report.problems = [problem for _, problem in listed[:MAX_PROBLEMS]]
    report.problem_count = sum(part.count for part in parts)
    firsts = [p.first_bad_position for p in parts if p.first_bad_position is not None]
    report.first_bad_position = min(firsts) if firsts else None
    report.result = _result(report)
    report.ok = report.result == "ok"
    return report


def _result(report: VerifyReport) -> Result:
    """What the checks showed: problems first; then whether anything was signed at all (a
    pinned key proves nothing without a signature); then whether the key was pinned."""
    if report.problem_count:
        return "failed"
    if not report.checkpoints_verified:
        return "unsigned"
    if report.key_source == KEY_EMBEDDED:
        return "unpinned"
    return "ok"


def verify_lines(
    lines: Iterable[bytes], rules: Rules, *, public_keys: Sequence[str] = (),
    trust_embedded_key: bool = False, on: date | None = None, progress: Progress | None = None,
) -> VerifyReport:
    """Verify an export given as lines of bytes; `on` dates the summary (default: the day the
    export was made, so the figures match what the live projections showed that day).

    Without `public_keys` the signatures are checked with the key the file names; the result
    is then "unpinned" unless the caller trusts that key (`trust_embedded_key`)."""
    chain = _ChainCheck(public_keys, trust_embedded_key=trust_embedded_key)
    replay = _Replay(rules)
    with _no_cyclic_gc():
        _scan(lines, (chain, replay), progress)
        return _conclude(chain.finish(), [replay.finish(on)], on)


def _read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=1 << 20) as handle:
        yield from handle


_REPLAY_RESULT = msgspec.msgpack.Decoder(_ReplayResult)
# Of 16 parts of the cases, the parent replays these beside the chain check (which costs about
# a fifth of a replay); the child replays the rest.
_PARENT_SHARE = _Share(0, 6, 16)
_CHILD_SHARE = _Share(6, 16, 16)


class _Peek(msgspec.Struct):
    """Just enough of a line to know whose event it is (the rest is skipped unparsed)."""

    kind: str
    cluster_id: UUID | None = None


_PEEK = msgspec.json.Decoder(_Peek)


def _scan_share(lines: Iterable[bytes], replay: _Replay, share: _Share) -> None:
    """`_scan` for a replay of one share: event lines of other cases are only peeked at."""
    peek = _PEEK.decode
    decode = LINE_DECODER.decode
    findings = replay.findings
    number = 0
    for raw in lines:
        number += 1
        if not raw or raw.isspace():
            continue
        try:
            seen = peek(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            seen = None
        if (
            seen is not None and seen.kind == "event" and seen.cluster_id is not None
            and replay.header is not None and not share.holds(seen.cluster_id.int)
        ):
            continue
        line, error = _decoded(decode, raw)
        findings.line_number = number
        replay.line(line, error)
    findings.line_number = number


def _replay_child(
    path: Path, rules: Rules, share: _Share, on: date | None, send: Connection
) -> None:
    """The replay of one share of the cases, in a child process: its result goes to `send`."""
    try:
        replay = _Replay(rules, share)
        _scan_share(_read_lines(path), replay, share)
        send.send_bytes(b"R" + msgspec.msgpack.encode(replay.finish(on)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        send.send_bytes(b"E" + f"{type(exc).__name__}: {exc}".encode())
    finally:
        send.close()


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def verify_file(
    path: Path, rules: Rules, *, public_keys: Sequence[str] = (),
    trust_embedded_key: bool = False, on: date | None = None, progress: Progress | None = None,
    processes: int = 2,
) -> VerifyReport:
    """Verify an export file. With `processes=2` (where processes can fork) a child process
    replays part of the cases (chosen by id) while this one checks the chain and signatures
    and replays the others: the same checks and the same report as one pass
    (`verify_lines`), on two cores. Every case is replayed whole, in log order, by one
    process."""
    if progress is not None:
        progress.total = path.stat().st_size
    if processes < 2 or not _can_fork():
        return verify_lines(
            _read_lines(path), rules, public_keys=public_keys,
            trust_embedded_key=trust_embedded_key, on=on, progress=progress,
        )
    context = multiprocessing.get_context("fork")
    chain = _ChainCheck(public_keys, trust_embedded_key=trust_embedded_key)
    replay = _Replay(rules, _PARENT_SHARE)
    with _no_cyclic_gc():
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_replay_child, args=(path, rules, _CHILD_SHARE, on, send),
            name="verify-replay", daemon=True,
        )
        child.start()
        send.close()
        try:
            _scan(_read_lines(path), (chain, replay), progress)
            chained, replayed = chain.finish(), replay.finish(on)
            try:
                message = receive.recv_bytes()
            except EOFError:
                message = b"Ethe replay process ended without a result"
        finally:
            receive.close()
            child.join()
        if message[:1] != b"R":
            raise RuntimeError(f"verify: the replay process failed: {message[1:].decode()}")
        return _conclude(chained, [replayed, _REPLAY_RESULT.decode(message[1:])], on)
