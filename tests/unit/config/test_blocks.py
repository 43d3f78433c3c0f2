"""virtual= blocks and their directives (spec 2.4, 2.5): forms, defaults, errors, lines."""

from __future__ import annotations

import pytest
from config_helpers import error_of, loaded, parsed

from pyldirectord.config.model import (
    Virtual,
    checkport_of,
    effective_checktimeout,
    effective_negotiatetimeout,
    service_of,
    virtual_id,
)

V = "virtual=192.0.2.1:80\n"


def only(text: str) -> Virtual:
    return loaded(text).virtuals[0]


def test_block_defaults() -> None:
    virtual = only(V + "\treal=192.0.2.2:80 gate\n")
    assert (virtual.protocol, virtual.scheduler, virtual.checktype) == ("tcp", "wrr", "negotiate")
    assert (virtual.request, virtual.receive, virtual.checkcommand) == ("/", "", "/bin/true")
    assert (virtual.httpmethod, virtual.ops, virtual.service) == ("GET", False, None)
    assert service_of(virtual) == "http" and virtual_id(virtual) == "tcp:192.0.2.1:80"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("virtual=192.0.2.1:80\n", ("tcp", "192.0.2.1", 80, None, 4)),
        ("virtual = 192.0.2.1:http trailing text\n", ("tcp", "192.0.2.1", 80, None, 4)),
        ("virtual=192.0.2.1:53\n", ("udp", "192.0.2.1", 53, None, 4)),
        ("virtual=192.0.2.1:domain\n", ("udp", "192.0.2.1", 53, None, 4)),
        ("virtual=localhost:80\n", ("tcp", "127.0.0.1", 80, None, 4)),
        ("virtual=7\n", ("fwm", None, 0, 7, 4)),
        ("virtual6=7\n", ("fwm", None, 0, 7, 6)),
        ("virtual=192.168.1.1\n", ("fwm", None, 0, 192, 4)),  # spec 8 #9
        ("virtual=4294967295\n", ("fwm", None, 0, 4294967295, 4)),
        ("virtual6=[2001:db8::1]:443\n", ("tcp", "2001:db8::1", 443, None, 6)),
        ("virtual6=localhost:80\n", ("tcp", "::1", 80, None, 6)),
    ],
)  # fmt: skip
def test_virtual_forms(text: str, expected: tuple[object, ...]) -> None:
    virtual = only(text + "\tchecktype=connect\n")
    assert (virtual.protocol, virtual.host, virtual.port, virtual.fwmark,
            virtual.family) == expected  # fmt: skip


def test_fwmark_ids_and_service() -> None:
    config = loaded("virtual=3\n\tchecktype=connect\nvirtual6=3\n\tchecktype=connect\n")
    assert [virtual_id(v) for v in config.virtuals] == ["fwm:3", "fwm6:3"]
    assert service_of(config.virtuals[0]) == "none"


def test_fwmark_from_an_address_is_kept_and_flagged() -> None:
    config = parsed("virtual=192.168.1.1\n\tchecktype=connect\n")
    assert config.virtuals[0].fwmark == 192
    assert "firewall mark 192" in config.quirks[0].message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("virtual=[2001:db8::1]:80\n", 1,
         'cannot specify an IPv6 address here. please use "virtual6" instead.'),
        ("virtual6=[2001:db8:::1]:80\n", 1, "invalid ipv6 address for virtual server"),
        ("virtual=:80\n", 1, "invalid address for virtual server"),
        ("virtual=\n", 1, "invalid address for virtual server"),
        ("virtual6=192.0.2.1:80\n\tchecktype=connect\n", 1,
         "invalid address for virtual service"),
        ("virtual=192.0.2.1:70000\n\tchecktype=connect\n", 1,
         "invalid address for virtual service"),
        ("virtual=nosuchhost:80\n\tchecktype=connect\n", 1,
         "invalid address for virtual service"),
        ("virtual=192.0.2.1:http\n\tprotocol=udp\n", 1, "invalid address for virtual service"),
    ],
)  # fmt: skip
def test_virtual_errors(text: str, line: int, message: str) -> None:
    error = error_of(text)
    assert (error.line, error.message) == (line, message)


