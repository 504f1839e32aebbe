# Xiao'an: two commands.
#   make run   — set up everything (system packages, model packages, build, import) and run the demo
#   make test  — set up what the tests need, then run the whole test suite
SHELL := /bin/bash
CARGO ?= cargo
XIAOAN := $(or $(CARGO_TARGET_DIR),target)/release/xiaoan

.PHONY: run test setup build demo fixtures bench eval-synth fmt

run: setup
	$(XIAOAN) demo

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release --bin xiaoan

test: setup
	$(CARGO) test --release --workspace --all-features 2>&1 | tee $(or $(CARGO_TARGET_DIR),target)/test.log; exit $${PIPESTATUS[0]}

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
