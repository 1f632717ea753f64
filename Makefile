# Rotary — build, test, lint, benchmark and demo.
# Everything runs through the go command; no global installs are needed.

GO        ?= go
ARCH      ?= arm64
GOOS_LAMBDA := linux
GOFLAGS_BUILD := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
FUNCTIONS := $(notdir $(patsubst %/,%,$(filter-out functions/internal/,$(wildcard functions/*/))))
TEST_TIMEOUT ?= 20m
FUZZTIME ?= 10s
# Function built by build-RotationFunction (infra/per-account.yaml).
ROTARY_FUNCTION ?= postgres-single

.PHONY: all build test test-short lint fmt vet staticcheck tidy bench fuzz chaos demo schemas templates clean check-tools help iam

all: lint test build

help:
	@echo "make demo   - rotate real database, LDAP, Redis, ElastiCache-user and IAM-key credentials across accounts, locally"
	@echo "make test   - run every test (starts throwaway databases, the AWS emulator, moto_server and the Lambda RIE)"
	@echo "make test-short - the fast tier: every test that needs no server (under a minute)"
	@echo "make build  - build every function into dist/<fn>/bootstrap and dist/<fn>.zip (ARCH=$(ARCH))"
	@echo "make lint   - gofmt, go vet, staticcheck, go mod tidy -diff"
	@echo "make templates - cfn-lint and the SAM transform on every template, and the deployment checks"
	@echo "make bench  - benchmark report (API calls, logins, allocations, cold start, size)"
	@echo "make fuzz   - run every fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "make chaos  - the full chaos suite"
	@echo "make iam    - judge the templates' IAM with a real policy evaluator (npm ci in test/iam, then go test ./test/iam)"

## build: every function for Lambda (provided.al2023), linux/$(ARCH)
build: $(addprefix dist/,$(addsuffix .zip,$(FUNCTIONS)))

dist/%.zip: FORCE
	@command -v zip >/dev/null || { echo "zip is missing: apt-get install zip"; exit 1; }
	@mkdir -p dist/$*
	CGO_ENABLED=0 GOOS=$(GOOS_LAMBDA) GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o dist/$*/bootstrap ./functions/$*
	@rm -f $@ && cd dist/$* && zip -q -X ../$*.zip bootstrap
	@echo "built dist/$*/bootstrap and $@"

FORCE:

# SAM (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
build-CentralFunction:
	CGO_ENABLED=0 GOOS=$(GOOS_LAMBDA) GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/central

build-AuditFunction:
	CGO_ENABLED=0 GOOS=$(GOOS_LAMBDA) GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/audit

build-RotationFunction:
	CGO_ENABLED=0 GOOS=$(GOOS_LAMBDA) GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(ROTARY_FUNCTION)

## test: every test, integration and end-to-end included
test: check-tools test/iam/node_modules
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## iam: the IAM oracle alone (test/iam): must-allow, must-deny, negative control, who-may-do-what table
iam: test/iam/node_modules
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./test/iam/...

# The IAM evaluator (@cloud-copilot/iam-simulate, AGPL-3.0, test tool only) from the pinned lockfile.
test/iam/node_modules: test/iam/package-lock.json test/iam/package.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or later"; exit 1; }
	cd test/iam && npm ci --no-audit --no-fund
	@touch $@

## test-short: the fast tier, every test that needs no server (no database, moto_server or RIE; those skip)
test-short:
	$(GO) test -short -count=1 ./...

check-tools:
	@./scripts/check-tools.sh

## templates: cfn-lint (errors and warnings, less test/templates/waivers.yaml)
## and the SAM transform on every template, then the deployment checks.
## Also part of make test.
templates:
	@./scripts/check-tools.sh templates
	$(GO) test -count=1 ./test/templates/...

## lint: formatting, vet, staticcheck (run through go tool: nothing to install), go.mod/go.sum tidy
lint: fmt vet staticcheck tidy

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

# tidy: go.mod and go.sum are exactly what `go mod tidy` writes (direct requirements marked direct);
# prints the diff and fails otherwise.
tidy:
	$(GO) mod tidy -diff

## bench: the benchmark report (table on stdout, JSON in .bench/report.json)
bench: check-tools
	$(GO) run ./test/bench/cmd/report -out .bench/report.json

## chaos: the full chaos suite (every fault point of every step, every strategy)
chaos: check-tools
	cd test/chaos && ROTARY_CHAOS=full $(GO) test -count=1 -timeout 90m

## fuzz: each fuzz target for FUZZTIME
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

## schemas: refresh the pinned CloudFormation/SAM resource schemas used by template tests
schemas:
	@./scripts/refresh-schemas.sh

## demo: a real rotation on this machine, narrated
demo:
	$(GO) run ./test/e2e/cmd/demo

clean:
	rm -rf dist .bench.out
