"""What should the table be? (Config, health of every real, kernel table) -> IpvsTable.

Pure. The rules are the reference's (spec 3.4, 3.5) stated as an end state instead of a
sequence of ipvsadm commands: an up real is present with its weight and thresholds; a real that
is down or not checked yet is present at weight 0 under ``quiescent=yes`` and absent otherwise;
the fallback is present exactly when no real of its virtual is up. With ``drain=N`` (our
extension) a real that failed under ``quiescent=no`` first stays at weight 0 while it still has
established connections, for at most N seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address

from pyldirectord.config.model import (
    Config,
    Fallback,
    Globals,
    Real,
    Virtual,
    bracketed,
    effective_drain,
    effective_fallback,
    effective_quiescent,
    virtual_id,
)
from pyldirectord.core.health import RealHealth, State, adopted
from pyldirectord.core.memo import IdentityMemo
from pyldirectord.core.table import (
    AddressKey,
    Dest,
    DestKey,
    Family,
    Forwarding,
    FwmarkKey,
    IpvsTable,
    Protocol,
    Service,
    ServiceKey,
    normal_dest,
)

HealthKey = tuple[str, str]  # (virtual id, "ip:port" of the real as configured)
NOT_CHECKED = RealHealth()


def health_key(virtual: Virtual, real: Real) -> HealthKey:
    """Health is kept per (virtual, real) and survives reloads that keep both."""
    return (virtual_id(virtual), f"{bracketed(real.host)}:{real.port}")


def service_key(virtual: Virtual) -> ServiceKey:
    family = Family.INET6 if virtual.family == 6 else Family.INET
    if virtual.fwmark is not None:
        return FwmarkKey(family, virtual.fwmark)
    assert virtual.host is not None, "an address virtual has a host"
    return AddressKey(Protocol.named(virtual.protocol), ip_address(virtual.host), virtual.port)


def ipvs_service(virtual: Virtual) -> Service:
    persistent = virtual.persistent or None  # ipvsadm has no "persistent for 0 seconds"
    return Service(
        key=service_key(virtual),
        scheduler=virtual.scheduler,
        persistent=persistent,
        # -M is passed only together with -p (spec 7.1).
        netmask=(virtual.netmask or "") if persistent else "",
        ops=virtual.ops and virtual.protocol == "udp",
        sched_flags=frozenset(virtual.schedflags.split(",")) if virtual.schedflags else frozenset(),
    )


def real_dest(real: Real, up: bool) -> Dest:
    # A quiesced real loses its thresholds: the reference quiesces with `-e ... -w 0` and no
    # -x/-y, which resets both to 0; matching it keeps the two tables identical.
    return Dest(
        key=DestKey(ip_address(real.host), real.port),
        forwarding=Forwarding.named(real.forward),
        weight=real.weight if up else 0,
        u_threshold=real.upper if up else 0,
        l_threshold=real.lower if up else 0,
    )


def fallback_dest(virtual: Virtual, fallback: Fallback) -> Dest:
    port = virtual.port if fallback.port is None else fallback.port
    key = DestKey(ip_address(fallback.host), port)
    return Dest(key, Forwarding.named(fallback.forward), weight=1)


def desired_reals(
    virtual: Virtual,
    globals_: Globals,
    health: Mapping[HealthKey, RealHealth],
    present: Mapping[DestKey, Dest],
    now: float | None = None,
) -> dict[DestKey, Dest]:
    key = service_key(virtual)
    quiescent = effective_quiescent(virtual, globals_)
    drain = effective_drain(virtual, globals_)
    dests: dict[DestKey, Dest] = {}
    any_up = False
    for real in virtual.reals:
        real_health = health.get(health_key(virtual, real), NOT_CHECKED)
        state = real_health.state
        up = state is State.UP
        dest = service_dest(virtual, key, real, up)
        live = present.get(dest.key)
        if not (up or _keep_quiesced(state, quiescent, globals_, live is not None)
                or draining(real_health, live, drain, now)):  # fmt: skip
            continue
        any_up = any_up or up
        dests.setdefault(dest.key, dest)  # a real listed twice: the first line wins
    fallback = effective_fallback(virtual, globals_)
    if fallback is not None and not any_up:
        dest = normal_dest(key, fallback_dest(virtual, fallback))
        dests.setdefault(dest.key, dest)
    return dests


# Every pass asks for the same dests again: parsing the address and building the Dest was a
# third of a 5,000-real pass.
_DESTS: IdentityMemo[Dest] = IdentityMemo(bound=200_000)


def service_dest(virtual: Virtual, key: ServiceKey, real: Real, up: bool) -> Dest:
    """``real``'s dest in ``virtual``'s service (``key``), at its weight or quiesced."""
    return _DESTS.get((virtual, real, up), lambda: normal_dest(key, real_dest(real, up)))


def _keep_quiesced(state: State, quiescent: bool, globals_: Globals, in_kernel: bool) -> bool:
    """Whether a real that is not up stays in the table at weight 0."""
    if not quiescent:
        return False
    # A real that went down and then vanished from the kernel (an operator's ipvsadm -d) is
    # put back at weight 0 only with readdquiescent=yes, as the reference does. A real never
    # checked yet is always present: the reference's start-up leaves every real at weight 0.
    return state is State.UNKNOWN or in_kernel or globals_.readdquiescent


def draining(health: RealHealth, live: Dest | None, bound: int, now: float | None) -> bool:
    """Graceful drain (``drain=N`` with quiescent=no, docs/compatibility-config.md): a real
    that went down stays in the table at weight 0 while the kernel still counts established
    connections to it, for at most ``bound`` seconds after it went down; then it is removed."""
    return (bound > 0 and now is not None and health.state is State.DOWN and live is not None
            and live.active > 0 and now - health.since < bound)  # fmt: skip


def desired_table(
    config: Config, health: Mapping[HealthKey, RealHealth], actual: IpvsTable,
    now: float | None = None,
) -> IpvsTable:
    """``now`` (the clock of ``RealHealth.since``) enables the drain; without it a failed real
    of a quiescent=no virtual is removed at once, as in the reference."""
    services = {}
    dests = {}
    for virtual in config.virtuals:
        service = ipvs_service(virtual)
        if service.key in services:
            continue  # the parser rejects duplicate virtuals; resolution may still merge two
        services[service.key] = service
        present = actual.reals(service.key)
        dests[service.key] = desired_reals(virtual, config.globals, health, present, now)
    return IpvsTable(services, dests)


def seed_health(
    config: Config, actual: IpvsTable, previous: Mapping[HealthKey, RealHealth]
) -> dict[HealthKey, RealHealth]:
    """Health for every (virtual, real) at start or reload: kept from before, else adopted
    when the kernel already gives the real a weight (a restart never drops live traffic),
    else absent (not checked yet)."""
    seeded: dict[HealthKey, RealHealth] = {}
    for virtual in config.virtuals:
        key = service_key(virtual)
        for real in virtual.reals:
            hkey = health_key(virtual, real)
            if hkey in previous:
                seeded[hkey] = previous[hkey]
                continue
            dest = normal_dest(key, real_dest(real, True)).key
            live = actual.reals(key).get(dest)
            if live is not None and live.weight > 0:
                seeded[hkey] = adopted()
    return seeded


def owned_services(*configs: Config) -> set[ServiceKey]:
    """The services these configs manage: ours to add, edit and delete, nothing else."""
    return {service_key(virtual) for config in configs for virtual in config.virtuals}
