"""ldirectord.cf: model, parser and name resolution."""
