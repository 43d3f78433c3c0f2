"""Fuzzing the parser (issue 12): for any text, parsing and resolving return a Config or a
ConfigError at a line of the file, never another exception.

Configs are built from the grammar's own pieces (every directive name, block openings,
indentation of every kind, CRLF, values made of the characters the patterns care about,
digit runs far beyond any kernel limit), so most examples get deep into the directives
instead of failing on the first line. The number of examples is bounded so the run takes
seconds; names resolve through the tests' fake lookups (no DNS) and no file is opened.
"""

from __future__ import annotations

from config_helpers import FILE, FakeLookups, no_file_problem
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pyldirectord.config.block_directives import BLOCK_TABLE
from pyldirectord.config.errors import ConfigError
from pyldirectord.config.global_directives import GLOBAL_TABLE
from pyldirectord.config.model import Config
from pyldirectord.config.resolve import parse_and_resolve

NAMES = sorted({p.pattern.lstrip("^(").split("\\", 1)[0].split("(", 1)[0].split("=", 1)[0]
                for p, _ in (*BLOCK_TABLE, *GLOBAL_TABLE)} - {""}
               | {"real", "real6", "fallback", "fallback6", "virtual", "virtual6", "timeout"})
WORDS = ["gate", "masq", "ipip", "yes", "no", "connect", "negotiate", "on", "off", "http",
         "tcp", "udp", "fwm", "wrr", "sh", "flag-1", "sh-port", "localhost", "web1",
         "127.0.0.1", "192.0.2.9", "[2001:db8::2]", "::1", "->", "l:", "u:", ":80", ":http",
         "255.255.255.0", "64", "4294967296", "2147483648", "0", "00", "all", "none"]  # fmt: skip
CHARS = '0123456789abcfz.:-_[]>"#, \t\r/\\é'

numbers = st.one_of(st.integers(min_value=0, max_value=300),
                    st.integers(min_value=0, max_value=10**60)).map(str)
pieces = st.one_of(st.sampled_from(WORDS), st.text(alphabet=CHARS, max_size=12), numbers)
values = st.one_of(st.sampled_from(WORDS), numbers, st.lists(pieces, max_size=5).map(" ".join))
addresses = st.sampled_from(["127.0.0.2", "web1", "192.0.2.9", "[2001:db8::2]", "localhost",
                             "999.1.1.1", "a..b", ""]) | st.text(alphabet=CHARS, max_size=8)
ports = st.sampled_from(["", ":80", ":http", ":0", ":65536", ":", "::80"]) | numbers.map(
    lambda n: ":" + n)  # fmt: skip


def real_text(name: str, host: str, end: str | None, port: str, forward: str,
              weight: str | None, check: str | None, lower: str | None, upper: str | None,
              junk: str) -> str:
    words = [f"{name}={host}{'->' + end if end is not None else ''}{port}", forward]
    words += [w for w in (weight, check, lower and f"l:{lower}", upper and f"u:{upper}") if w]
    return " ".join(words) + junk


real_line = st.builds(
    real_text, st.sampled_from(["real", "real6"]), addresses, st.none() | addresses, ports,
    st.sampled_from(["gate", "masq", "ipip", "Gate", ""]), st.none() | numbers,
    st.none() | st.sampled_from(['"/ok", "alive"', '"x" "y"', '"a"']),
    st.none() | numbers, st.none() | numbers, st.sampled_from(["", " ", " junk", "\r"]),
)  # fmt: skip
setting = st.builds(lambda n, s, v: f"{n}{s}{v}", st.sampled_from(NAMES),
                    st.sampled_from(["=", " = ", "=\t", "", " "]), values)  # fmt: skip
indent = st.sampled_from(["\t", "    ", "\t", "    ", "   ", " \t", ""])
good_settings = st.sampled_from(["checktype=connect", "checktype=on", "quiescent=yes",
                                 "persistent=600", "scheduler=sh", "netmask=255.255.255.0",
                                 "schedflags=sh-port", "service=http", "fallback=127.0.0.1:80",
                                 'request="/ok"', 'receive="alive"'])  # fmt: skip
block_line = st.builds(lambda i, d: i + d, indent,
                       st.one_of(real_line, real_line, good_settings, setting,
                                 st.sampled_from(["#", ""])))  # fmt: skip
opening = st.one_of(
    st.sampled_from(["virtual=192.0.2.1:80", "virtual=7", "virtual6=[2001:db8::1]:443",
                     "virtual=localhost:http", "virtual6=9"]),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(["virtual", "virtual6"]),
              st.sampled_from(["0", "192.0.2.1", "4294967296", "[::1]:80"]) | values),
)  # fmt: skip
block = st.builds(lambda o, lines: [o, *lines], opening,
                  st.lists(block_line, min_size=1, max_size=6))  # fmt: skip
top_line = st.one_of(
    st.sampled_from(["checkinterval=5", "quiescent=yes", "autoreload=no", "fork=yes",
                     'logfile="local0"', "emailalert=ops@example.com", "", "#"]),
    setting, st.text(alphabet=CHARS, max_size=20),
)  # fmt: skip
configs = st.builds(
    lambda tops, blocks, end: end.join([*tops, *(ln for b in blocks for ln in b)]) + end,
    st.lists(top_line, max_size=4), st.lists(block, min_size=1, max_size=3),
    st.sampled_from(["\n", "\r\n"]),
)  # fmt: skip


def outcome(text: str) -> Config | ConfigError:
    try:
        return parse_and_resolve(text.encode("utf-8", "surrogateescape"), FILE,
                                 lookups=FakeLookups(), file_check=no_file_problem,
                                 hostname="director")  # fmt: skip
    except ConfigError as error:
        return error


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_any_config_is_a_config_or_an_error_at_one_of_its_lines(text: str) -> None:
    result = outcome(text)
    if isinstance(result, ConfigError):
        event(f"error: {result.message[:40]}")
        assert 1 <= result.line <= text.count("\n") + 1, (result.line, result.message)
        assert result.file == FILE and result.message
    else:
        event(f"valid, reals: {min(3, sum(len(v.reals) for v in result.virtuals))}")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_a_config_or_an_error(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, Config | ConfigError)
    if isinstance(result, ConfigError):
        assert 1 <= result.line <= text.count("\n") + 1
