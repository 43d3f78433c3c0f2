"""URL and Host header building for HTTP checks (spec 4.3)."""

from pyldirectord.checks.base import CheckSpec, Target
from pyldirectord.checks.http import build_url, host_header

REAL = Target(ip="10.0.0.2", port=8080)
REAL6 = Target(ip="2001:db8::2", port=80)


def test_relative_request_goes_to_the_real_ip_and_check_port() -> None:
    spec = CheckSpec(service="http", request="/health.html")
    assert build_url(REAL, spec) == "http://10.0.0.2:8080/health.html"


def test_request_without_slash_and_default_request() -> None:
    assert build_url(REAL, CheckSpec(service="http", request="x")) == "http://10.0.0.2:8080/x"
    assert build_url(REAL, CheckSpec(service="http")) == "http://10.0.0.2:8080/"


def test_https_schema_and_ipv6_brackets() -> None:
    spec = CheckSpec(service="https", request="/ok")
    assert build_url(REAL6, spec) == "https://[2001:db8::2]:80/ok"


def test_per_real_absolute_url_is_used_as_is() -> None:
    spec = CheckSpec(service="http", request="/http://www.x.y/ok", per_real_request=True)
    assert build_url(REAL, spec) == "http://www.x.y/ok"


def test_block_level_absolute_url_becomes_a_path_like_the_reference() -> None:
    spec = CheckSpec(service="http", request="/http://www.x.y/ok")
    assert build_url(REAL, spec) == "http://10.0.0.2:8080/http://www.x.y/ok"


def test_per_real_url_of_the_other_schema_is_a_path() -> None:
    spec = CheckSpec(service="https", request="/http://www.x.y/", per_real_request=True)
    assert build_url(REAL, spec) == "https://10.0.0.2:8080/http://www.x.y/"


def test_http_proxy_request_is_the_absolute_url() -> None:
    spec = CheckSpec(service="http_proxy", request="/http://www.x.y/")
    assert build_url(REAL, spec) == "http://www.x.y/"


def test_host_header_is_virtualhost_else_the_bare_real_ip() -> None:
    assert host_header(REAL, CheckSpec(virtualhost="www.x.y")) == "www.x.y"
    assert host_header(REAL, CheckSpec()) == "10.0.0.2"
    assert host_header(REAL6, CheckSpec()) == "[2001:db8::2]"
