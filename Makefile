# Xiao'an: two commands.
#   make run   — set up everything (system packages, model packages, build, import) and run the demo
#   make test  — set up what the tests need, then run the whole test suite
#   make fuzz  — the fuzz harness with 20,000 cases (make test runs a few hundred)
SHELL := /bin/bash
CARGO ?= cargo
XIAOAN := $(or $(CARGO_TARGET_DIR),target)/release/xiaoan

.PHONY: run test setup build demo fixtures bench eval-synth fmt fuzz

run: setup
	$(XIAOAN) demo

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release --bin xiaoan

test: setup
	$(CARGO) test --release --workspace --all-features 2>&1 | tee $(or $(CARGO_TARGET_DIR),target)/test.log; exit $${PIPESTATUS[0]}

# The fuzz harness (tests/e2e/fuzz.rs) with many more cases than `make test` runs:
# audio decoding, manifests, chat lines and stdin bytes, staff API bodies, store records.
# PROPTEST_CASES sets the cheap targets' count; slower ones run a share of it.
FUZZ_CASES ?= 20000
fuzz: build
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --release -p xiaoan-tests --test e2e fuzz -- --nocapture 2>&1 | tee $(or $(CARGO_TARGET_DIR),target)/fuzz.log | grep -E '^(fuzz |test |SKIP)|panicked|minimal failing|Test failed'; exit $${PIPESTATUS[0]}

demo: build
	$(XIAOAN) demo

fixtures:
	bash scripts/make-fixtures.sh

bench: build
	$(XIAOAN) bench kb
	$(XIAOAN) bench asr tests/fixtures/manifest.jsonl
	$(XIAOAN) bench dialogue

fmt:
	$(CARGO) fmt --all
