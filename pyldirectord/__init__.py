"""pyldirectord: an ldirectord-compatible health-checking director for Linux Virtual Server."""

__version__ = "0.1.0"
