"""What the director tells the world: the log, the monitor file, mail alerts, the state file
that ``status`` reads, and the fallback command."""
