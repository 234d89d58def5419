"""Offline verification of an export, the part that needs no domain: the file's structure, the
hash chain and the checkpoint signatures, and the one pass over the file that hands each line
to each check. No database, only the file and the public key.

1. the hash chain: each event's digest is recomputed from the embedded state bytes and chained
   from the header's anchor; every stored chain hash must match (`infra.chain`);
2. checkpoints: each signature must verify with the public key (given with `--public-key`, or,
   unpinned, the key the file names), and the signed hash must equal the chain entry at its
   position; the events after the last signed checkpoint are counted (the chain alone covers
   them).

The replay of every event through the aggregate and the read side's folds, and the report of
the whole verification, are `projections.audit_replay` (it reads this pass; this module knows
nothing of the read side, which sits above `infra`).

A problem names the first bad position. After a chain mismatch the check carries on from the
stored hash, so one altered event is reported once and later events are still checked.

What the chain alone can tell: an event altered, removed or inserted in the database without
rewriting the chain table breaks the chain at that position. An alterer who also recomputed
the chain table is caught by the first signed checkpoint after the change (the position named
is that checkpoint's). Events appended after the last checkpoint are only as trustworthy as
the export itself: sign the head (`cluster-ledger checkpoint --head`) before exporting.

The report's `result` says what the pass showed, and only that (`verdict`): `ok` (no problem;
at least one signed checkpoint, verified with a key given, or with the file's own key when the
caller trusts it explicitly), `failed` (problems found), `unsigned` (no problem, but no signed
checkpoint in the file: nothing shows the events are the publisher's), `unpinned` (no problem,
but the signatures were checked only against the key the file itself names, which whoever made
the file chose).
"""

from __future__ import annotations

import base64
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

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
from infra.progress import Progress

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


class ChainReport(msgspec.Struct, kw_only=True):
    """What the chain and signature checks found out about the file; the verification report
    (`projections.audit_replay.VerifyReport`) adds the replay's figures to it."""

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


CHAIN, REPLAY = 0, 1  # which part of the pass found a problem (the chain's come first)
_PASS, _FINISH = 0, 1  # found reading a line, or at the end of the file
# A problem with the key that places it in the order one sequential pass reports them.
Finding = tuple[tuple[int, int, int], Problem]


class Findings:
    """The problems one part of the pass found, in the order found, each with a sort key that
    places it in the order one sequential pass over the file reports them."""

    def __init__(self, part: int) -> None:
        self.part = part
        self.line_number = 0
        self.stage = _PASS
        self.count = 0
        self.first_bad_position: int | None = None
        self.listed: list[Finding] = []

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

    def finishing(self) -> None:
        """What is found from now on is found at the end of the file."""
        self.stage = _FINISH


class ChainResult(msgspec.Struct, kw_only=True):
    """What the chain check hands over (from a child process, as msgpack)."""

    report: ChainReport
    count: int
    first_bad_position: int | None
    listed: list[Finding]
    header: Header | None
    line_number: int


class ChainCheck:
    """Steps 1 and 2: the file's structure, the hash chain and the checkpoint signatures."""

    def __init__(self, public_keys: Sequence[str], *, trust_embedded_key: bool = False) -> None:
        self.findings = Findings(CHAIN)
        self.trust_embedded_key = trust_embedded_key
        self.problem = self.findings.problem
        self.report = ChainReport(ok=False)
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
            self.start(NO_HEADER)
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
            event_digest(line.cluster_id, line.version, line.topic, event_state(line)),
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

    def finish(self) -> ChainResult:
        self.findings.finishing()
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
        return ChainResult(
            report=report, count=findings.count, first_bad_position=findings.first_bad_position,
            listed=findings.listed, header=self.header, line_number=findings.line_number,
        )

    def last_position_or_none(self) -> int | None:
        anchor = self.header.anchor.position if self.header else 0
        return self.last_position if self.last_position > anchor else None


def event_state(line: EventLine) -> bytes:
    payload: bytes = line.payload  # type: ignore[assignment]  # a buffer: no copy is made
    if len(payload):
        return payload
    if line.payload_b64 is not None:
        return base64.b64decode(line.payload_b64)
    return b""


# A file without a header is read as a whole log with no anchor.
NO_HEADER = Header(
    format=FORMAT, exported_at=datetime(1970, 1, 1, tzinfo=UTC), after=0, to=0,
    anchor=Anchor(position=0, hash=GENESIS.hex()),
)


def decoded(decode: Callable[[bytes], Any], raw: bytes) -> tuple[Any, Exception | None]:
    """One line decoded, or None and why it could not be (each part reports that its way)."""
    try:
        return decode(raw), None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, exc


def scan(lines: Iterable[bytes], parts: Sequence[Any], progress: Progress | None) -> int:
    """Decode each line once and hand it to each part of the pass; the number of lines."""
    decode = LINE_DECODER.decode
    number = 0
    for raw in lines:
        number += 1
        if progress is not None:
            progress.advance(len(raw))
        if not raw or raw.isspace():
            continue
        line, error = decoded(decode, raw)
        for part in parts:
            part.findings.line_number = number
            part.line(line, error)
    for part in parts:
        part.findings.line_number = number
    return number


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    # The pass makes no reference cycles (measured: none per event); the cyclic collector would
    # only rescan the growing set of case states again and again, costing a fifth of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def verdict(report: ChainReport, problem_count: int) -> Result:
    """What the checks showed: problems first; then whether anything was signed at all (a
    pinned key proves nothing without a signature); then whether the key was pinned."""
    if problem_count:
        return "failed"
    if not report.checkpoints_verified:
        return "unsigned"
    if report.key_source == KEY_EMBEDDED:
        return "unpinned"
    return "ok"


def read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=1 << 20) as handle:
        yield from handle
