# graphconn: `make run` serves on 127.0.0.1:8080 with SQLite under ./data;
# `make test` runs every test.
GO        ?= go
ADDR      ?= 127.0.0.1:8080
DATA_DIR  ?= ./data
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-race generate lint clean

all: build

build:
	$(GO) build -o bin/graphconn ./cmd/graphconn

run: build
	./bin/graphconn serve --addr $(ADDR) --data-dir $(DATA_DIR)

# -count=1: the contract tests read openapi.yaml and gen/, which the test
# cache does not always notice changing. The contract suite runs on SQLite,
# and again on PostgreSQL when GRAPHCONN_TEST_POSTGRES names a database (the
# store and replica tests use it too).
TEST_FLAGS ?=

test:
	$(GO) test -count=1 $(TEST_FLAGS) ./...
	@if [ -n "$$GRAPHCONN_TEST_POSTGRES" ]; then \
	  echo "== contract tests on PostgreSQL"; \
	  GRAPHCONN_TEST_STORE=postgres $(GO) test -count=1 $(TEST_FLAGS) ./tests; \
	else \
	  echo "GRAPHCONN_TEST_POSTGRES is not set: the PostgreSQL tests were skipped"; \
	fi

test-race:
	$(MAKE) test TEST_FLAGS=-race

# Rebuild gen/ from openapi.yaml with the oapi-codegen version pinned in go.mod.
generate:
	$(GO) generate ./gen

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin
