# hotline: build, run and test. GNU make.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

GO      ?= go
BIN     := bin/hotline
# Version stamp: the git description when this is a git checkout with commits.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test deps vet fmt bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hotline

# The embedded demo configuration: SIP on 127.0.0.1:5060, HTTP on 127.0.0.1:8080.
run: build
	./$(BIN) run

# Tools the tests need. SIPp (Debian's sip-tester) drives the end-to-end tests; gcc is
# the cgo toolchain go-sqlite3 and -race need. As root they are installed, otherwise
# the message says how.
deps:
	@need=(); \
	command -v sipp >/dev/null || need+=(sip-tester); \
	command -v gcc  >/dev/null || need+=(gcc libc6-dev); \
	if (( $${#need[@]} == 0 )); then exit 0; fi; \
	if [[ $$(id -u) -ne 0 ]]; then \
		echo "missing: $${need[*]}; install with: sudo apt-get install -y $${need[*]}" >&2; \
		exit 1; \
	fi; \
	apt-get update; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$${need[@]}"

vet:
	$(GO) vet ./...

# One go test for every package, -race included, so the cgo/SQLite build happens once.
test: deps vet
	$(GO) test -race -shuffle=on -timeout 8m ./...

fmt:
	gofmt -l -w .

# Go benchmarks, then the SIPp load ladder (cmd/hotline-bench: hotline against SIPp at
# rising rates, beside SIPp against SIPp); both go into docs/performance.md. Loopback
# only, bounded, about 4 minutes on 2 cores. bin/gobench.txt keeps the go test output.
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem ./... | tee bin/gobench.txt
	$(GO) run ./cmd/hotline-bench -hotline $(BIN) -gobench bin/gobench.txt -write docs/performance.md

clean:
	rm -rf bin
