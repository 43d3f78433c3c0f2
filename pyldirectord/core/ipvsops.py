"""The kernel's vocabulary: operations on the IPVS table and the wording of their failures.

Pure data. The operations print as the ipvsadm command that would do the same, for logs,
tests and ``--plan``; the errors are one line an operator can act on. The reconciler makes
operations, the netlink adapter (``kernel/ipvs.py``) carries them out and raises these errors,
and the director reads them, without importing the adapter or its netlink library.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass

from pyldirectord.core.table import Dest, DestKey, Service, ServiceKey

# --------------------------------------------------------------------------- operations


@dataclass(frozen=True, slots=True)
class AddService:
    service: Service

    def __str__(self) -> str:
        return f"-A {self.service.ipvsadm_args()}"


@dataclass(frozen=True, slots=True)
class EditService:
    """Replace every setting of an existing service (`ipvsadm -E`); its reals stay."""

    service: Service

    def __str__(self) -> str:
        return f"-E {self.service.ipvsadm_args()}"


@dataclass(frozen=True, slots=True)
class DeleteService:
    """Remove a service and, with it, all its reals (`ipvsadm -D`)."""

    key: ServiceKey

    def __str__(self) -> str:
        return f"-D {self.key}"


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: Dest

    def __str__(self) -> str:
        return f"-a {self.service} {self.dest.ipvsadm_args()}"


@dataclass(frozen=True, slots=True)
class EditDest:
    """Change a live real in place (`ipvsadm -e`): its connections are kept."""

    service: ServiceKey
    dest: Dest

    def __str__(self) -> str:
        return f"-e {self.service} {self.dest.ipvsadm_args()}"


@dataclass(frozen=True, slots=True)
class DeleteDest:
    service: ServiceKey
    dest: DestKey

    def __str__(self) -> str:
        return f"-d {self.service} -r {self.dest}"


Op = AddService | EditService | DeleteService | AddDest | EditDest | DeleteDest


# --------------------------------------------------------------------------- failures


class IpvsError(Exception):
    """A one-line, operator-readable IPVS failure."""


class IpvsUnavailable(IpvsError):
    """IPVS cannot be used at all: module not loaded, or not allowed."""


@dataclass(frozen=True, slots=True)
class Failure:
    op: Op
    errno: int

    @property
    def is_race(self) -> bool:
        """The table changed behind our back: re-read and diff again."""
        return is_race(self.op, self.errno)

    def __str__(self) -> str:
        return f'"ipvsadm {self.op}" failed: {explain(self.op, self.errno)}'


class IpvsApplyError(IpvsError):
    """Some operations failed; every other operation of the batch was applied."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        self.failures = tuple(failures)
        causes = [f for f in self.failures if not f.is_race] or list(self.failures)
        more = len(self.failures) - 1
        super().__init__(str(causes[0]) + (f" (and {more} more failed)" if more else ""))

    @property
    def is_race(self) -> bool:
        return all(f.is_race for f in self.failures)


def is_race(op: Op, code: int) -> bool:
    """The kernel refused ``op`` because the table changed behind our back."""
    if code in (errno.EEXIST, errno.ESRCH):
        return True
    # ENOENT on a service add/edit is an unknown scheduler; on a real it is a missing real.
    return code == errno.ENOENT and not isinstance(op, AddService | EditService)


def explain(op: Op, code: int) -> str:
    """Why the kernel refused ``op`` with errno ``code``, in an operator's words."""
    if code == errno.ENOENT and isinstance(op, AddService | EditService):
        name = op.service.scheduler
        return (
            f'scheduler "{name}" is not available: no kernel module ip_vs_{name} '
            f"(check the name, or load it with `modprobe ip_vs_{name}`)"
        )
    if code == errno.ERANGE and isinstance(op, AddDest | EditDest):
        dest = op.dest
        return f"lower threshold {dest.l_threshold} is above upper threshold {dest.u_threshold}"
    if is_race(op, code):
        what = "already exists" if code == errno.EEXIST else "does not exist"
        return f"{what} (the table changed behind our back; re-read and retry)"
    return explain_errno(code)


def explain_errno(code: int) -> str:
    """An errno of the IPVS socket, with the fix when there is one."""
    if code in (errno.EPERM, errno.EACCES):
        return "permission denied: IPVS needs CAP_NET_ADMIN (run as root)"
    return f"{os.strerror(code)} (errno {errno.errorcode.get(code, code)})"


NOT_LOADED = (
    "IPVS is not available: the ip_vs kernel module is not loaded (load it with `modprobe ip_vs`)"
)
