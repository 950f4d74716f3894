# rustnet: `make run` and `make test` are all a fresh Debian machine needs (as root).
SHELL := /bin/bash
# The venv's interpreter: the system's python3 (the one run-deps installs, with the headers the
# compiled modules are built against) when it is 3.11 or newer, else the first python3 on the PATH.
# A Python built with a shared libpython, as pyenv builds it, ran the stages 11-17% slower. Worked
# out when used, so after run-deps has installed it.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
# System packages. Running needs Python (the pcapy-ng wheel bundles libpcap), and gcc with the
# Python headers to compile the hot modules with mypyc (below; without them all runs as pure
# Python, slower). The tests also need the live tests' real peers, the benchmarks' references,
# groff for the man pages and zsh and fish to check the completions.
RUN_PACKAGES := python3 python3-venv ieee-data gcc libc6-dev python3-dev
APT_PACKAGES := $(RUN_PACKAGES) iproute2 iputils-ping iputils-arping procps psmisc util-linux \
	curl openssl dnsutils dnsmasq-base openssh-server openssh-client tcpdump tshark tcpreplay tmux groff-base zsh fish
APT_PACKAGES += libcap2-bin  # setcap, getcap, capsh: the privilege tests
APT_PACKAGES += nfdump  # nfcapd and nfdump: the IPFIX collector rn-export is tested against
ARGS ?=

.PHONY: compiled bytecode all deps system-deps run-deps apt-install venv venv-test run test test-fast lint bench fuzz man \
	completions install uninstall clean

all: venv

deps: system-deps venv-test

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

# `venv` has what running needs; `venv-test` adds the test tools (pytest, hypothesis, mypy, ruff, ...).
# Both then compile the hot modules (below), after the installs: the build may add mypy.
venv: $(VENV)/.installed bytecode
	@$(COMPILE)

venv-test: $(VENV)/.installed-test bytecode
	@$(COMPILE)

# The hot modules compiled with mypyc into $(VENV)/rustnet-compiled (scripts/build_compiled.py: a
# no-op when the sources are unchanged; one line, and pure Python, without a C compiler or the
# Python headers). PURE=1 removes them: everything runs as pure Python (so does RUSTNET_PURE=1).
PURE ?=
COMPILE = $(BIN)/python scripts/build_compiled.py $(if $(PURE),--remove)

compiled: $(VENV)/.installed
	@$(COMPILE)

# Byte-compile our own modules: every stage is a fresh process, and with PYTHONDONTWRITEBYTECODE
# set (or a read-only tree) each one would otherwise compile all its imports again at start-up.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q -j 0 lib cmds >/dev/null

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

run: run-deps venv
	$(BIN)/rustnet $(ARGS)

# The linters and the whole suite both run; either failing fails `make test`. The tests run in
# TEST_JOBS processes (pytest-xdist): on 2 cores the suite takes about half the time of one.
TEST_JOBS ?= 2
test: deps
	@echo '$(LINT)'; $(LINT); lint=$$?; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) tests; tests=$$?; \
	if [ $$lint != 0 ]; then echo "make test: the linters failed (make lint)"; fi; \
	exit $$(( tests ? tests : lint ))

test-fast: venv-test
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) -m "not live and not slow" tests

LINT = $(BIN)/ruff check lib cmds tests bench && $(BIN)/ruff format --check lib cmds tests bench && $(BIN)/mypy lib cmds

lint: venv-test
	$(LINT)

bench: deps
	$(BIN)/python bench/run_all.py

# Every hypothesis test in tests/fuzz at the deep profile (tests/fuzz/conftest.py: 5000 examples
# each); prints how many inputs ran. Time budget: FUZZ_BUDGET seconds; at the budget pytest gets
# SIGINT, stops, and the inputs of the tests that finished are still counted.
FUZZ_BUDGET ?= 540

fuzz: venv-test
	@log=$$(mktemp); start=$$(date +%s); \
	timeout --foreground -s INT -k 30 $(FUZZ_BUDGET) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz \
		--hypothesis-profile=deep --hypothesis-show-statistics > $$log 2>&1; status=$$?; \
	awk '/Hypothesis Statistics/ {s = 1} !s {print}' $$log; tail -n 1 $$log; \
	awk -v secs=$$(( $$(date +%s) - start )) -v budget=$(FUZZ_BUDGET) -v status=$$status \
		'/ passing, [0-9]+ failing/ {p += $$2; f += $$4; i += $$7} \
		END {printf "make fuzz: %d inputs run (%d passing, %d failing; %d generated but invalid) in %d s of a %d s budget%s\n", \
			p + f, p, f, i, secs, budget, (status == 124 ? " (BUDGET EXCEEDED: stopped)" : "")}' $$log; \
	rm -f $$log; exit $$status

# Mutation testing of the core modules (tests/mutation/run.py): plants one small bug at a time in a
# private copy of lib, runs the tests that exercise that module, prints the score per module and
# the survivors. MODULES (e.g. "dissect/dns.py view/filter.py") defaults to every core module;
# MUTATE_BUDGET is in seconds per module (the mutants past it are reported as not tried).
MODULES ?=
MUTATE_BUDGET ?= 900

mutate: venv
	$(BIN)/python -m tests.mutation.run --budget $(MUTATE_BUDGET) $(MODULES)

man: venv
	$(BIN)/python -m rustnet.docs man man

completions: venv
	$(BIN)/python -m rustnet.docs completions completions

# `make install`: a venv of its own in $(PREFIX)/lib/rustnet (a plain, non-editable copy: the
# clone can go) with the compiled hot modules built in the clone's .venv (`compiled`; none with
# PURE=1), a link in $(PREFIX)/bin for every command pyproject.toml's [project.scripts]
# defines, the man pages and the completions. DESTDIR stages the same tree for packaging: a venv
# is not relocatable, so the staged scripts and .pyc files are rewritten to name their final
# place. The stages run as `nobody`, so everything is left readable by others whatever the umask.
# `make uninstall` (same PREFIX and DESTDIR) removes what installed-files lists: the files, and
# the directories the install made once they are empty.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/rustnet
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= /usr/share/bash-completion/completions
ZSHCOMPDIR ?= /usr/share/zsh/vendor-completions
FISHCOMPDIR ?= /usr/share/fish/vendor_completions.d
# The installed venv's interpreter: the system's python3 when it is new enough, since anything
# else (a pyenv under /root, say) may vanish or be unreadable to the stages' unprivileged user.
INSTALL_PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo /usr/bin/python3 || echo $(PYTHON))

# The commands as built from [project.scripts] (the venv's pip and python are not ours to link).
ENTRY_POINTS := from importlib.metadata import distribution; \
	print(*(e.name for e in distribution("rustnet").entry_points if e.group == "console_scripts"))

