"""The audit hash chain over the whole event log, in commit (notification) order.

entry_hash(n) = sha256(entry_hash(n-1) || position(n) as 8 bytes || event_digest(n))
event_digest  = sha256(originator_id (16 bytes) || version (8 bytes) || len(topic) (4 bytes) ||
                       topic (UTF-8) || state (the stored bytes))

Pure functions, shared by the recorder that writes the chain and by the offline verifier.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def event_digest(originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    topic_bytes = topic.encode("utf-8")
    digest = hashlib.sha256()
    digest.update(originator_id.bytes)
    digest.update(version.to_bytes(8, "big", signed=True))
    digest.update(len(topic_bytes).to_bytes(4, "big"))
    digest.update(topic_bytes)
    digest.update(state)
    return digest.digest()


def entry_hash(previous: bytes, position: int, digest: bytes) -> bytes:
    return hashlib.sha256(previous + position.to_bytes(8, "big", signed=True) + digest).digest()