@pytest.mark.parametrize(
    ("directive", "name", "value"),
    [
        ('request="index.html"', "request", "/index.html"),
        ('request="/a"b"', "request", '/a"b'),  # greedy: up to the last quote
        ('receive="OK" trailing', "receive", "OK"),
        ("checktype=connect", "checktype", "connect"),
        ('checktype="ping"', "checktype", "ping"),
        ("checktype=external-perl", "checktype", "external-perl"),
        ("checktype=3", "combined_connects", 3),
        ("checktype=connect2", "checktype", "combined"),
        ('checkcommand="/usr/bin/check x"', "checkcommand", "/usr/bin/check x"),
        ("checkcommand=/usr/bin/check", "checkcommand", "/usr/bin/check"),
        ("checktimeout=4", "checktimeout", 4),
        ("negotiatetimeout=20", "negotiatetimeout", 20),
        ("checkcount=2", "checkcount", 2),
        ("failurecount=3", "failurecount", 3),
        ("checkinterval=2", "checkinterval", 2),
        ("checkport=8080", "checkport", 8080),
        ('login="u"', "login", "u"),
        ('passwd="p"', "passwd", "p"),
        ('database="d"', "database", "d"),
        ('secret="s"', "secret", "s"),
        ("scheduler=wlc", "scheduler", "wlc"),
        ("scheduler=wrr2", "scheduler", "wrr"),
        ("persistent=0", "persistent", 0),
        ("persistent=600", "persistent", 600),
        ("schedflags=flag-1 x", "schedflags", "flag-1"),
        ("netmask=255.255.255.0", "netmask", "255.255.255.0"),
        ("protocol=udp", "protocol", "udp"),
        ("ops=yes", "ops", True),
        ("service=simpletcp", "service", "simpletcp"),
        ("httpmethod=head", "httpmethod", "HEAD"),
        ("virtualhost=www.example.org", "virtualhost", "www.example.org"),
        ('virtualhost="a.example" b', "virtualhost", "a.example"),
        ('virtualhost=""', "virtualhost", ""),
        ("fallbackcommand=/bin/x", "fallbackcommand", "/bin/x"),
        ("quiescent=yes", "quiescent", True),
        ("cleanstop=no", "cleanstop", False),
        ('emailalert="a@example.org"', "emailalert", "a@example.org"),
        ("emailalertfreq=0", "emailalertfreq", 0),
        ("emailalertstatus=running", "emailalertstatus", frozenset({"running"})),
        ("smtp=127.0.0.1:25", "smtp", "127.0.0.1:25"),
        ("smtp=127.0.0.1 25", "smtp", "127.0.0.1"),
        ('monitorfile="/tmp/m.log"', "monitorfile", "/tmp/m.log"),
        ('servicename="Web"', "servicename", '"Web"'),
        ("comment=tabs\tbecome spaces", "comment", "tabs    become spaces"),
    ],
)  # fmt: skip
def test_block_directive_forms(directive: str, name: str, value: object) -> None:
    assert getattr(only(V + "\t" + directive + "\n"), name) == value


def test_service_defaults_only_from_an_explicit_service_line() -> None:
    ftp = only("virtual=192.0.2.1:21\n\tservice=ftp\n")
    assert (ftp.login, ftp.passwd) == ("anonymous", "ldirectord@director")
    inferred = only("virtual=192.0.2.1:21\n\tchecktype=negotiate\n")
    assert (inferred.login, service_of(inferred)) == ("", "ftp")
    sip = only('virtual=192.0.2.1:5060\n\tlogin="me"\n\tservice=sip\n')
    assert sip.login == "me"
    assert only("virtual=192.0.2.1:5060\n\tservice=sip\n").login == "ldirectord@director"


def test_timeouts_fall_back_through_each_other() -> None:
    config = loaded("checktimeout=3\n" + V + "\tnegotiatetimeout=20\n")
    virtual = config.virtuals[0]
    assert effective_checktimeout(virtual, config.globals) == 20
    assert effective_negotiatetimeout(virtual, config.globals) == 20
    plain = loaded(V + "\tchecktype=connect\n")
    assert effective_checktimeout(plain.virtuals[0], plain.globals) == 5
    assert effective_negotiatetimeout(plain.virtuals[0], plain.globals) == 30


@pytest.mark.parametrize(
    ("directive", "message"),
    [
        ('request=""', "no request string specified"),
        ('receive=""', "invalid receive string"),
        ("checktype=http", 'checktype must be "connect", "negotiate", "on", "off", "ping", '
                           '"external", "external-perl" or a positive number'),
        ('checkcommand=""', "invalid check command"),
        ("checktimeout=0", "invalid check timeout"),
        ("negotiatetimeout=", "invalid negotiate timeout"),
        ("checkcount=0", "invalid check count"),
        ("failurecount=x", "invalid failure count"),
        ("checkinterval=0", "invalid checkinterval"),
        ("connecttimeout=3", "connecttimeout directive deprecated in favour of negotiatetimeout"),
        ("checkport=x", "invalid port"),
        ("checkport=0", "checkport must be in range 1..65536"),
        ("checkport=65536", "checkport must be in range 1..65536"),
        ('login=""', "invalid login string"),
        ('passwd=""', "invalid password"),
        ('database=""', "invalid database"),
        ('secret=""', "invalid secret"),
        ('load="-"', "invalid string for load testing"),
        ("scheduler=WLC", "invalid scheduler, should be only lowercase letters (a-z)"),
        ("persistent=x", "invalid persistent timeout"),
        ("schedflags= ", "invalid sched-flags"),
        ("netmask=24", "invalid netmask: dotted quad notation is required"),
        ("protocol=fwm", "protocol must be tcp or udp if the virtual service is an address and "
                         "port"),
        ("protocol=", "invalid protocol"),
        ("ops=1", "ops must be 'yes' or 'no'"),
        ("service=gopher", "service must be dns, ftp, http, https, http_proxy, imap, imaps, "
         "ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, "
         "smtp or submission"),
        ("httpmethod=POST", "httpmethod must be GET or HEAD"),
        ("fallback6=[::1]:80", 'cannot specify "fallback6" here.  please use "fallback" '
                               'instead'),
        ("fallback=127.0.0.1:80 nat", "forward method must be gate, masq or ipip"),
        ('fallbackcommand=""', "invalid fallback command"),
        ("quiescent=true", "quiescent must be 'yes' or 'no'"),
        ("cleanstop=", "cleanstop must be 'yes' or 'no'"),
        ("emailalert=", "no email address specified"),
        ("emailalertfreq=x", "invalid email alert frequency"),
        ("emailalertstatus=sometimes", 'invalid email alert status at: "sometimes"'),
        ('smtp="x"', "invalid SMTP server address"),
        ("real6=[2001:db8::2]:80 gate", 'cannot specify "real6" here.  please use "real" '
                                        'instead'),
        ("readdquiescent=yes", 'Unknown command "\treaddquiescent=yes\n"'),
        ("request=/x", 'Unknown command "\trequest=/x\n"'),
    ],
)  # fmt: skip
def test_block_directive_errors_at_their_line(directive: str, message: str) -> None:
    error = error_of(V + "\tchecktype=connect\n\t" + directive + "\n\tscheduler=rr\n")
    assert (error.line, error.message) == (3, message)


