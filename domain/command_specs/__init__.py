"""The command declarations of each stage (`domain.commands`), until each joins the stage module
of the aggregate it belongs to."""
