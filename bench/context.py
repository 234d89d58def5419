"""What every measurement gets: the bench database, the generated data set, the figures so far."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.benchdb import BenchDatabase
from bench.generate import GenerationResult, open_ledger
from bench.stats import Figure
from domain.case import Status
from infra.application import ClusterLedger
from infra.settings import Settings


class Context:
    def __init__(self, db: BenchDatabase, generation: GenerationResult, *, quick: bool) -> None:
        self.db = db
        self.conn = db.conn
        self.generation = generation
        self.quick = quick
        self.load_seconds = 0.5 if quick else 6.0  # each bounded load run
        self.figures: dict[str, Figure] = {}
        self.data_dir = Path(tempfile.mkdtemp(prefix="cluster-ledger-bench-"))  # keys, logs
        self.extras: dict[str, Any] = {}
        self._ledger: ClusterLedger | None = None
        self._certified: list[UUID] | None = None

    @property
    def long_case_id(self) -> UUID:
        if not self.generation.long_case_id:
            msg = "the data set has no long case"
            raise RuntimeError(msg)
        return UUID(self.generation.long_case_id)

    def ledger(self) -> ClusterLedger:
        if self._ledger is None:
            # Configured as `cluster-ledger serve` runs it (case cache included), so that its
            # verbs are the ceiling of the same code path the HTTP figures measure.
            self._ledger = open_ledger(self.conn, batching=False, env={
                "CREATE_TABLE": "no", "POSTGRES_POOL_SIZE": "4", "POSTGRES_MAX_OVERFLOW": "4",
            }, cache_size=Settings().aggregate_cache)
        return self._ledger

    def certified_clusters(self, n: int) -> list[UUID]:
        """`n` distinct generated clusters that are certified now (commands can act on them)."""
        if self._certified is None or len(self._certified) < n:
            ledger = self.ledger()
            found: list[UUID] = []
            position = 1
            while len(found) < n:
                page = ledger.recorder.select_notifications(
                    start=position, limit=500, topics=["domain.cluster:Cluster.Certified"]
                )
                if not page:
                    break
                for notification in page:
                    cid = notification.originator_id
                    if cid == self.long_case_id:
                        continue
                    if ledger.get_cluster(cid).case.status == Status.CERTIFIED:  # type: ignore[arg-type]
                        found.append(cid)  # type: ignore[arg-type]
                position = page[-1].id + 1
            if len(found) < n:
                msg = f"only {len(found)} certified clusters in the data set; {n} needed"
                raise RuntimeError(msg)
            self._certified = found
        return self._certified[:n]

    def add(self, figure: Figure) -> Figure:
        """Record a figure; its ratio to its ceiling is computed when both are measured."""
        ceiling = self.figures.get(figure.ceiling or "")
        if (
            figure.ratio is None and ceiling is not None and ceiling.value
            and figure.value is not None
        ):
            figure.ratio = figure.value / ceiling.value
        self.figures[figure.key] = figure
        return figure

    def unavailable(self, key: str, section: str, label: str, reason: str) -> Figure:
        return self.add(Figure(key=key, section=section, label=label, available=False,
                               note=f"not available: {reason}"))

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
