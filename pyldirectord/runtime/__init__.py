"""The running daemon's glue: the director, its scheduler and prober, the event loop and the
files it watches (maintenance directory, configuration)."""
