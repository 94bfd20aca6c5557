# nexus — build, test and release targets. `make test` is what CI runs.
GO        ?= go
PKG       := github.com/nexus-compliance/nexus
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
BENCHTIME ?= 1x

.PHONY: all build install test test-unit lint bench emulators demo docs clean

all: lint build test

## build: compile bin/nexus with the version stamped in
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nexus ./cmd/nexus

## install: install nexus into $GOBIN (or $GOPATH/bin)
install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/nexus

## test: install and start the emulators, run the whole suite with -race, stop them
test:
	.ci/onnxruntime.sh .ci/emulators.sh $(GO) test -race -count=1 ./...

## test-unit: the suite without emulators (integration tests skip)
test-unit:
	$(GO) test -race ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: benchmarks against the emulators, with ratios printed
bench:
	.ci/onnxruntime.sh .ci/emulators.sh $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./...

## demo: a whole local Nexus on the emulators, no AWS account needed
demo: build
	.ci/emulators.sh .ci/demo.sh

## docs: regenerate the command reference (docs/cli) and man pages (manpages/)
docs:
	$(GO) run ./cmd/nexus docs --markdown docs/cli --man manpages

## emulators: a shell with the emulators running and their endpoints exported
emulators:
	.ci/emulators.sh $${SHELL:-bash}

clean:
	rm -rf bin dist
