"""The replay of an audit export through the domain and the read side, and the report of the
whole verification (`cluster-ledger verify`). No database, only the file and the public key.

`infra.audit.verify` checks the file's structure, the hash chain and the signatures; over the
same pass, line by line (memory stays flat in the length of the log: cases not in use are
packed into a temporary file, and memory keeps ~100 bytes per case, see `_Cases`), this module
replays it:

3. every event is decoded by the ledger's own codec (`infra.codec.decode_event`, what its
   mapper does) and applied to its `Cluster` aggregate with eventsourcing's `mutate` (the same
   code, and the same version sequence check, as loading the aggregate in the application),
   and folded by the projections' pure folds (`projections.folds`), from which the status and
   funding summary is built with the read side's own `summarise` — so the figures can be
   compared with the live projections.

It lives in `projections/` because it runs the read side's folds: `infra` sits below the read
side and does not import it.

`verify_file` splits the pass over two processes where it can fork: this one checks the chain
and the signatures and replays part of the cases (chosen by id), a child replays the others; each
case is replayed whole, in log order, by one process, and the findings are merged into the order
one sequential pass reports them (`verify_lines` is that pass, and gives the same report).
"""

from __future__ import annotations

import multiprocessing
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from eventsourcing.domain import CanInitAggregate, OriginatorVersionError
from eventsourcing.persistence import MapperDeserialisationError

from domain.case import CaseState
from domain.cluster import Cluster
from infra.audit.format import LINE_DECODER, EventLine, Header
from infra.audit.verify import (
    MAX_PROBLEMS,
    NO_HEADER,
    REPLAY,
    ChainCheck,
    ChainReport,
    ChainResult,
    Finding,
    Findings,
    Problem,
    decoded,
    event_state,
    no_cyclic_gc,
    read_lines,
    scan,
    verdict,
)
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


class VerifyReport(ChainReport, kw_only=True):
    """The chain and signature checks' report (`ChainReport`, its fields first), with what the
    replay found and the summary it rebuilt."""

    clusters: int = 0
    events_replayed: int = 0
    events_not_replayed: int = 0  # of cases opened before a partial export's range
    problem_count: int = 0
    first_bad_position: int | None = None
    problems: list[Problem] = msgspec.field(default_factory=list)
    summary_on: date | None = None
    summary: Summary | None = None


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
        self.findings = Findings(REPLAY)
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
                self.header = NO_HEADER
                self.complete = True
            if self.share is None or self.share.holds(line.cluster_id.int):
                self.replay(line)
        elif kind is Header and self.header is None:
            self.header = line
            self.complete = line.after == 0
        elif error is None and self.header is None:
            self.header = NO_HEADER
            self.complete = True

    def replay(self, line: EventLine) -> None:
        # Keyed by the id's integer: uuid.UUID hashes in Python, an int in C (hot path).
        key = line.cluster_id.int
        if key in self.tainted:
            self.events_not_replayed += 1
            return
        try:
            event = decode_event(line.cluster_id, line.version, line.topic, event_state(line))
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
        findings.finishing()
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
    listed: list[Finding]
    clusters: int
    events_replayed: int
    events_not_replayed: int
    summary: Summary | None


def _summary_date(header: Header | None, on: date | None) -> date:
    return on or (header.exported_at if header else datetime.now(UTC)).astimezone(UTC).date()


def _conclude(
    chain: ChainResult, replays: Sequence[_ReplayResult], on: date | None
) -> VerifyReport:
    """One report from the chain check and the replay of every share of the cases: problems
    in the order one sequential pass finds them."""
    report = VerifyReport(**msgspec.structs.asdict(chain.report))
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
    parts: list[ChainResult | _ReplayResult] = [chain, *replays]
    listed = sorted((item for part in parts for item in part.listed), key=lambda i: i[0])
    report.problems = [problem for _, problem in listed[:MAX_PROBLEMS]]
    report.problem_count = sum(part.count for part in parts)
    firsts = [p.first_bad_position for p in parts if p.first_bad_position is not None]
    report.first_bad_position = min(firsts) if firsts else None
    report.result = verdict(report, report.problem_count)
    report.ok = report.result == "ok"
    return report


def verify_lines(
    lines: Iterable[bytes], rules: Rules, *, public_keys: Sequence[str] = (),
    trust_embedded_key: bool = False, on: date | None = None, progress: Progress | None = None,
) -> VerifyReport:
    """Verify an export given as lines of bytes; `on` dates the summary (default: the day the
    export was made, so the figures match what the live projections showed that day).

    Without `public_keys` the signatures are checked with the key the file names; the result
    is then "unpinned" unless the caller trusts that key (`trust_embedded_key`)."""
    chain = ChainCheck(public_keys, trust_embedded_key=trust_embedded_key)
    replay = _Replay(rules)
    with no_cyclic_gc():
        scan(lines, (chain, replay), progress)
        return _conclude(chain.finish(), [replay.finish(on)], on)



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
    """`scan` for a replay of one share: event lines of other cases are only peeked at."""
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
        line, error = decoded(decode, raw)
        findings.line_number = number
        replay.line(line, error)
    findings.line_number = number


def _replay_child(
    path: Path, rules: Rules, share: _Share, on: date | None, send: Connection
) -> None:
    """The replay of one share of the cases, in a child process: its result goes to `send`."""
    try:
        replay = _Replay(rules, share)
        _scan_share(read_lines(path), replay, share)
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
            read_lines(path), rules, public_keys=public_keys,
            trust_embedded_key=trust_embedded_key, on=on, progress=progress,
        )
    context = multiprocessing.get_context("fork")
    chain = ChainCheck(public_keys, trust_embedded_key=trust_embedded_key)
    replay = _Replay(rules, _PARENT_SHARE)
    with no_cyclic_gc():
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_replay_child, args=(path, rules, _CHILD_SHARE, on, send),
            name="verify-replay", daemon=True,
        )
        child.start()
        send.close()
        try:
            scan(read_lines(path), (chain, replay), progress)
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

