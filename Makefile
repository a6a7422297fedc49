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

# The fuzzer runs first so that the test runner's summary closes the output.
test: deps
	scripts/fuzz-hl7.sh 60
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Reproduces BENCHMARKS.md.
bench: build
	.build/release/medbus bench produce --runs 5

clean:
	rm -rf .build
