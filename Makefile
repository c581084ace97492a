# hypersweep front door. `make test` and `make demo` do every set-up step on a fresh Debian 12 machine.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

# Debian 12 packages the project needs to build, test and run (runtime + tests).
DEB_PACKAGES := build-essential cmake ninja-build ccache pkg-config git \
  libtorch-dev libopenblas0-pthread dataset-fashion-mnist \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
  libsqlite3-dev sqlite3 googletest libgtest-dev libgmock-dev \
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev zlib1g-dev openssl procps \
  clang libclang-rt-14-dev llvm \
  libcpp-httplib-dev prometheus libhdf5-dev chromium fonts-dejavu-core
# A single-node Slurm for `make test-slurm` (tests/deploy/slurm_test.cc starts its own daemons).
DEB_SLURM_PACKAGES := slurm-wlm munge
# Only for regenerating reference fixtures and running benchmarks (never runtime dependencies).
DEB_BENCH_PACKAGES := python3-torch python3-optuna python3-grpcio python3-numpy time

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps bench-deps slurm-deps build test test-slurm test-all demo demo-quick bench bench-cli \
  bench-pruners format clean test-asan test-tsan thread-safety fuzz test-fault test-load

all: build

# Installs only what is missing; apt-get update first because a fresh machine's lists can be empty.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:" $$missing; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "make deps: all Debian packages present"; fi

bench-deps: deps
	@missing=$$(for p in $(DEB_BENCH_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; fi

slurm-deps:
	@missing=$$(for p in $(DEB_SLURM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make slurm-deps: installing:" $$missing; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "make slurm-deps: Slurm and munge present"; fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The default test run: everything not labelled slow.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE 'slow' $(CTEST_ARGS)

# deploy/slurm against a real Slurm: starts munged, slurmctld and slurmd on this machine (as root,
# state in a scratch directory, stopped at the end), runs the coordinator and a worker array as
# jobs, and scancels a worker mid-trial. Not part of `make test` (label slow).
test-slurm: slurm-deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -L slurm $(CTEST_ARGS)

# The fault suite (docs/RELIABILITY.md): real processes, a seeded random schedule of kill -9 and
# SIGSTOP, a full disk (a tmpfs; root), a truncated checkpoint. Prints FAULT_SUMMARY; a few minutes.
# HYPERSWEEP_FAULT_SEED=N replays another schedule.
test-fault: build
	cd $(BUILD_DIR) && ctest --output-on-failure -V -L fault $(CTEST_ARGS)

# 200 simulated workers for 60 s against one coordinator; prints LOAD_SUMMARY (p50/p99 latencies).
test-load: build
	cd $(BUILD_DIR) && ctest --output-on-failure -V -L load $(CTEST_ARGS)

# The demo on the embedded default data (Fashion-MNIST from Debian's dataset-fashion-mnist): a
# coordinator and two workers run the experiments of examples/sweeps/smith-demo.yaml and
# demo-report/index.md gets the tables, findings and plots. demo-quick is CI's short variant.
demo: build
	BUILD_DIR=$(BUILD_DIR) scripts/demo.sh

demo-quick: build
	BUILD_DIR=$(BUILD_DIR) scripts/demo.sh --quick

# Benchmarks (not tests): figures go to docs/PERFORMANCE.md.
bench: bench-deps build
	/usr/bin/python3 bench/trainer_bench.py --worker $(BUILD_DIR)/bin/hypersweep-worker

# Sanitizer runs of the suites that do not need LibTorch (core, server, client, e2e is excluded).
# -O1 -g1: what the sanitizers recommend, with line tables for their stack traces; it compiles
# about 40% faster than -O2 -g (the two sanitizer builds are most of CI's time).
SAN_CMAKE := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DHYPERSWEEP_BUILD_WORKER=OFF
test-asan: deps
	cmake -S . -B build-asan $(SAN_CMAKE) -DHYPERSWEEP_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE 'slow|e2e'

test-tsan: deps
	cmake -S . -B build-tsan $(SAN_CMAKE) -DHYPERSWEEP_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 history_size=7 suppressions=$(CURDIR)/tools/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -LE 'slow|e2e'

# clang's thread-safety analysis over everything that does not include LibTorch.
thread-safety: deps
	cmake -S . -B build-tsa -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DHYPERSWEEP_BUILD_WORKER=OFF \
	  -DHYPERSWEEP_BUILD_TESTS=OFF -DHYPERSWEEP_THREAD_SAFETY=ON
	cmake --build build-tsa -j $(JOBS)

# libFuzzer on the spec parser for FUZZ_SECONDS (default 60), starting from the committed corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHYPERSWEEP_FUZZ=ON -DHYPERSWEEP_BUILD_WORKER=OFF -DHYPERSWEEP_BUILD_SERVER=OFF -DHYPERSWEEP_BUILD_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS) --target spec_parser_fuzzer
	mkdir -p build-fuzz/corpus && cp fuzz/corpus/spec_parser/* build-fuzz/corpus/
	build-fuzz/fuzz/spec_parser_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 build-fuzz/corpus fuzz/corpus/spec_parser

# Pruners (docs/PERFORMANCE.md, "Pruners"): replay vs Optuna 3.1, then the payoff sweeps (minutes).
bench-pruners: bench-deps build
	/usr/bin/python3 bench/pruner_replay.py --replay $(BUILD_DIR)/bench/hypersweep_pruner_replay
	/usr/bin/python3 bench/pruner_payoff.py --build $(BUILD_DIR)

# The CLI's end-to-end listing benchmark (10,000 trials as CSV; docs/PERFORMANCE.md, "Client").
bench-cli: build
	bench/cli_list_bench.sh $(BUILD_DIR) 10000 7

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
