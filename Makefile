# Baoxiu: the two commands are `make run` and `make test`.
CARGO ?= cargo
BAOXIU := $(CARGO) run -p baoxiu-api --bin baoxiu --

.PHONY: run test check openapi openapi-check bench bench-growth bench-floor demo

## run: build, migrate ./data/baoxiu.db, seed the demo tenant once, serve on 127.0.0.1:8080
run:
	$(BAOXIU) serve --demo

## test: every test, on SQLite and on PostgreSQL (started if it is down; see README);
## the Mini Program sample's tests on Debian's node and on a current Node.js release
test:
	./scripts/postgres-up
	E2E_NODE_BINARIES="node:$$(./scripts/node-current)" $(CARGO) test --workspace --all-targets

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

## bench: release build, load from crates/bench (our own client) on loopback: auth, QR and
## the work-order scenarios, on both backends
bench:
	./bench/run

## bench-growth: the work-order reads and searches with 10k, 100k and 1M orders seeded in
## bulk with SQL, on both backends; figures into bench/results.json (`growth`)
bench-growth:
	./bench/growth

## bench-floor: the work-order submit against the stack's floor insert (../shared/bench),
## side by side in one run with wrk, on both backends (compare.sh has no pair for it)
bench-floor:
	./bench/vs-floor
