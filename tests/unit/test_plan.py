"""``--plan``: the operations start would apply with every checked real up, from any table."""

from __future__ import annotations

import io
from ipaddress import ip_address
from pathlib import Path

from pyldirectord.cli.plan import main, plan_lines, planned_health
from pyldirectord.config.model import Config
from pyldirectord.config.resolve import load
from pyldirectord.core.desired import desired_table, owned_services
from pyldirectord.core.ipvsops import NOT_LOADED, AddDest, IpvsUnavailable
from pyldirectord.core.reconcile import apply, diff
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
)

CONFIG = """quiescent=yes
virtual=192.0.2.80:80
    real=198.51.100.11:80 masq 3
    real=198.51.100.12:8080 gate
    fallback=127.0.0.1:80
    service=http
    scheduler=rr
    persistent=300
    netmask=255.255.255.0
virtual=7
    real=198.51.100.13 gate
    checktype=off
"""
FULL_PLAN = [
    "ipvsadm -A -t 192.0.2.80:80 -s rr -p 300 -M 255.255.255.0  # Added virtual server: "
    "192.0.2.80:80",
    "ipvsadm -A -f 7 -s wrr  # Added virtual server: 7",
    "ipvsadm -a -t 192.0.2.80:80 -r 198.51.100.11:80 -m -w 3  # Added real server: "
    "198.51.100.11:80 (192.0.2.80:80) (Weight set to 3)",
    "ipvsadm -a -t 192.0.2.80:80 -r 198.51.100.12:80 -g -w 1  # Added real server: "
    "198.51.100.12:80 (192.0.2.80:80) (Weight set to 1)",
    # checktype=off: never brought up, so quiesced as start leaves it (quiescent=yes)
    "ipvsadm -a -f 7 -r 198.51.100.13:0 -g -w 0  # Quiescent real server: 198.51.100.13:0 (7) "
    "(Weight set to 0)",
]
FOREIGN = AddressKey(Protocol.UDP, ip_address("203.0.113.9"), 53)


def config(tmp_path: Path, text: str = CONFIG) -> Config:
    path = tmp_path / "plan.cf"
    path.write_text(f'logfile="{tmp_path}/ld.log"\n{text}')
    return load(str(path))


def foreign_table() -> IpvsTable:
    dest = Dest(DestKey(ip_address("203.0.113.10"), 53), Forwarding.MASQ, 5)
    return IpvsTable.of([(Service(FOREIGN, "wlc"), [dest])])


def test_empty_table_gives_the_full_plan(tmp_path: Path) -> None:
    assert plan_lines(config(tmp_path), IpvsTable()) == FULL_PLAN


def test_a_table_already_planned_needs_nothing_and_a_foreign_service_is_never_named(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    planned = _applied(cfg, foreign_table())
    assert plan_lines(cfg, planned) == []
    assert planned.reals(FOREIGN) == foreign_table().reals(FOREIGN)
    assert all("203.0.113" not in line for line in plan_lines(cfg, foreign_table()))
    assert len(plan_lines(cfg, foreign_table())) == len(FULL_PLAN)


def test_a_live_real_is_edited_in_place_and_a_stray_one_purged(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    key = AddressKey(Protocol.TCP, ip_address("192.0.2.80"), 80)
    service = Service(key, "rr", persistent=300, netmask="255.255.255.0")
    live = Dest(DestKey(ip_address("198.51.100.11"), 80), Forwarding.MASQ, 1)
    stray = Dest(DestKey(ip_address("198.51.100.99"), 80), Forwarding.MASQ, 1)
    lines = plan_lines(cfg, IpvsTable.of([(service, [live, stray])]))
    assert lines[:4] == [
        "ipvsadm -A -f 7 -s wrr  # Added virtual server: 7",
        "ipvsadm -d -t 192.0.2.80:80 -r 198.51.100.99:80  # Purged real server (start): "
        "198.51.100.99:80 (192.0.2.80:80)",
        "ipvsadm -e -t 192.0.2.80:80 -r 198.51.100.11:80 -m -w 3  # Restored real server: "
        "198.51.100.11:80 (192.0.2.80:80) (Weight set to 3)",
        "ipvsadm -a -t 192.0.2.80:80 -r 198.51.100.12:80 -g -w 1  # Added real server: "
        "198.51.100.12:80 (192.0.2.80:80) (Weight set to 1)",
    ]


def test_checktype_off_real_already_weighted_is_adopted_at_its_configured_weight(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    table = _applied(cfg, IpvsTable())
    fwm = FwmarkKey(Family.INET, 7)
    weighted = Dest(DestKey(ip_address("198.51.100.13"), 0), Forwarding.GATE, 4)
    table = apply([AddDest(fwm, weighted)], _without_reals(table, fwm))
    # Adopted as up (spec 3.2, quirk 46), not quiesced; its weight becomes the configured 1.
    assert plan_lines(cfg, table) == [
        "ipvsadm -e -f 7 -r 198.51.100.13:0 -g -w 1  # Restored real server: 198.51.100.13:0 "
        "(7) (Weight set to 1)"
    ]


def test_ipvs_unavailable_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "plan.cf"
    path.write_text(f'logfile="{tmp_path}/ld.log"\n{CONFIG}')

    async def unavailable() -> IpvsTable:
        raise IpvsUnavailable(NOT_LOADED)

    out, err = io.StringIO(), io.StringIO()
    assert main([str(path)], out, err, unavailable) == 1
    assert out.getvalue() == ""
    assert err.getvalue() == f"pyldirectord --plan: {NOT_LOADED}\n"


def test_nothing_to_do_is_said_and_bad_config_is_reported(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    planned = _applied(cfg, IpvsTable())

    async def read() -> IpvsTable:
        return planned

    out, err = io.StringIO(), io.StringIO()
    assert main([cfg.path], out, err, read) == 0
    assert out.getvalue() == f"# nothing to do: the kernel's table already matches {cfg.path}\n"
    bad = tmp_path / "bad.cf"
    bad.write_text("checktimeout=3\nbogus=1\n")
    out, err = io.StringIO(), io.StringIO()
    assert main([str(bad)], out, err, read) == 1
    assert err.getvalue() == f"{bad}:2: error: Unknown command bogus=1\n"


# --- helpers ----------------------------------------------------------------------------


def _applied(cfg: Config, table: IpvsTable) -> IpvsTable:
    """The table after the plan's operations, as the kernel would make it."""
    health = planned_health(cfg, table)
    return apply(diff(table, desired_table(cfg, health, table), owned_services(cfg)), table)


def _without_reals(table: IpvsTable, key: FwmarkKey) -> IpvsTable:
    return IpvsTable(
        dict(table.services),
        {k: ({} if k == key else dict(v)) for k, v in table.dests.items()},
    )
