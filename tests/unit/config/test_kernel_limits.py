"""Values the kernel's IPVS cannot hold are refused at their line (issue 12, item 2).

Each case was accepted by the parser before, and then killed the daemon after `start` had
reported ready. The highest value the kernel takes still parses.
"""

from __future__ import annotations

import pytest
from config_helpers import error_of, loaded

V = "virtual=192.0.2.1:80\n"
BIG = "9" * 5000  # beyond Python's int() digit limit: must be a clean error, not a traceback


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("\treal=192.0.2.2:80 gate 2147483648\n", "weight must be in range 0..2147483647"),
        (f"\treal=192.0.2.2:80 gate {BIG}\n", "weight must be in range 0..2147483647"),
        ("\treal=192.0.2.2:80 gate 1 l:4294967296 u:1\n",
         "lower threshold must be in range 0..4294967295"),
        ("\treal=192.0.2.2:80 gate 1 u:4294967296\n",
         "upper threshold must be in range 0..4294967295"),
        (f"\treal=192.0.2.2:{BIG} gate\n",
         f"invalid port ({BIG}) for real server (could not resolve port)"),
        ("\tpersistent=4294968\n", "invalid persistent timeout"),
        (f"\tpersistent={BIG}\n", "invalid persistent timeout"),
        ("\tnetmask=999.999.999.999\n", "invalid netmask: dotted quad notation is required"),
        ("\tnetmask=255.255.255.00\n", "invalid netmask: dotted quad notation is required"),
        ("\tschedflags=nonsense\n", 'invalid sched-flags "nonsense"'),
        ("\tschedflags=flag-1,Flag-2\n", 'invalid sched-flags "Flag-2"'),
        ("\tscheduler=abcdefghijklmnop\n",
         "invalid scheduler, longer than the kernel's 15 characters"),
        (f"\tcheckport={BIG}\n", "checkport must be in range 1..65536"),
        (f"\tcheckinterval={BIG}\n", "invalid checkinterval"),
        ("\tfailurecount=2147483648\n", "invalid failure count"),
        (f"\tchecktype={BIG}\n", 'checktype must be "connect", "negotiate", "on", "off", '
                                 '"ping", "external", "external-perl" or a positive number'),
        (f"\temailalertfreq={BIG}\n", "invalid email alert frequency"),
        (f"\tfallback=192.0.2.9:{BIG}\n", "invalid port for fallback server"),
    ],
)  # fmt: skip
def test_block_values_out_of_range(block: str, message: str) -> None:
    error = error_of(V + block + "\tchecktype=connect\n")
    assert (error.line, error.message) == (2, message)


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("virtual=0\n", "invalid firewall mark: must be in range 1..4294967295"),
        ("virtual=4294967296\n", "invalid firewall mark: must be in range 1..4294967295"),
        (f"virtual={BIG}\n", "invalid firewall mark: must be in range 1..4294967295"),
        (f"virtual=192.0.2.1:{BIG}\n", "invalid address for virtual service"),
    ],
)  # fmt: skip
def test_virtual_values_out_of_range(first: str, message: str) -> None:
    error = error_of(first + "\treal=192.0.2.2 gate\n")
    assert (error.line, error.message) == (1, message)


@pytest.mark.parametrize(
    "line",
    [f"checkinterval={BIG}\n", "checktimeout=2147483648\n", f"emailalertfreq={BIG}\n",
     f"fallback=192.0.2.9:{BIG}\n"],
)  # fmt: skip
def test_global_values_out_of_range(line: str) -> None:
    assert error_of(line).line == 1


def test_the_kernels_limits_themselves_parse() -> None:
    config = loaded(
        "virtual=4294967295\n\treal=192.0.2.2:65535 gate 2147483647 l:1 u:4294967295\n"
        "\tpersistent=4294967\n\tschedflags=sh-fallback,sh-port\n\tscheduler=sh\n"
        "virtual=192.0.2.1:80\n\treal=192.0.2.3:80 gate 0\n\tnetmask=255.255.0.0\n"
        "\tpersistent=300\n\tschedflags=flag-1,flag-2,flag-3\n"
        "virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:80 gate\n\tnetmask=064\n"
        "\tpersistent=1\n"
    )  # fmt: skip
    fwmark, address, six = config.virtuals
    real = fwmark.reals[0]
    assert (fwmark.fwmark, real.weight, real.lower, real.upper) == (4294967295, 2147483647, 1,
                                                                    4294967295)  # fmt: skip
    assert fwmark.persistent == 4294967
    assert (address.netmask, address.reals[0].weight) == ("255.255.0.0", 0)
    assert six.netmask == "64"


def test_an_out_of_range_value_says_the_range_in_its_hint() -> None:
    error = error_of(V + "\treal=192.0.2.2:80 gate 1 u:99999999999\n")
    assert error.hint == "99999999999 is outside 0..4294967295"
