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
# cache does not always notice changing.
test:
	$(GO) test -count=1 ./...

test-race:
	$(GO) test -count=1 -race ./...

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
