"""Server-rendered pages: the session (sign-in), templates, downloads and the pages."""
