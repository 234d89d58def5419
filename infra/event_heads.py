"""Cases' event heads kept in memory for state-at-date look-ups (LRU, bounded by heads held).

A reconstruction at a date needs every event's head (type, version, log position, effective
date, recording time: what the answer lists and what the filters test), but the full state only
of the events it folds. Reading and decoding a thousand heads costs more than the fold itself,
and stored events never change once written: a case's heads up to a version stay true for good.
So the API process keeps them, and each look-up reads only the events recorded since the last
cached version (usually none: one indexed probe). Nothing that can change is taken from here:
the snapshot and the states to fold are read on every look-up.

The county the case was applied in (what `authorise` checks) comes from the first event and is
as immutable as the heads. The bound is the number of heads held, not of cases, because one
case may hold a thousand events and another ten; the least recently used cases go first, and a
case larger than the whole bound is not kept.

One cache serves the event loop and the worker threads: every method holds the lock; the
entries themselves are frozen and are replaced, never changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

import msgspec

from domain.history import EventRef


class CaseHeads(msgspec.Struct, frozen=True, kw_only=True):
    """A case's event heads for versions 1 .. len(refs), and the county it was applied in."""

    county_code: str
    refs: tuple[EventRef, ...]

    @property
    def last_version(self) -> int:
        return self.refs[-1].version if self.refs else 0


class HeadCache:
    """LRU of `CaseHeads` by case id holding at most `max_heads` event heads in all."""

    def __init__(self, max_heads: int) -> None:
        self.max_heads = max(0, max_heads)
        self._cases: OrderedDict[UUID, CaseHeads] = OrderedDict()
        self._heads = 0
        self._lock = threading.Lock()

    def get(self, cluster_id: UUID) -> CaseHeads | None:
        with self._lock:
            heads = self._cases.get(cluster_id)
            if heads is not None:
                self._cases.move_to_end(cluster_id)
            return heads

    def put(self, cluster_id: UUID, heads: CaseHeads) -> None:
        """Keep `heads` unless the cache already holds as many of that case's (a concurrent
        look-up that read further); evict the least recently used cases beyond the bound."""
        size = len(heads.refs)
        if size > self.max_heads:
            return
        with self._lock:
            held = self._cases.get(cluster_id)
            if held is not None:
                if len(held.refs) >= size:
                    self._cases.move_to_end(cluster_id)
                    return
                self._heads -= len(held.refs)
            self._cases[cluster_id] = heads
            self._cases.move_to_end(cluster_id)
            self._heads += size
            while self._heads > self.max_heads:
                _, evicted = self._cases.popitem(last=False)
                self._heads -= len(evicted.refs)

    @property
    def heads(self) -> int:
        """Event heads held now (all cases)."""
        with self._lock:
            return self._heads

    def __len__(self) -> int:
        with self._lock:
            return len(self._cases)

    def __contains__(self, cluster_id: object) -> bool:
        with self._lock:
            return cluster_id in self._cases
