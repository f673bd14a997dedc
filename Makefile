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

.PHONY: all build run test toolchain deps vet fmt bench fuzz robust clean

all: build

build: toolchain
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hotline

# The embedded demo configuration: SIP on 127.0.0.1:5060, HTTP on 127.0.0.1:8080.
run: build
	./$(BIN) run

# ensure installs the Debian packages of the commands that are missing: $(1) is a list
# of command:package[+package] pairs. As root it runs apt-get; otherwise it fails and
# says what to install.
ensure = need=(); \
	for pair in $(1); do \
		command -v "$${pair%%:*}" >/dev/null || need+=($${pair\#*:}); \
	done; \
	need=($${need[@]//+/ }); \
	if (( $${\#need[@]} == 0 )); then exit 0; fi; \
	if [[ $$(id -u) -ne 0 ]]; then \
		echo "missing: $${need[*]}; install with: sudo apt-get install -y $${need[*]}" >&2; \
		exit 1; \
	fi; \
	apt-get update; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y $${need[@]}

# The Go toolchain and gcc: go-sqlite3 is cgo, and -race needs cgo too.
toolchain:
	@command -v $(GO) >/dev/null || { echo "go not found: install Go 1.26 or later and put it on PATH" >&2; exit 1; }
	@$(call ensure,gcc:gcc+libc6-dev)

# Tools the tests need besides the toolchain: SIPp (Debian's sip-tester) drives the
# end-to-end tests.
deps: toolchain
	@$(call ensure,sipp:sip-tester)

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

# Every fuzz target of every package, FUZZTIME each (not part of make test: a
# fuzzer runs until told to stop). New crashers land in the package's
# testdata/fuzz/ and fail the run. Go 1.26's fuzz coordinator can fail a
# target with "context deadline exceeded" when -fuzztime ends while a worker
# is busy, having found nothing (go.dev/issue/75804, fixed in Go 1.27): a
# failure that wrote no new input to testdata/fuzz/ and says just that is
# reported and skipped. A new interesting input is minimized in at most
# FUZZMINIMIZE runs: Go's default, 60 s each, spent a whole FUZZTIME on one
# configuration file (config's targets ran some 30 inputs in 30 s).
# FUZZFLAGS adds flags, e.g. FUZZFLAGS=-parallel=1.
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 1000x
FUZZFLAGS ?=
fuzz: toolchain
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; shopt -s nullglob; \
	for pkg in $$($(GO) list ./...); do \
		corpus=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz; \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			before=("$$corpus/$$target"/*); \
			if $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $(FUZZFLAGS) $$pkg 2>&1 | tee "$$log"; then \
				continue; \
			fi; \
			after=("$$corpus/$$target"/*); \
			if (( $${#after[@]} > $${#before[@]} )) || ! grep -q '^    context deadline exceeded$$' "$$log"; then \
				exit 1; \
			fi; \
			echo "== $$target: the fuzz coordinator's deadline race (go.dev/issue/75804), no crasher: skipped"; \
		done; \
	done

# The robustness checks of docs/security.md at full size (HOTLINE_ROBUST=1): the
# torture corpus over UDP and TCP, an INVITE flood beside trunk calls, REGISTER
# brute force, hostile SDP, malformed RTP, kill -9 under load. Loopback only,
# bounded; under a minute on 2 cores. Prints the table of what held;
# bin/robust.txt keeps the whole output. make test runs the same checks smaller.
ROBUST_TESTS := TestTortureMessages|TestTortureBlastLeavesServerHealthy|TestHostileRequestsGetTheirAnswers|TestHostileSDPOffers|TestInviteFloodSparesTrunkCalls|TestRegisterBruteForceIsLockedOut|TestMalformedRTPIsDroppedAndCounted|TestKillNineUnderLoad|TestTCPConnectionFloodIsBounded|TestSecretsNeverLogged
robust: deps
	@mkdir -p bin
	@status=0; HOTLINE_ROBUST=1 $(GO) test -count=1 -timeout 20m -v -run '^($(ROBUST_TESTS))$$' ./app/ > bin/robust.txt 2>&1 || status=$$?; \
	grep '^robust|' bin/robust.txt | sed 's/^robust|//'; \
	grep -E '^(--- FAIL|FAIL|ok )' bin/robust.txt || true; \
	exit $$status

clean:
	rm -rf bin
