"""What every measurement gets: the bench database, the generated data set, the figures so far."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from bench.benchdb import BenchDatabase
from bench.generate import GenerationResult, open_ledger
from bench.rounds import summarise
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
        # Rounds (`bench.rounds`): while `round` is set, `add` keeps each figure as that round's
        # sample; `finish_rounds` turns the samples into one figure each.
        self.round: int | None = None
        self.samples: dict[str, dict[int, Figure]] = {}
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

    @property
    def command_date(self) -> date:
        """The effective date of the bench's commands (major changes): after every generated
        case's history (which runs to the horizon year), so that each command comes in the
        usual order, as today's commands do on a live ledger. A back-dated one (effective before
        later events of its case) makes the bitemporal view refold the case's later timeline:
        another cost, not the one the command figures are about."""
        return date(self.generation.horizon_year + 1, 6, 1)

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
        """Record a figure; its ratio to its ceiling is computed when both are measured. In a
        round, the figure is that round's sample, compared with the ceiling's sample of the same
        round (or with a ceiling measured once, outside the rounds)."""
        if self.round is not None and figure.available:
            self.samples.setdefault(figure.key, {})[self.round] = figure
            same_round = self._ceiling_in_round(figure.ceiling, self.round)
            if figure.ratio is None and same_round and figure.value is not None:
                figure.ratio = figure.value / same_round
            self.figures[figure.key] = figure
            return figure
        ceiling = self.figures.get(figure.ceiling or "")
        if (
            figure.ratio is None and ceiling is not None and ceiling.value
            and figure.value is not None
        ):
            figure.ratio = figure.value / ceiling.value
        self.figures[figure.key] = figure
        return figure

    def _ceiling_in_round(self, key: str | None, round_: int) -> float | None:
        if not key:
            return None
        if key in self.samples:
            sample = self.samples[key].get(round_)
            return sample.value if sample is not None else None
        once = self.figures.get(key)
        return once.value if once is not None else None

    def finish_rounds(self) -> None:
        """Each figure measured in rounds becomes one: the median of its rounds and their spread,
        its ratios to the ceiling round by round (rounds where both were measured), and its
        targets judged on the median of those (`bench.rounds.summarise`)."""
        self.round = None
        for key, by_round in self.samples.items():
            numbers = sorted(r for r, f in by_round.items() if f.value is not None)
            if not numbers:
                continue
            last = by_round[numbers[-1]]
            values = [by_round[r].value or 0.0 for r in numbers]
            paired = [r for r in numbers if self._ceiling_in_round(last.ceiling, r)]
            ceilings = ([self._ceiling_in_round(last.ceiling, r) or 0.0 for r in paired]
                        if last.ceiling and paired else None)
            judged = summarise(
                [by_round[r].value or 0.0 for r in paired] if ceilings else values,
                p50s=[by_round[r].p50_ms for r in (paired if ceilings else numbers)],
                p99s=[by_round[r].p99_ms for r in (paired if ceilings else numbers)],
                ceilings=ceilings, targets=last.targets,
            )
            whole = summarise(values, p50s=[by_round[r].p50_ms for r in numbers],
                              p99s=[by_round[r].p99_ms for r in numbers])
            counts = [by_round[r].count for r in numbers]
            seconds = [by_round[r].seconds for r in numbers]
            merged = Figure(
                key=key, section=last.section, label=last.label, unit=last.unit,
                value=whole.value.median, low=whole.value.low, high=whole.value.high,
                rounds=values, p50_ms=whole.p50_ms,
                p99_ms=whole.p99_ms.median if whole.p99_ms else None,
                p99_low=whole.p99_ms.low if whole.p99_ms else None,
                p99_high=whole.p99_ms.high if whole.p99_ms else None,
                count=sum(c for c in counts if c is not None) if any(counts) else None,
                seconds=sum(x for x in seconds if x is not None) if any(seconds) else None,
                ceiling=last.ceiling, target=last.target, note=last.note, targets=last.targets,
                ratio=judged.ratio.median if judged.ratio else None,
                ratio_low=judged.ratio.low if judged.ratio else None,
                ratio_high=judged.ratio.high if judged.ratio else None,
                ratio_rounds=judged.ratios or None, verdicts=judged.verdicts,
                met=judged.met if last.targets else None,
                straddles=judged.straddles if last.targets else None,
            )
            self.figures[key] = merged

    def unavailable(self, key: str, section: str, label: str, reason: str) -> Figure:
        return self.add(Figure(key=key, section=section, label=label, available=False,
                               note=f"not available: {reason}"))

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
