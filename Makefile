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
    libxml2-utils $(SERVICE_APT_PACKAGES)
# Only `make bench` runs keepalived (beside ldirectord and pyldirectord).
BENCH_APT_PACKAGES := keepalived
SOURCES := $(sort $(wildcard pyldirectord/*.py pyldirectord/*/*.py checks/*.py))
PYTEST := $(BIN)/pytest -q -p no:cacheprovider

.PHONY: install apt uml lint typecheck unit test test-fast test-kernel demo demo-shell clean \
    bench bench-ipvs bench-checks

install: $(VENV)/.installed

$(VENV)/.deps: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# A strict editable install maps checks/ to pyldirectord.checks through a link tree; it is
# rebuilt whenever a module is added or removed, so imports always see the real package.
$(VENV)/.installed: $(VENV)/.deps $(SOURCES) Makefile
	$(BIN)/pip install -q --disable-pip-version-check --no-deps \
	    --config-settings editable_mode=strict -e . > $(VENV)/install.log 2>&1 \
	    || { cat $(VENV)/install.log; exit 1; }
	touch $@

# Debian packages the tests drive for real: ipvsadm and modprobe for the kernel sandbox,
# the Perl ldirectord for differential tests, resource-agents for the OCF agent, MariaDB and
# the other servers of the negotiate checks.
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

# Debian's User-Mode Linux kernel, unpacked without root beyond apt's download.
uml: $(UMLDIR)/usr/bin/linux.uml
$(UMLDIR)/usr/bin/linux.uml:
	mkdir -p $(CACHE)/deb
	cd $(CACHE)/deb && rm -f user-mode-linux_*.deb && apt-get download -qq user-mode-linux 2>/dev/null \
	    || (apt-get update -qq && apt-get download -qq user-mode-linux)
	dpkg -x $(CACHE)/deb/user-mode-linux_*.deb $(UMLDIR)
	touch $@

lint: install
	$(BIN)/ruff check pyldirectord checks sandbox tests bench

# mypy cannot follow setuptools' package-dir mapping, so it checks a symlink tree laid out
# exactly as the installed package is (checks/ inside pyldirectord/).
typecheck: install
	rm -rf build/mypy && mkdir -p build/mypy
	cp -rs $(CURDIR)/pyldirectord build/mypy/pyldirectord
	cp -rs $(CURDIR)/checks build/mypy/pyldirectord/checks
	cp -rs $(CURDIR)/sandbox build/mypy/sandbox
	cd build/mypy && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	    -p pyldirectord -p sandbox
	cd build/mypy && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	    $(CURDIR)/tests $(CURDIR)/bench

# Each worktree keeps its own pytest temp root: the shared /tmp/pytest-of-<user> is pruned
# by any concurrent run, deleting the live temp dirs (a MariaDB datadir) of another.
unit: install
	$(PYTEST) --basetemp=$(CURDIR)/build/pytest-tmp -m 'not kernel' tests

test-fast: lint typecheck unit

# One sandbox per CPU, side by side (tools/kernel-suite): in one, the suite takes 7-15 minutes
# depending on the host's load. The sandbox's bound (UML_TIMEOUT) only catches a hung kernel.
# --durations names the slow tests in CI's log; build/kernel-junit-*.xml has every test's time.
test-kernel: install apt uml
	tools/kernel-suite $(CURDIR)/$(PYTEST) --durations=10 -m kernel tests

test: apt uml install
	$(MAKE) --no-print-directory test-fast
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

# The bench extra (matplotlib for the plot, py-spy for --profile-dir), then the strict editable
# install again, since `pip install -e .[bench]` replaces it.
$(VENV)/.bench: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test,bench]'
	$(BIN)/pip install -q --disable-pip-version-check --no-deps \
	    --config-settings editable_mode=strict -e . > $(VENV)/install.log 2>&1 \
	    || { cat $(VENV)/install.log; exit 1; }
	touch $@

# IPVS apply/read timings in the sandbox, netlink against ipvsadm (not part of `make test`:
# the one-process-per-real ipvsadm loop alone takes minutes there). BENCH_IPVS_ARGS=--reals N.
bench-ipvs: install apt uml
	UML_TIMEOUT=3600 tools/uml-run $(CURDIR)/$(BIN)/python $(CURDIR)/bench/ipvs_bench.py \
	    --out $(CURDIR)/bench/RESULTS-ipvs.md $(BENCH_IPVS_ARGS)

# The check engine alone against N loopback servers (not part of `make test`).
bench-checks: install
	$(BIN)/python bench/bench_checks.py --reals 1000 10000

demo: install apt uml
	tools/demo

# The lab with an interactive shell on the sandbox's console (exit leaves and tears it down).
demo-shell: install apt uml
	UML_INTERACTIVE=1 tools/demo --shell

clean:
	rm -rf build $(VENV) $(CACHE)
