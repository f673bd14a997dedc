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

# Go benchmarks, then the SIPp load run when the cmd/hotline-bench driver exists.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@if [[ -d cmd/hotline-bench ]]; then \
		$(GO) run ./cmd/hotline-bench; \
	else \
		echo "bench: no cmd/hotline-bench, SIPp load run skipped"; \
	fi

clean:
	rm -rf bin
