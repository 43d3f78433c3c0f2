"""The kernel edge: the only code that speaks netlink to IPVS."""
