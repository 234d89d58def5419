"""The API process signs due audit checkpoints in the background (a `LIFESPAN_MODULES` entry).

Every `POLL_SECONDS` it runs `create_due_checkpoints` in a worker thread over the ledger's own
connection pool: a checkpoint is due every `settings.checkpoint_every` chain entries, so an
active ledger is pinned within seconds of each N-th event, and an idle one costs two indexed
queries per poll. Several API processes may run it: the advisory lock serialises them and the
position is the primary key.

A database error (restart, failover) is logged and retried at the next poll; the checkpoints it
missed are still due then, so none is lost. Any other error ends the task and is logged: the
process keeps serving, `cluster-ledger checkpoint` can sign meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError

from infra.audit.checkpoints import create_due_checkpoints, signer_for
from infra.audit.signing import Checkpoint, CheckpointSigner

POLL_SECONDS = 5.0
SIGNER_KEY = "audit.checkpoint_signer"


async def signer_of(runtime: Any) -> CheckpointSigner:
    """The runtime's checkpoint signer, loaded once (reading a key file runs off the loop)."""
    signer: CheckpointSigner | None = runtime.extras.get(SIGNER_KEY)
    if signer is None:
        signer = await runtime.call(signer_for, runtime.settings)
        runtime.extras[SIGNER_KEY] = signer
    return signer


def sign_due(runtime: Any, signer: CheckpointSigner) -> list[Checkpoint]:
    with runtime.ledger.recorder.datastore.transaction(commit=True) as curs:
        return create_due_checkpoints(curs, signer, runtime.settings.checkpoint_every)


async def _poll(runtime: Any, signer: CheckpointSigner, interval: float) -> None:
    log = structlog.get_logger("audit.checkpoints")
    while True:
        await asyncio.sleep(interval)
        try:
            made = await runtime.call(sign_due, runtime, signer)
        except (psycopg.Error, PersistenceError) as exc:  # the datastore wraps psycopg's
            log.exception("checkpoint_failed", error=str(exc), retry_in_seconds=interval)
            continue
        for checkpoint in made:
            log.info("checkpoint_signed", position=checkpoint.position, hash=checkpoint.hash)


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        structlog.get_logger("audit.checkpoints").error(
            "checkpointer_stopped", exc_info=task.exception()
        )


async def start(
    runtime: Any, hooks: contextlib.AsyncExitStack, interval: float = POLL_SECONDS
) -> None:
    """Load the key (a bad key fails the start-up) and poll until the lifespan ends."""
    signer = await signer_of(runtime)
    task = asyncio.get_running_loop().create_task(
        _poll(runtime, signer, interval), name="audit-checkpointer"
    )
    task.add_done_callback(_report_end)

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    hooks.push_async_callback(stop)
