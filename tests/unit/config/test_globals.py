"""Global directives (spec 2.3): accepted forms, defaults, error texts and lines."""

from __future__ import annotations

import pytest
from config_helpers import error_of, loaded, parsed

from pyldirectord.config.model import DEFAULT_LOGFILE, EMAIL_STATUSES


def test_defaults_are_the_code_defaults_not_the_pod() -> None:
    globals_ = parsed("").globals
    assert globals_.quiescent is False  # the POD says yes
    assert (globals_.checkinterval, globals_.checktimeout, globals_.negotiatetimeout) == (
        10, None, None)  # fmt: skip
    assert globals_.logfile == DEFAULT_LOGFILE and globals_.cleanstop is True
    assert globals_.emailalertstatus == EMAIL_STATUSES and globals_.emailalertfreq == 0
    assert not globals_.autoreload and not globals_.fork and not globals_.supervised


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("checktimeout=3\n", "checktimeout", 3),
        ("checktimeout = 7s # long\n", "checktimeout", 7),
        ("negotiatetimeout=x20\n", "negotiatetimeout", 20),
        ("checkinterval=5\n", "checkinterval", 5),
        ("checkinterval=00\n", "checkinterval", 0),  # "00" is true in Perl
        ("failurecount=3\n", "failurecount", 3),
        ("checkcount=2\n", "checkcount", 2),
        ("autoreload=yes\n", "autoreload", True),
        ("fork=no\n", "fork", False),
        ("supervised=yes\n", "supervised", True),
        ("supervised\n", "supervised", True),
        ("quiescent=yes\n", "quiescent", True),
        ("readdquiescent=yes\n", "readdquiescent", True),
        ("cleanstop=no\n", "cleanstop", False),
        ('callback="/usr/local/bin/cb"\n', "callback", "/usr/local/bin/cb"),
        ('logfile="local0"\n', "logfile", "local0"),
        ('fallbackcommand="/bin/x start"\n', "fallbackcommand", '"/bin/x start"'),
        ('emailalert="a@example.org"\n', "emailalert", "a@example.org"),
        ('emailalert="a@example.org" \n', "emailalert", '"a@example.org" '),
        ("emailalert=a@example.org, b@example.org\n", "emailalert",
         "a@example.org, b@example.org"),
        ("emailalertfreq=0\n", "emailalertfreq", 0),
        ("emailalertfreq = 60x\n", "emailalertfreq", 60),
        ('emailalertfrom="x" <x@example.org>\n', "emailalertfrom", '"x" <x@example.org>'),
        ("smtp=mail.example.org:2525\n", "smtp", "mail.example.org:2525"),
        ("smtp=mail.example.org:x\n", "smtp", "mail.example.org"),
        ("maintenancedir=/srv/maint\n", "maintenancedir", "/srv/maint"),
    ],
)  # fmt: skip
def test_accepted_global_forms(text: str, name: str, value: object) -> None:
    assert getattr(parsed(text).globals, name) == value


def test_emailalertstatus_lists() -> None:
    assert parsed("emailalertstatus=starting, running\n").globals.emailalertstatus == {
        "starting", "running"}  # fmt: skip
    assert parsed("emailalertstatus=none\n").globals.emailalertstatus == frozenset()
    assert parsed("emailalertstatus=\n").globals.emailalertstatus == frozenset()
    assert parsed("emailalertstatus=all\n").globals.emailalertstatus == EMAIL_STATUSES


def test_execute_accumulates_once_each() -> None:
    config = parsed('execute="a.cf"\nexecute=b.cf\nexecute="a.cf"\n')
    assert config.globals.execute == ('"a.cf"', "b.cf")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("\nchecktimeout=0\n", 2, "invalid check timeout value"),
        ("checktimeout=00\n", 1, "invalid check timeout value"),
        ("negotiatetimeout=x\n", 1, "invalid negotiate timeout value"),
        ("checkinterval=0\n", 1, "invalid check interval value"),
        ("checkcount=\n", 1, "invalid check count value"),
        ("failurecount=none\n", 1, "invalid failure count value"),
        ("connecttimeout=5\n", 1,
         "connecttimeout directive deprecated in favour of negotiatetimeout"),
        ("timeout=5\n", 1,
         "timeout directive deprecated in favour of checktimeout and negotiatetimeout"),
        ("fallbackcommand=\n", 1, "invalid fallback command"),
        ("autoreload=Yes\n", 1, "autoreload must be 'yes' or 'no'"),
        ("fork=1\n", 1, "fork must be 'yes' or 'no'"),
        ("supervised=1\n", 1, "supervised must be 'yes' or 'no'"),
        ("supervisedx=yes\n", 1, "supervised must be 'yes' or 'no'"),
        ("quiescent=yes \n", 1, "quiescent must be 'yes' or 'no'"),
        ("readdquiescent=\n", 1, "readdquiescent must be 'yes' or 'no'"),
        ("cleanstop=n\n", 1, "cleanstop must be 'yes' or 'no'"),
        ('emailalert=""\n', 1, "no email address specified"),
        ("emailalertfreq=x\n", 1, "invalid email alert frequency"),
        ("emailalertstatus=bogus\n", 1, 'invalid email alert status at: "bogus"'),
        ("emailalertstatus=,all\n", 1, 'invalid email alert status at: ""'),
        ("emailalertstatus=none,running\n", 1,
         'invalid email alert status: "running" specified with "none"'),
        ("emailalertfrom=\n", 1, "no email from address specified"),
        ('smtp="mail"\n', 1, "invalid SMTP server address"),
        ("maintenancedir=\n", 1, "maintenance directory not specified"),
        ("callback=/bin/cb\n", 1, "Unknown command callback=/bin/cb\n "),
        ("logfile=/var/log/x\n", 1, "Unknown command logfile=/var/log/x\n "),
        ("readdquiescent=yes\nvirtualhost=x\n", 2, "Unknown command virtualhost=x\n "),
        ("checkinterval=5\r\nquiescent=no\r\n", 2, "quiescent must be 'yes' or 'no'"),
    ],
)  # fmt: skip
def test_global_errors(text: str, line: int, message: str) -> None:
    error = error_of(text)
    assert (error.line, error.message) == (line, message)


