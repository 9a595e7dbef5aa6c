# Posthorn: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR ?= $(HOME)/.cache/ccache
# Cache hits across clones and worktrees: paths are made relative and the working directory is not
# hashed (it only appears in debug info).
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= true
PYTHON := /usr/bin/python3

.PHONY: all deps build build-asan layers test unit e2e run torture tls-audit bench clean fuzz fuzz-quick

all: build

deps:
	@scripts/install-deps

# Optimised binary at ./build/posthorn.
build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build --target posthorn

# Everything (library, tests, binary) under AddressSanitizer and UBSan.
build-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="-O1 -g" \
	  -DPOSTHORN_SANITIZE=ON >/dev/null
	@cmake --build build-asan

unit: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2

e2e: build-asan
	POSTHORN_BIN=$(CURDIR)/build-asan/posthorn $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The layer check (scripts/check-layers, docs/architecture.md): every #include in src/ against the DEPS of
# its folder. Run first by make test, so a forbidden include is named (file:line, edge) before the
# compiler reports it as a missing header; ctest runs it again with its self-test.
layers:
	$(PYTHON) scripts/check-layers

# Every test: the layer check, unit and integration (ctest, which also replays the fuzz corpora), a
# short libFuzzer run of each parser target, then end-to-end with real clients (pytest). Non-zero on
# failure.
test: layers build-asan
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory fuzz-quick
	$(MAKE) --no-print-directory e2e

# libFuzzer targets (fuzz/README.md), built by clang in build-fuzz with ASan+UBSan and coverage.
FUZZ_SECONDS ?= 60
FUZZ_QUICK_SECONDS ?= 5
FUZZ_PARSERS := imap_command imap_values smtp_command smtp_data pop3_command mime_message mime_address config sasl
FUZZ_SESSIONS := session_imap session_pop3 session_smtp
FUZZ_TARGETS ?= $(FUZZ_PARSERS) $(FUZZ_SESSIONS)
FUZZ_CMAKE = CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS="-O1 -g" -DPOSTHORN_FUZZ=ON >/dev/null

# Every fuzz target for FUZZ_SECONDS each: make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="session_imap".
fuzz: deps
	@$(FUZZ_CMAKE)
	@cmake --build build-fuzz --target fuzz_all
	fuzz/run build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The parser targets only (cheap to build) for FUZZ_QUICK_SECONDS each; part of make test.
fuzz-quick: deps
	@$(FUZZ_CMAKE)
	@cmake --build build-fuzz --target fuzz_parsers
	fuzz/run build-fuzz $(FUZZ_QUICK_SECONDS) $(FUZZ_PARSERS)

# The long crash torture: 300 SIGKILLs of a store writer (make test runs 12), then 100 SIGKILLs of the
# real server under SMTP, submission and IMAP traffic (make test runs 4).
torture: build-asan
	POSTHORN_CRASH_ROUNDS=300 build-asan/tests/durability/crash_test
	POSTHORN_BIN=$(CURDIR)/build-asan/posthorn POSTHORN_TORTURE_KILLS=100 $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/e2e/test_crash_torture.py

# testssl.sh's whole vulnerability battery on every TLS listener (make test runs it on one of them).
tls-audit: build-asan
	POSTHORN_BIN=$(CURDIR)/build-asan/posthorn POSTHORN_TLS_AUDIT=full $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/e2e/test_tls_audit.py

# Posthorn side by side with Dovecot and Postfix (bench/README.md): release binary, load generator, then
# bench/run (installs the anchors with apt if missing). Arguments: make bench BENCH_ARGS="--quick login".
bench: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build --target posthorn bench_load
	$(PYTHON) bench/run $(BENCH_ARGS)

# Builds, initialises ./dev on the first run, serves in the foreground.
run: build
	@scripts/dev-run

clean:
	rm -rf build build-asan build-fuzz
