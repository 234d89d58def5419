"""Infrastructure: settings, PostgreSQL (embedded or external), event store, CLI."""
