"""Health checks, one module per check type (installed as ``pyldirectord.checks``)."""
