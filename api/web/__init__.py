"""Server-rendered pages: the session (sign-in), templates, and the pages themselves."""
