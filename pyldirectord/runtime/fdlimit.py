"""Open-file limit: checks never fail for the director's own lack of descriptors.

Each check in flight holds descriptors (a socket; an external check a few more while its
process starts), so under a low ``RLIMIT_NOFILE`` a big farm's checks failed with "Too many
open files" and healthy reals went DOWN (52 of 300 reals under ``ulimit -n 256``). The
director therefore, before it reports ready:

1. raises its soft limit, up to the hard limit, as far as its checks in flight need;
2. bounds how many checks run at once by what the limit leaves after a reserve for its own
   files (log, pid and lock files, netlink and inotify sockets, the state file, mail), so a
   check waits for a slot instead of failing: a slower round, never a false DOWN;
3. refuses to start, with a message saying what to raise, only when not even a handful of
   checks fit.

The need is counted for the director's concurrency bound, not for one config's reals, so a
reload that adds reals or external checks never runs short. The arithmetic is pure
(``plan_limits``); ``prepare`` reads and sets the process's limit.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

# Descriptors the director keeps for itself, beside its checks.
RESERVE = 64
# Descriptors one check holds at most while it runs: a socket; an external check's child
# process briefly needs /dev/null, an exec-status pipe (2) and a pidfd.
FDS_PER_CHECK = 4
# Below this many checks at once the director would crawl: refuse instead.
MIN_CONCURRENCY = 4


class FdLimitError(Exception):
    """The hard limit leaves too few descriptors to run checks; the text says what to do."""


@dataclass(frozen=True, slots=True)
class Limits:
    soft: int  # the soft limit to set (never above the hard one)
    concurrency: int  # checks in flight at most
    short: bool  # the hard limit capped the concurrency below what was wanted


def plan_limits(soft: int, hard: int, wanted: int) -> Limits:
    """The soft limit to set and the checks to run at once, ``wanted`` at most (pure).

    Either limit may be ``resource.RLIM_INFINITY``.
    """
    if soft == resource.RLIM_INFINITY:
        return Limits(soft, wanted, False)
    needed = RESERVE + wanted * FDS_PER_CHECK
    ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    new_soft = max(soft, ceiling)
    fits = (new_soft - RESERVE) // FDS_PER_CHECK
    if fits < MIN_CONCURRENCY:
        raise FdLimitError(
            f"the open files limit is too low: the hard limit (ulimit -Hn) is {hard}, and "
            f"checks need at least {RESERVE + MIN_CONCURRENCY * FDS_PER_CHECK}; raise it "
            "(LimitNOFILE= in the systemd unit, or ulimit -n before start)"
        )
    concurrency = min(wanted, fits)
    return Limits(new_soft, concurrency, concurrency < wanted)


def prepare(wanted: int) -> Limits:
    """Raise this process's soft limit for ``wanted`` checks at once; say how many fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = plan_limits(soft, hard, wanted)
    if limits.soft != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.soft, hard))
    return limits


def short_warning(limits: Limits) -> str:
    """The log line when the limit caps concurrency (checks queue, none fails for it)."""
    return (
        f"Open files limit {limits.soft} allows {limits.concurrency} checks at once; the "
        "others wait for a slot (raise ulimit -Hn / LimitNOFILE= for more)"
    )
