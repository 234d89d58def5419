"""The audit trail an outside auditor can check without trusting the server.

- `format`: the NDJSON export format (header, events, signed checkpoints, end line);
- `signing`: Ed25519 checkpoints over (position, chain hash, time);
- `checkpoints`: storing and creating checkpoints in PostgreSQL;
- `checkpointer`: the API process signs due checkpoints in the background;
- `export`: streaming the log out (CLI file, HTTP stream) in constant memory;
- `verify`: offline checks of an export's lines: the hash chain and the checkpoints' signatures.

The replay of an export and the status and funding summary rebuilt with the read side's own
folds live above infra, in `projections.audit_replay`; the report as text is the CLI's
(`api.cli.verify_report`). The auditor's walkthrough is the README's "Auditing" section.
"""
