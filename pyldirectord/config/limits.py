"""What the kernel's IPVS (over netlink) can hold, and numbers read without unbounded work.

The reference accepts any digit run and lets ipvsadm fail later, once per pass; a value the
kernel cannot hold must instead be refused at its line (docs/compatibility-config.md,
"Values the kernel cannot hold"). Python's ``int()`` refuses strings of more than 4,300
digits with a ValueError and costs quadratic time below that, so every digit run of the
config is measured before it is converted.
"""

from __future__ import annotations

U32_MAX = 0xFFFFFFFF
S32_MAX = 0x7FFFFFFF

WEIGHT_MAX = S32_MAX  # struct ip_vs_dest_user: int weight, negative refused
THRESHOLD_MAX = U32_MAX  # u_threshold, l_threshold: u32
FWMARK_MIN, FWMARK_MAX = 1, U32_MAX  # u32; 0 means "not a fwmark service" to the kernel
# IPVS_SVC_ATTR_TIMEOUT is u32 seconds, but the kernel keeps it in jiffies (seconds * HZ) in
# a u32 too, so a longer timeout silently wraps: 4294967295 s came back as 42949671 s with
# HZ=100. HZ is at most 1000, so this much holds on every kernel (49.7 days).
PERSISTENT_MAX = U32_MAX // 1000
PORT_MAX = 0xFFFF
SCHEDNAME_MAX = 15  # IP_VS_SCHEDNAME_MAXLEN is 16 bytes with the terminating NUL
# Counts and seconds (timeouts, intervals, failure counts, alert frequency): a C int, as
# every consumer of them (timers, counters) expects. Nobody waits 68 years for a check.
COUNT_MAX = S32_MAX
# ipvsadm -b names: the sh and mh schedulers call flag-1 and flag-2 by their own names.
SCHED_FLAG_NAMES = ("flag-1", "flag-2", "flag-3", "sh-fallback", "sh-port", "mh-fallback",
                    "mh-port")  # fmt: skip


def bounded_int(digits: str, maximum: int) -> int | None:
    """The value of an ASCII digit run, or None when it exceeds ``maximum``.

    Leading zeros are a number's own business (Perl compares numerically: "0080" is 80);
    the length of what is left decides before ``int()`` runs.
    """
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
