# rustnet: `make run` and `make test` are all a fresh Debian machine needs (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# System packages. Running needs only Python (the pcapy-ng wheel bundles libpcap); the tests
# also need the live tests' real peers, the benchmarks' references and groff for the man pages.
RUN_PACKAGES := python3 python3-venv
APT_PACKAGES := $(RUN_PACKAGES) iproute2 iputils-ping iputils-arping procps psmisc util-linux \
	curl openssl dnsutils dnsmasq-base openssh-server openssh-client tcpdump tshark tcpreplay tmux groff-base
APT_PACKAGES += libcap2-bin  # setcap, getcap, capsh: the privilege tests
PREFIX ?= /usr/local
ARGS ?=

.PHONY: bytecode all deps system-deps run-deps apt-install venv run test test-fast lint bench fuzz man completions install clean

all: venv

deps: system-deps venv

system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

run-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(RUN_PACKAGES)"

apt-install:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root (or: sudo make ...) to install:" $$missing; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed bytecode

# Byte-compile our own modules: every stage is a fresh process, and with PYTHONDONTWRITEBYTECODE
# set (or a read-only tree) each one would otherwise compile all its imports again at start-up.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q -j 0 lib cmds >/dev/null

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

run: run-deps venv
	$(BIN)/rustnet $(ARGS)

test: deps
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-fast: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not live and not slow" tests

lint: venv
	$(BIN)/ruff check lib cmds tests bench
	$(BIN)/mypy lib cmds

bench: deps
	$(BIN)/python bench/run_all.py

# Every hypothesis test in tests/fuzz at the deep profile (tests/fuzz/conftest.py: 5000 examples
# each); prints how many inputs ran. Time budget: FUZZ_BUDGET seconds; at the budget pytest gets
# SIGINT, stops, and the inputs of the tests that finished are still counted.
FUZZ_BUDGET ?= 540

fuzz: venv
	@log=$$(mktemp); start=$$(date +%s); \
	timeout --foreground -s INT -k 30 $(FUZZ_BUDGET) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz \
		--hypothesis-profile=deep --hypothesis-show-statistics > $$log 2>&1; status=$$?; \
	awk '/Hypothesis Statistics/ {s = 1} !s {print}' $$log; tail -n 1 $$log; \
	awk -v secs=$$(( $$(date +%s) - start )) -v budget=$(FUZZ_BUDGET) -v status=$$status \
		'/ passing, [0-9]+ failing/ {p += $$2; f += $$4; i += $$7} \
		END {printf "make fuzz: %d inputs run (%d passing, %d failing; %d generated but invalid) in %d s of a %d s budget%s\n", \
			p + f, p, f, i, secs, budget, (status == 124 ? " (BUDGET EXCEEDED: stopped)" : "")}' $$log; \
	rm -f $$log; exit $$status

man: venv
	$(BIN)/python -m rustnet.cli.docs man man

completions: venv
	$(BIN)/python -m rustnet.cli.docs completions completions

install: venv man completions
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)/usr/share/bash-completion/completions $(DESTDIR)/usr/share/zsh/vendor-completions \
		$(DESTDIR)/usr/share/fish/vendor_completions.d
	for f in completions/*.bash; do install -m 644 $$f $(DESTDIR)/usr/share/bash-completion/completions/$$(basename $$f .bash); done
	for f in completions/*.zsh; do install -m 644 $$f $(DESTDIR)/usr/share/zsh/vendor-completions/_$$(basename $$f .zsh); done
	install -m 644 completions/*.fish $(DESTDIR)/usr/share/fish/vendor_completions.d/

clean:
	rm -rf $(VENV) build *.egg-info lib/*.egg-info .pytest_cache .mypy_cache .ruff_cache