def test_checkcount_and_bare_supervised_warn_like_the_reference() -> None:
    config = parsed("checkcount=2\nsupervised\n")
    assert [(w.line, w.message) for w in config.warnings] == [
        (1, "checkcount option is deprecated and slated for removal.  please see "
            "'failurecount'"),
        (2, "please update your config not to use a bare supervised directive"),
    ]  # fmt: skip


def test_logfile_is_probed_unless_supervised_came_first() -> None:
    assert [p.kind for p in parsed('logfile="/tmp/x.log"\n').file_probes] == ["logfile"]
    assert parsed('supervised=yes\nlogfile="/tmp/x.log"\n').file_probes == ()
    assert parsed('logfile="daemon"\n').file_probes == ()  # a syslog facility


def test_logfile_that_cannot_be_opened_is_an_error_at_its_line() -> None:
    from config_helpers import FILE, FakeLookups

    from pyldirectord.config.errors import ConfigError
    from pyldirectord.config.resolve import parse_and_resolve

    with pytest.raises(ConfigError) as info:
        parse_and_resolve(b'checkinterval=3\nlogfile="/nonexistent/dir/x.log"\n', FILE,
                          lookups=FakeLookups(), hostname="h")  # fmt: skip
    assert (info.value.line, info.value.message) == (
        2, "unable to open logfile: /nonexistent/dir/x.log")  # fmt: skip


def test_global_fallbacks() -> None:
    config = loaded("fallback=127.0.0.1:80 masq\nfallback6=[::1]:https\n")
    assert config.globals.fallback is not None and config.globals.fallback6 is not None
    assert (config.globals.fallback.host, config.globals.fallback.port) == ("127.0.0.1", 80)
    assert config.globals.fallback.forward == "masq"
    assert (config.globals.fallback6.host, config.globals.fallback6.port) == ("::1", 443)


def test_global_fallback_without_port_takes_the_virtuals_at_use_time() -> None:
    fallback = loaded("fallback=localhost\n").globals.fallback
    assert fallback is not None and (fallback.host, fallback.port) == ("127.0.0.1", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fallback=127.0.0.1:80 route\n", "forward method must be gate, masq or ipip"),
        ("fallback=nosuchhost:80\n",
         "invalid IPv4 address or could not resolve for fallback server: nosuchhost"),
        ("fallback6=[nosuch]:80\n",
         "invalid IPv6 address or could not resolve for fallback server: [nosuch]"),
        ("fallback=127.0.0.1:70000\n", "invalid port for fallback server"),
        ("fallback=127.0.0.1:mysql\n", "invalid port for fallback server"),  # no udp entry
    ],
)  # fmt: skip
def test_global_fallback_errors(text: str, message: str) -> None:
    error = error_of("checkinterval=1\n" + text)
    assert (error.line, error.message) == (2, message)


def test_global_fallback_last_two_tokens_and_perl_false_forward() -> None:
    fallback = loaded("fallback=ignored 127.0.0.1:80 0\n").globals.fallback
    assert fallback is not None and (fallback.host, fallback.forward) == ("127.0.0.1", "gate")


def test_logfile_facility_names() -> None:
    assert parsed('logfile="local3"\n').quirks == ()
    (quirk,) = parsed('logfile="syslogd"\n').quirks
    assert quirk.message == 'logfile="syslogd" is neither a path nor a syslog facility'


def test_reference_texts_of_errors_and_warnings() -> None:
    from pyldirectord.config.errors import ConfigError, reference_warning_text

    error = error_of("bogus\n")
    assert error.reference_text(42) == (
        "Error [42] reading file test.cf at line 1: Unknown command bogus\n \n")
    assert ConfigError("x.cf", 0, "can not open file x.cf").reference_text(7) == (
        "Error [7]: can not open file x.cf\n")
    block = error_of("virtual=192.0.2.1:80\n\tbogus\n")
    assert block.reference_text(1) == (
        'Error [1] reading file test.cf at line 2: Unknown command "\tbogus\n"\n')
    (warning,) = parsed("checkcount=2\n").warnings
    assert reference_warning_text(warning, 9) == (
        "Warning [9] reading file test.cf at line 1: checkcount option is deprecated and "
        "slated for removal.  please see 'failurecount'\n")


def test_smtp_port_is_kept_and_warned_as_an_extension() -> None:
    """decisions.md: a port in ``smtp=`` is used (the reference drops it, spec 8 #17)."""
    assert parsed("smtp=127.0.0.1\n").quirks == ()
    config = parsed("smtp=127.0.0.1:2525\n")
    assert config.globals.smtp == "127.0.0.1:2525"
    (quirk,) = config.quirks
    assert (quirk.line, quirk.message) == (
        1, "a port in smtp= is a pyldirectord extension, not understood by the Perl ldirectord")
    block = parsed("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 gate\n\tsmtp=mail:587\n")
    assert block.virtuals[0].smtp == "mail:587"
    assert [q.line for q in block.quirks] == [3]
