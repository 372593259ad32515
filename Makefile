# Baoxiu: the two commands are `make run` and `make test`.
CARGO ?= cargo
BAOXIU := $(CARGO) run --quiet -p baoxiu-api --bin baoxiu --

.PHONY: run test check openapi openapi-check bench demo

## run: build, migrate ./data/baoxiu.db, seed the demo tenant once, serve on 127.0.0.1:8080
run:
	$(BAOXIU) serve --demo

## test: every test, on SQLite and on PostgreSQL (started if it is down)
test:
	./scripts/postgres-up
	$(CARGO) test --workspace --all-targets

## check: formatting, lints, and the committed OpenAPI document
check: openapi-check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## openapi: rewrite openapi/openapi.json from the code
openapi:
	$(BAOXIU) openapi --out openapi/openapi.json

openapi-check:
	@generated=$$(mktemp) && trap 'rm -f "$$generated"' EXIT && \
		$(BAOXIU) openapi > "$$generated" && \
		{ diff -q openapi/openapi.json "$$generated" >/dev/null || \
		{ echo "openapi/openapi.json is out of date: run 'make openapi' and commit it"; exit 1; }; }

## demo: seed the demo tenant into the configured database
demo:
	$(BAOXIU) demo

## bench: release build, load from wrk on loopback, figures to bench/results.json
bench:
	./bench/run
