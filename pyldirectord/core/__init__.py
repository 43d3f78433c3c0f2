"""The pure core: every decision about the IPVS table, with no I/O and no clock of its own.

Health per (virtual, real), the desired table, the diff against the kernel's table, and the
log lines and alert events that describe it. Nothing here imports the kernel edge, the runtime
or the command line; time comes in as an argument.
"""
