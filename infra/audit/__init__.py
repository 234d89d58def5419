"""The audit trail an outside auditor can check without trusting the server.

- `format`: the NDJSON export format (header, events, signed checkpoints, end line);
- `signing`: Ed25519 checkpoints over (position, chain hash, time);
- `checkpoints`: storing and creating checkpoints in PostgreSQL;
- `checkpointer`: the API process signs due checkpoints in the background;
- `export`: streaming the log out (CLI file, HTTP stream) in constant memory;
- `verify`: offline verification of an export: chain, signatures, replay, and the status and
  funding summary rebuilt with the read side's own folds (`projections.folds`, `.summary`).

The report as text is the CLI's (`api.cli.verify_report`).

The auditor's walkthrough is /work/briefs/README-audit.md.
"""
