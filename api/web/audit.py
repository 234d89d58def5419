"""For auditors (`/audit`): the head of the event log, the latest signed checkpoint and the
fingerprint of the key that signed it, and how to take and verify an export. Readers of the
whole log (auditor, province or administrator with the province's jurisdiction, as for
`GET /api/audit/events`) can download the export and the checkpoint public key here too.
"""

from __future__ import annotations

import base64
from typing import Any

from litestar import Response, get
from litestar.response import Stream

from api.routes.audit import check_may_read_log
from api.web.downloads import TypedStream
from api.web.page import PageRequest, open_page, render
from domain.errors import NotAllowed
from infra.audit.checkpointer import signer_of
from infra.audit.export import plan_range_async, stream_export
from infra.audit.format import MEDIA_TYPE
from infra.audit.signing import Checkpoint
from projections.positions import HEAD_SQL


@get("/audit", name="audit", include_in_schema=False)
async def audit_page(request: PageRequest) -> Any:
    """The log head, the latest signed checkpoint and how to verify an export."""
    page = await open_page(request)
    runtime = page.runtime
    signer = await signer_of(runtime)
    async with runtime.pool.acquire() as conn:
        head = await conn.fetchval(HEAD_SQL)
        row = await conn.fetchrow(
            "SELECT position, hash, created_at, signature, key_fingerprint "
            "FROM audit_checkpoints ORDER BY position DESC LIMIT 1"
        )
    latest = None if row is None else Checkpoint(
        position=row["position"], hash=bytes(row["hash"]).hex(), created_at=row["created_at"],
        signature=base64.b64encode(bytes(row["signature"])).decode("ascii"),
        key_fingerprint=row["key_fingerprint"],
    )
    may_export = True
    try:
        check_may_read_log(page.actor, runtime.ledger.services.regions)
    except NotAllowed:  # the page still shows the head and the checkpoint
        may_export = False
    return render(
        page, "audit.html", head=head, latest=latest, fingerprint=signer.fingerprint,
        may_export=may_export,
    )


@get("/audit/checkpoint-key.pem", name="audit_key", include_in_schema=False)
async def checkpoint_key(request: PageRequest) -> Response[str]:
    """The public key that verifies the checkpoints (hand it over out of band too)."""
    signer = await signer_of((await open_page(request)).runtime)
    return Response(
        signer.public_pem, media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="checkpoint.pub.pem"'},
    )


@get("/audit/export.ndjson", name="audit_export", include_in_schema=False)
async def export_log(request: PageRequest) -> Stream:
    """The whole log as `cluster-ledger export` writes it, for a reader of the whole log."""
    page = await open_page(request)
    runtime = page.runtime
    check_may_read_log(page.actor, runtime.ledger.services.regions)
    signer = await signer_of(runtime)
    async with runtime.pool.acquire() as conn:
        export_range = await plan_range_async(conn, 0, None, None)
    return TypedStream(
        stream_export(runtime.pool, export_range, signer.public_pem, signer.fingerprint),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="ledger-{page.today}.ndjson"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [audit_page, checkpoint_key, export_log]
