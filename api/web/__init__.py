"""Server-rendered pages: sessions, templates, downloads."""