def test_ipv6_block_rules() -> None:
    virtual = only("virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:80 gate\n\tnetmask=64\n")
    assert virtual.netmask == "64" and virtual.reals[0].host == "2001:db8::2"
    for bad in ("netmask=0", "netmask=129", "netmask=255.255.0.0"):
        error = error_of("virtual6=[2001:db8::1]:80\n\t" + bad + "\n")
        assert error.message == "invalid netmask: a prefix length between 1 and 128 is required"
    error = error_of("virtual6=[2001:db8::1]:80\n\treal=192.0.2.2:80 gate\n")
    assert error.message == 'cannot specify "real" here.  please use "real6" instead'


def test_fwmark_protocol_rules() -> None:
    assert only("virtual=5\n\tprotocol=fwm\n").protocol == "fwm"
    error = error_of("virtual=5\n\tprotocol=tcp\n")
    assert error.message == "protocol must be fwm if the virtual service is a fwmark (a number)"


def test_checkport_derivation_for_fwmark_reals() -> None:
    virtual = only("virtual=5\n\treal=192.0.2.2 gate\n\tservice=https\n")
    assert checkport_of(virtual, virtual.reals[0]) == 443


def test_block_fallback_takes_the_virtual_port_and_protocol() -> None:
    virtual = only("virtual=192.0.2.1:domain\n\tfallback=127.0.0.1\n")
    assert virtual.fallback is not None
    assert (virtual.fallback.host, virtual.fallback.port) == ("127.0.0.1", 53)
    fwm = only("virtual=4\n\tfallback=127.0.0.1 masq\n")
    assert fwm.fallback is not None and (fwm.fallback.port, fwm.fallback.forward) == (0, "masq")


def test_block_fallback_resolution_error_is_at_the_fallback_line() -> None:
    error = error_of(V + "\tfallback=127.0.0.1:nosuch\n\tchecktype=connect\n")
    assert (error.line, error.message) == (2, "invalid port for fallback server")


def test_duplicate_virtual_is_reported_at_the_line_that_ends_the_block() -> None:
    error = error_of(V + "\tchecktype=connect\n" + "virtual=192.0.2.1:http\n\tchecktype=ping\n"
                     "\n# end\nchecktimeout=2\n")  # fmt: skip
    assert (error.line, error.message) == (5, "duplicate virtual server")


def test_a_virtual_line_ending_the_file_is_read_twice() -> None:
    error = error_of("virtual=192.0.2.1:80\n")
    assert (error.line, error.message) == (1, "duplicate virtual server")
    assert error.hint is not None
    assert len(loaded("virtual=192.0.2.1:80\n\n").virtuals) == 1


def test_checkinterval_in_a_virtual_warns_when_fork_is_off() -> None:
    config = loaded(V + "\tcheckinterval=3\n")
    assert [w.message for w in config.warnings] == [
        "checkinterval in virtual service tcp:192.0.2.1:80 ignored when fork=no"]
    assert loaded("fork=yes\n" + V + "\tcheckinterval=3\n").warnings == ()


def test_monitorfile_error_comes_at_its_line_before_the_block_resolves() -> None:
    from config_helpers import FILE, FakeLookups

    from pyldirectord.config.errors import ConfigError
    from pyldirectord.config.resolve import parse_and_resolve

    text = "virtual=192.0.2.1:nosuch\n\tmonitorfile=/nonexistent/m.log\n"
    with pytest.raises(ConfigError) as info:
        parse_and_resolve(text.encode(), FILE, lookups=FakeLookups(), hostname="h")
    assert (info.value.line, info.value.message) == (
        2, "unable to open monitorfile /nonexistent/m.log: No such file or directory")
