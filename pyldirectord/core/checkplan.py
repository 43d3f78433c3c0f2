"""From the config to what to check: one ``CheckPlan`` per monitored real (pure).

Reals with the same reference id (spec 2.10), in any number of virtuals, are one monitored
entity: one plan, checked once per interval, its result applied to every (virtual, real)
member. The check side only sees plain ``Target``/``CheckSpec`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyldirectord.checks.base import CheckSpec, Target
from pyldirectord.config.model import (
    Config,
    Globals,
    Real,
    Virtual,
    checkport_of,
    effective_checkcount,
    effective_checktimeout,
    effective_negotiatetimeout,
    real_id,
    service_of,
)


@dataclass(frozen=True, slots=True)
class Member:
    """One (virtual, real) pair that a plan's result applies to."""

    virtual: Virtual
    real: Real


@dataclass(frozen=True, slots=True)
class CheckPlan:
    key: str  # the reference's real id
    target: Target
    spec: CheckSpec  # for combined: the negotiate half
    combined_connects: int | None  # N of checktype=N, else None
    members: tuple[Member, ...]
    interval: float


def check_target(virtual: Virtual, real: Real) -> Target:
    port = checkport_of(virtual, real)
    return Target(
        ip=real.host,
        port=port or 0,  # no port at all: the connect fails, as in the reference
        virtual_ip=virtual.host or "",
        virtual_port=virtual.port,
        fwmark=virtual.fwmark,
        real_port=real.port,
    )


def check_spec(virtual: Virtual, real: Real, globals_: Globals) -> CheckSpec:
    per_real = real.request is not None
    return CheckSpec(
        checktype="negotiate" if virtual.checktype == "combined" else virtual.checktype,
        service=service_of(virtual),
        protocol=virtual.protocol,
        checktimeout=float(effective_checktimeout(virtual, globals_)),
        negotiatetimeout=float(effective_negotiatetimeout(virtual, globals_)),
        request=real.request if per_real and real.request is not None else virtual.request,
        receive=real.receive if per_real and real.receive is not None else virtual.receive,
        virtualhost=virtual.virtualhost or "",
        httpmethod=virtual.httpmethod,
        login=virtual.login,
        passwd=virtual.passwd,
        database=virtual.database,
        checkcount=effective_checkcount(virtual, globals_),
        checkcommand=virtual.checkcommand,
        per_real_request=per_real,
    )


def check_plans(config: Config) -> dict[str, CheckPlan]:
    """Every monitored real of the config, keyed by real id, in config order.

    ``checktype=off`` reals are never checked (and so never brought up), as in the reference.
    """
    plans: dict[str, CheckPlan] = {}
    for virtual in config.virtuals:
        if virtual.checktype == "off":
            continue
        for real in virtual.reals:
            key = real_id(virtual, real)
            member = Member(virtual, real)
            if key in plans:
                plans[key] = replace(plans[key], members=(*plans[key].members, member))
                continue
            plans[key] = CheckPlan(
                key=key,
                target=check_target(virtual, real),
                spec=check_spec(virtual, real, config.globals),
                combined_connects=(
                    virtual.combined_connects if virtual.checktype == "combined" else None
                ),
                members=(member,),
                interval=float(interval_of(virtual, config.globals)),
            )
    return plans


def bound_of(plan: CheckPlan) -> float:
    """The longest one check of this plan may take: its timeout, times the ping attempts."""
    spec = plan.spec
    timeout = spec.checktimeout
    if spec.checktype == "negotiate":
        timeout = max(timeout, spec.negotiatetimeout)
    return timeout * max(1, spec.checkcount)


def interval_of(virtual: Virtual, globals_: Globals) -> int:
    # As the reference: a per-virtual checkinterval counts only with fork=yes (else warned).
    if globals_.fork and virtual.checkinterval:
        return virtual.checkinterval
    return globals_.checkinterval
