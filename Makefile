# pyldirectord: every target installs what it needs, idempotently.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
UMLDIR := $(CACHE)/uml
# The servers the negotiate checks are tested against (each test starts its own instance on
# loopback; the system instances their packages may start are never used).
SERVICE_APT_PACKAGES := vsftpd dovecot-core dovecot-imapd dovecot-pop3d slapd ldap-utils \
    postgresql freeradius freeradius-utils kamailio
APT_PACKAGES := ipvsadm kmod iproute2 iptables curl ldirectord resource-agents mariadb-server \
    libxml2-utils flex bison bc prometheus chromium $(SERVICE_APT_PACKAGES)
# Only `make bench` runs keepalived (beside ldirectord and pyldirectord).
BENCH_APT_PACKAGES := keepalived
PYTEST := $(BIN)/pytest -q -p no:cacheprovider

.PHONY: install apt uml lint typecheck unit test test-fast test-kernel demo demo-shell clean \
    bench bench-ipvs bench-checks bench-workers unit-asyncio

install: $(VENV)/.installed

# An ordinary editable install: pyldirectord/checks is a committed symlink to checks/, so the
# checkout is the package as it is installed, and new modules need no reinstall.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# Debian packages the tests drive for real: ipvsadm and modprobe for the kernel sandbox,
# the Perl ldirectord for differential tests, resource-agents for the OCF agent, MariaDB and
# the other servers of the negotiate checks; flex, bison and bc build the sandbox kernel
# where Debian's prebuilt one does not boot; Prometheus (scrapes /metrics in a test) and
# Chromium (renders the status page headless).
apt: $(CACHE)/.apt
$(CACHE)/.apt: Makefile
	mkdir -p $(CACHE)
	missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi
	touch $@

# The sandbox kernel: Debian's prebuilt User-Mode Linux where a one-second boot shows it works,
# else the same kernel version built with a patch for hosts with AMX (tools/uml-kernel,
# docs/sandbox-kernel.md). Both are cached outside the checkout and shared by every clone;
# .cache/uml links to the one in use. UML_BUILD=1 forces the build path on any host.
uml: $(CACHE)/.apt
	@if [ "$(UML_BUILD)" = 1 ] || [ ! -x $(UMLDIR)/usr/bin/linux.uml ]; then tools/uml-kernel $(UMLDIR); fi

lint: install
	$(BIN)/ruff check pyldirectord checks sandbox tests bench

typecheck: install
	$(BIN)/mypy -p pyldirectord -p sandbox
	$(BIN)/mypy tests bench

# Each worktree keeps its own pytest temp root: the shared /tmp/pytest-of-<user> is pruned
# by any concurrent run, deleting the live temp dirs (a MariaDB datadir) of another. pytest
# makes only the last component of --basetemp: a fresh clone has no build/ yet.
unit: install
	mkdir -p build
	$(PYTEST) --basetemp=$(CURDIR)/build/pytest-tmp -m 'not kernel' tests

test-fast: lint typecheck unit

# The host suite runs on uvloop (the daemon's loop where it is installed); the parts that
# touch the loop most (the scheduler, the check engine, the director) run again on asyncio's
# own loop, the fallback where uvloop is absent (pyldirectord/runtime/loops.py).
ASYNCIO_TESTS := tests/unit/test_scheduler.py tests/unit/test_engine.py tests/integration/checks/test_connect_ping.py \
    tests/integration/checks/test_http_check.py tests/integration/checks/test_hostile_replies.py \
    tests/integration/director
unit-asyncio: install
	mkdir -p build
	PYLDIRECTORD_LOOP=asyncio $(PYTEST) --basetemp=$(CURDIR)/build/pytest-tmp-asyncio \
	    -m 'not kernel' $(ASYNCIO_TESTS)

# One sandbox per CPU, side by side (tools/kernel-suite): in one, the suite takes 7-15 minutes
# depending on the host's load. The sandbox's bound (UML_TIMEOUT) only catches a hung kernel.
# --durations names the slow tests in CI's log; build/kernel-junit-*.xml has every test's time.
test-kernel: install apt uml
	tools/kernel-suite $(CURDIR)/$(PYTEST) --durations=10 -m kernel tests

test: apt uml install
	$(MAKE) --no-print-directory test-fast
	$(MAKE) --no-print-directory unit-asyncio
	$(MAKE) --no-print-directory test-kernel

# pyldirectord beside the Perl ldirectord and keepalived in the sandbox (bench/director_bench.py),
# then bench/RESULTS.md and bench/results.png. A quick run: BENCH_ARGS='--reals 200
# --directors pyldirectord keepalived --checks connect --window 10'. Not part of `make test`.
bench: install apt uml $(VENV)/.bench $(CACHE)/.apt-bench
	UML_TIMEOUT=3600 tools/uml-run $(CURDIR)/$(BIN)/python $(CURDIR)/bench/director_bench.py \
	    --json $(CURDIR)/bench/results.json --keep-logs $(CURDIR)/build/bench-logs $(BENCH_ARGS)
	$(BIN)/python bench/report.py bench/results.json --markdown bench/RESULTS.md \
	    --plot bench/results.png

$(CACHE)/.apt-bench: Makefile
	mkdir -p $(CACHE)
	dpkg-query -W -f='$${Status}' $(BENCH_APT_PACKAGES) 2>/dev/null | grep -q 'install ok installed' \
	    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $(BENCH_APT_PACKAGES) >/dev/null; }
	touch $@

# The bench extra: matplotlib for the plot, py-spy for --profile-dir.
$(VENV)/.bench: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test,bench]'
	touch $@

# IPVS apply/read timings in the sandbox, netlink against ipvsadm (not part of `make test`:
# the one-process-per-real ipvsadm loop alone takes minutes there). BENCH_IPVS_ARGS=--reals N.
bench-ipvs: install apt uml
	UML_TIMEOUT=3600 tools/uml-run $(CURDIR)/$(BIN)/python $(CURDIR)/bench/ipvs_bench.py \
	    --out $(CURDIR)/bench/RESULTS-ipvs.md $(BENCH_IPVS_ARGS)

# The check engine alone against N loopback servers (not part of `make test`).
bench-checks: install
	$(BIN)/python bench/bench_checks.py --reals 1000 10000 --kinds connect http refused
	$(MAKE) --no-print-directory bench-workers

# The same load split over 1 and 2 worker processes (workers=N), started together.
bench-workers: install
	$(BIN)/python bench/bench_checks.py --reals 1000 --kinds refused connect http --workers 1 2

demo: install apt uml
	tools/demo

# The lab with an interactive shell on the sandbox's console (exit leaves and tears it down).
demo-shell: install apt uml
	UML_INTERACTIVE=1 tools/demo --shell

clean:
	rm -rf build $(VENV) $(CACHE)