install: run-deps compiled
	@set -euo pipefail; umask 022; \
	case '$(PREFIX)' in /*) ;; *) echo "make install: PREFIX must be an absolute path"; exit 2;; esac; \
	dest='$(DESTDIR)'; case "$$dest" in ""|/*) ;; *) dest="$$PWD/$$dest";; esac; stage="$$dest"'$(LIBDIR)'; list="$$stage/installed-files"; \
	src=$$(mktemp -d); trap 'rm -rf "$$src"' EXIT; \
	tar -c --exclude=__pycache__ --exclude='*.egg-info' pyproject.toml README.md LICENSE lib cmds | tar -x -C "$$src"; \
	dirs='$(BINDIR) $(LIBDIR) $(MANDIR)/man1 $(MANDIR)/man5 $(BASHCOMPDIR) $(ZSHCOMPDIR) $(FISHCOMPDIR)'; \
	made=$$(for d in $$dirs; do while [ -n "$$d" ] && [ ! -e "$$dest$$d" ]; do echo "$$d/"; d=$${d%/*}; done; done); \
	if [ -f "$$list" ]; then \
		made=$$(printf '%s\n' "$$made" && grep '/$$' "$$list" || true); \
		while IFS= read -r f; do case "$$f" in */) ;; *) rm -f "$$dest$$f";; esac; done < "$$list"; \
	fi; \
	rm -rf "$$stage"; \
	echo "installing into $$stage (a venv of $(INSTALL_PYTHON))"; \
	$(INSTALL_PYTHON) -m venv "$$stage"; \
	"$$stage/bin/python" -m pip install -q --disable-pip-version-check --no-compile "$$src"; \
	$(BIN)/python scripts/build_compiled.py --copy-for "$$stage/bin/python"; \
	if [ -n "$$dest" ]; then \
		esc=$$(printf '%s' "$$stage" | sed 's/[][\.*^$$/]/\\&/g'); \
		grep -rlIF -- "$$stage" "$$stage" | while IFS= read -r f; do sed -i "s/$$esc/$$(printf '%s' '$(LIBDIR)' | sed 's/[\&/]/\\&/g')/g" "$$f"; done; \
		"$$stage/bin/python" -m compileall -q -f -j 0 -s "$$dest" -p / "$$stage/lib" >/dev/null; \
		if grep -rlF -- "$$stage" "$$stage"; then echo "make install: $$dest still named in the files above"; exit 1; fi; \
	else \
		"$$stage/bin/python" -m compileall -q -j 0 "$$stage/lib" >/dev/null; \
	fi; \
	commands=$$("$$stage/bin/python" -c '$(ENTRY_POINTS)'); \
	install -d "$$dest"'$(BINDIR)' "$$dest"'$(MANDIR)/man1' "$$dest"'$(MANDIR)/man5' \
		"$$dest"'$(BASHCOMPDIR)' "$$dest"'$(ZSHCOMPDIR)' "$$dest"'$(FISHCOMPDIR)'; \
	for c in $$commands; do \
		test -x "$$stage/bin/$$c"; \
		ln -sfn "../lib/rustnet/bin/$$c" "$$dest"'$(BINDIR)'"/$$c"; echo '$(BINDIR)'"/$$c" >> "$$list"; \
	done; \
	for f in man/*.1 man/*.5; do \
		sect='$(MANDIR)'"/man$${f##*.}/$${f##*/}"; install -m 644 "$$f" "$$dest$$sect"; echo "$$sect" >> "$$list"; \
	done; \
	for f in completions/*.bash; do \
		to='$(BASHCOMPDIR)'"/$$(basename "$$f" .bash)"; install -m 644 "$$f" "$$dest$$to"; echo "$$to" >> "$$list"; \
	done; \
	for f in completions/*.zsh; do \
		to='$(ZSHCOMPDIR)'"/_$$(basename "$$f" .zsh)"; install -m 644 "$$f" "$$dest$$to"; echo "$$to" >> "$$list"; \
	done; \
	for f in completions/*.fish; do \
		to='$(FISHCOMPDIR)'"/$${f##*/}"; install -m 644 "$$f" "$$dest$$to"; echo "$$to" >> "$$list"; \
	done; \
	printf '%s\n' "$$made" | grep . | sort -u >> "$$list" || true; \
	chmod -R a+rX,go-w "$$stage"; \
	echo "installed in $$dest"'$(BINDIR)':" $$commands"

uninstall:
	@set -euo pipefail; dest='$(DESTDIR)'; case "$$dest" in ""|/*) ;; *) dest="$$PWD/$$dest";; esac; \
	stage="$$dest"'$(LIBDIR)'; list="$$stage/installed-files"; \
	if [ ! -f "$$list" ]; then echo "rustnet is not installed in $$dest"'$(PREFIX)'" (no $$list)"; exit 0; fi; \
	while IFS= read -r f; do case "$$f" in */) ;; *) rm -f "$$dest$$f";; esac; done < "$$list"; \
	made=$$(grep '/$$' "$$list" | sort -r || true); \
	rm -rf "$$stage"; \
	printf '%s\n' "$$made" | while IFS= read -r d; do [ -z "$$d" ] || rmdir "$$dest$$d" 2>/dev/null || true; done; \
	echo "removed rustnet from $$dest"'$(PREFIX)'

clean:
	rm -rf $(VENV) build *.egg-info lib/*.egg-info .pytest_cache .mypy_cache .ruff_cache
