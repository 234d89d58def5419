"""Infrastructure: settings, PostgreSQL (embedded or external), event store, adapters."""
