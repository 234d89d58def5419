"""HTTP API (Litestar): commands and reads over the ledger. Built by `api.app.create_app`."""
