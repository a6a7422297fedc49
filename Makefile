# The two commands of the README: `make run` (the main job) and `make test` (the whole suite).
# Both install missing system packages first (scripts/install-deps.sh).
SWIFT ?= swift
DATA_DIR ?= ./data
ARGS ?=

.PHONY: run test deps build bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product medbus

# Embedded Kafka-protocol cluster + SQLite store in $(DATA_DIR); Ctrl-C stops it.
run: build
	.build/release/medbus serve --data-dir $(DATA_DIR) $(ARGS)

# The fuzzer runs first so that the test runner's summary closes the output; a fixed seed and
# input count keep CI repeatable (`scripts/fuzz-hl7.sh 600` explores with a random seed).
test: deps
	FUZZ_RUNS=100000 FUZZ_SEED=1 scripts/fuzz-hl7.sh
	python3 Mappings/check.py
	$(SWIFT) build --build-tests
	python3 deploy/check.py --medbus .build/debug/medbus
	.build/debug/medbus mapping test --all
	SWIFT=$(SWIFT) scripts/run-tests.sh

# Reproduces BENCHMARKS.md.
bench: build
	.build/release/medbus bench produce --runs 5
	.build/release/medbus bench hl7
	.build/release/medbus bench map
	.build/release/medbus bench route

clean:
	rm -rf .build
