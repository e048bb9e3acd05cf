# graphconn: `make run` serves on 127.0.0.1:8080 with SQLite under ./data;
# `make test` runs every test.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
DATA_DIR  ?= ./data
STATICCHECK_VERSION := v0.8.2
# The breaking-change gate, run as a Go tool at this version.
OASDIFF_VERSION := v1.37.0
# The contract as last released: `make breaking` compares openapi.yaml with it.
BASELINE := api/released/openapi.yaml
# Spectral, Redocly CLI and Prism, pinned in package-lock.json: `npm ci`
# installs them, and the targets that need them run it when the lock changes.
NPM_BIN   := node_modules/.bin
NPM_STAMP := node_modules/.package-lock.json
# Redocly CLI sends usage data unless told not to.
export REDOCLY_TELEMETRY := off

.PHONY: all build run test test-race generate lint lint-spec docs breaking release-baseline test-prism test-e2e test-clients fuzz soak clean

all: build

build:
	$(GO) build -o bin/graphconn ./cmd/graphconn

run: build
	./bin/graphconn serve --addr $(ADDR) --data-dir $(DATA_DIR)

# -count=1: the contract tests read openapi.yaml and gen/, which the test
# cache does not always notice changing. The contract suite runs on SQLite,
# and again on PostgreSQL when GRAPHCONN_TEST_POSTGRES names a database (the
# store and replica tests use it too). internal/testsummary runs go test
# -json, prints what go test prints without it, and ends with the tests that
# were skipped and why (Prism, Chromium or PostgreSQL missing...) and the
# packages that failed; it exits 1 if a test failed.
TEST_FLAGS ?=

TEST_PKGS ?= ./...
test:
	@if [ -n "$$GRAPHCONN_TEST_POSTGRES" ]; then \
	  $(GO) run ./internal/testsummary "$(GO) test -count=1 -json $(TEST_FLAGS) $(TEST_PKGS)" \
	    "GRAPHCONN_TEST_STORE=postgres $(GO) test -count=1 -json $(TEST_FLAGS) ./tests" $(TEST_EXTRA); \
	else \
	  $(GO) run ./internal/testsummary \
	    -skipped "tests: the contract suite again, on PostgreSQL: GRAPHCONN_TEST_POSTGRES is not set" \
	    "$(GO) test -count=1 -json $(TEST_FLAGS) $(TEST_PKGS)" $(TEST_EXTRA); \
	fi

# Every package under the race detector, but internal/contract: its
# differential suite (over a hundred thousand cases against kin-openapi)
# checks logic, not concurrency, and takes ten times as long under the
# detector; it runs without it.
RACE_PKGS = $(shell $(GO) list ./... | grep -v '/internal/contract$$')
test-race:
	$(MAKE) test TEST_FLAGS=-race TEST_PKGS="$(RACE_PKGS)" \
	  TEST_EXTRA='"$(GO) test -count=1 -json ./internal/contract"'

# Rebuild gen/ from openapi.yaml with the oapi-codegen version pinned in go.mod.
generate:
	$(GO) generate ./gen

lint: lint-spec
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# openapi.yaml must pass Spectral (.spectral.yaml) and Redocly
# (redocly.yaml) with no error and no warning.
lint-spec: $(NPM_STAMP)
	$(NPM_BIN)/spectral lint --fail-severity=warn openapi.yaml
	@out=$$($(NPM_BIN)/redocly lint --lint-config=error openapi.yaml 2>&1); status=$$?; \
	  printf '%s\n' "$$out"; \
	  if [ $$status -ne 0 ]; then exit $$status; fi; \
	  if printf '%s\n' "$$out" | grep -Eq 'You have [0-9]+ warnings?'; then \
	    echo "lint-spec: Redocly reported warnings" >&2; exit 1; fi

# A self-contained HTML reference of openapi.yaml: no script from elsewhere.
docs: build/docs/index.html

build/docs/index.html: openapi.yaml redocly.yaml $(NPM_STAMP)
	$(NPM_BIN)/redocly build-docs openapi.yaml --inlineBundle --title "graphconn API reference" --output $@

# Fails if openapi.yaml breaks a client of the released contract, but for
# the breaking changes made on purpose, listed in api/accepted-breaking.txt.
# --flatten-allof compares what allOf's branches describe together, not one
# branch at a time; no $ref may fetch anything.
breaking:
	$(GO) run github.com/oasdiff/oasdiff@$(OASDIFF_VERSION) breaking $(BASELINE) openapi.yaml \
	  --fail-on ERR --flatten-allof --allow-external-refs=false --err-ignore api/accepted-breaking.txt

# On release only: the current contract becomes the baseline of `make breaking`
# (and api/accepted-breaking.txt is emptied: those breaks are released).
release-baseline:
	cp openapi.yaml $(BASELINE)

# Live traffic through Prism, an independent validator, to the real binary.
# Skipped when Prism is missing, except under CI (CI set), where it fails.
test-prism: $(NPM_STAMP)
	$(GO) test -count=1 ./contract/...

# /docs in headless Chromium (/usr/bin/chromium, or $$CHROMIUM). Skipped when
# Chromium is missing, except under CI. Screenshots go to build/screenshots.
test-e2e:
	$(GO) test -count=1 ./e2e/...

# A connector's lifecycle through Microsoft's own clients against the real
# binary, both over HTTPS with the development CA (tests/clients): the Go
# SDK, in a module of its own so that go.mod here does not carry it (a cold
# build takes minutes and GBs of memory), and the JavaScript client, pinned
# by tests/clients/js/package-lock.json. Both run, whichever fails.
# CLIENTS_SETTINGS=off creates the connection without activitySettings and
# searchSettings.
CLIENTS_SETTINGS ?= on
test-clients: build
	@status=0; \
	  echo "== tests/clients/go: msgraph-sdk-go"; \
	  (cd tests/clients/go && $(GO) mod tidy -diff && \
	    GRAPHCONN_BIN=$(CURDIR)/bin/graphconn GRAPHCONN_CLIENTS_SETTINGS=$(CLIENTS_SETTINGS) $(GO) test -count=1 -v ./...) || status=1; \
	  echo "== tests/clients/js: @microsoft/microsoft-graph-client"; \
	  GRAPHCONN_BIN=$(CURDIR)/bin/graphconn GRAPHCONN_CLIENTS_SETTINGS=$(CLIENTS_SETTINGS) tests/clients/js/run.sh || status=1; \
	  exit $$status

# Fuzz the request path through the whole server for FUZZTIME (the seed
# corpus is tests/testdata/fuzz), then the strict JSON decoder against
# encoding/json for FUZZTIME. CI runs them briefly.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./tests
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/jsonvalue
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/kql

# Mixed traffic at the real binary for SOAK: no 5xx, memory flat.
SOAK ?= 2m
soak:
	GRAPHCONN_SOAK=$(SOAK) $(GO) test -count=1 -run '^TestSoak$$' -v ./tests

clean:
	rm -rf bin build

# The load benchmark (bench/run.sh; how to run and read it, and the results,
# in BENCHMARKS.md): graphconn on
# SQLite, and on PostgreSQL when GRAPHCONN_TEST_POSTGRES names a database,
# with and without validation, beside a bare Echo ceiling, driven by wrk over
# loopback; about five minutes (three without PostgreSQL). BENCH_FLAGS go to bench/driver, e.g.
# BENCH_FLAGS='-rounds 5 -duration 10s'.
BENCH_FLAGS ?=
.PHONY: bench
bench:
	./bench/run.sh $(BENCH_FLAGS)
