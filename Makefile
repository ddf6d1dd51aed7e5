# Backup credentials service. `make run` serves the API locally with nothing
# else started; `make test` runs every test (moto_server is started by the
# tests themselves).
SHELL := /bin/bash
GO ?= go
GOARCH ?= arm64
PORT ?= 3000
# FUNCTION_DIRS, not FUNCTIONS: make would export a FUNCTIONS given in the
# environment with this value, and `FUNCTIONS=a,b make bench` would bench all.
FUNCTION_DIRS := $(notdir $(wildcard functions/*))
FUZZTIME ?= 40000x
BUILD_FLAGS := -trimpath -ldflags "-s -w" -tags lambda.norpc

.PHONY: all bench build cost chromium migrate run run-moto moto moto-table tools test-e2e health-check token test test-unit fuzz soak lint deploy check-tools clean

all: lint test

## build: every function to build/<function>/bootstrap (GOARCH=arm64 unless overridden)
build: $(addprefix build/,$(addsuffix /bootstrap,$(FUNCTION_DIRS)))

build/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build $(BUILD_FLAGS) -o $@ ./functions/$*

FORCE:

## run: serve every route on 127.0.0.1:$(PORT), in process (no AWS account)
run:
	PORT=$(PORT) $(GO) run ./infra/local-api

## moto: serve moto on 127.0.0.1:$(MOTO_PORT) (DynamoDB, Secrets Manager, STS, S3, IAM, EventBridge)
MOTO_PORT ?= 5000
MOTO_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
moto: check-tools
	python3 infra/moto/serve.py -p $(MOTO_PORT)

## run-moto: the local API on the moto that `make moto` serves
run-moto:
	$(MOTO_ENV) PORT=$(PORT) $(GO) run ./infra/local-api

## health-check: run the health check once against the moto that `make moto` serves
health-check:
	$(MOTO_ENV) $(GO) run ./infra/local-api health-check

## token: print a token the local API accepts (ORGS, ROLE, SUB, NAME to change it)
token:
	@$(GO) run ./infra/local-api token -orgs "$${ORGS:-org-1}" -role "$${ROLE:-partner}" -sub "$${SUB:-user-1}" -name "$${NAME:-Jane Admin}" -ttl "$${TTL:-12h}"

## check-tools: Go 1.26+, Python 3 with moto 5.x (server extras), cfn-lint; says how to install what is missing
check-tools:
	@ok=1; \
	v=$$($(GO) env GOVERSION 2>/dev/null | sed 's/^go//'); \
	if [ -z "$$v" ] || [ "$$(printf '1.26\n%s\n' "$$v" | sort -V | head -n1)" != 1.26 ]; then \
	  echo "Go 1.26 or newer is required (found: $${v:-none}); install it from https://go.dev/dl/"; ok=0; fi; \
	if ! command -v python3 >/dev/null; then echo "Python 3 is required (Debian: apt-get install python3 python3-pip)"; ok=0; \
	elif ! python3 -c 'import sys, moto, werkzeug; sys.exit(not moto.__version__.startswith("5."))' 2>/dev/null; then \
	  echo "moto 5.x with its server extras is required (found: $$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo none)): pip install 'moto[server]==5.2.1'"; ok=0; fi; \
	if ! command -v cfn-lint >/dev/null; then echo "cfn-lint is required (it lints template.yaml): pip install cfn-lint"; ok=0; fi; \
	[ $$ok = 1 ]

## chromium: Debian's Chromium for the page's browser test, installed when missing (as root, or say how)
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium for the browser test (apt-get install -y chromium)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is needed for the page's browser test: sudo apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)"; exit 1; fi; }

## test: lint (gofmt, vet, cfn-lint), every test once (HTTP on the local API and on moto, the page in Chromium, every function under aws-lambda-rie), bounded fuzzing
test: check-tools chromium lint tools
	RIE=$(CURDIR)/build/tools/aws-lambda-rie $(GO) test -count=1 -tags e2e ./...
	$(MAKE) fuzz

## fuzz: each fuzz target for FUZZTIME. A new input that widens coverage is
## minimized for at most 200 runs: Go's default (60 s each) left the workers
## minimizing, at 0 runs a second, for most of a short fuzz. FUZZTIME is a
## count of inputs: with a duration, Go before 1.27 can fail a target with a
## bare "context deadline exceeded" as the time ends (golang/go#75804), which
## a busy CI machine hit.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x $$pkg; \
	  done; \
	done

## soak: the stateful test for SOAK_MINUTES (10): generated sequences of every action, half the time on the
## in-process storage, half on it and moto in lockstep; prints sequences, steps and calls a second per storage
SOAK_MINUTES ?= 10
soak: check-tools
	SOAK_MINUTES=$(SOAK_MINUTES) $(GO) test -count=1 -v -timeout $$(( $(SOAK_MINUTES) * 2 + 30 ))m -run '^TestStateful$$' ./shared/stateful/

## lint: gofmt, go vet, cfn-lint
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt wants changes"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags eventbridge,secretsmanager,sts ./infra/bench/sdkfloor
	@if [ -f template.yaml ]; then cfn-lint template.yaml; fi

## deploy: sam build (each function through build-<LogicalId> below), then sam deploy (guided the first time)
deploy:
	sam build
	@if [ -f samconfig.toml ]; then sam deploy; else sam deploy --guided; fi

## SAM's makefile build method: sam build calls build-<LogicalId> with ARTIFACTS_DIR
SAM_FUNCTIONS := CreateFunction=create ListFunction=list GetFunction=get UpdateFunction=update DeleteFunction=delete \
  LockFunction=lock UnlockFunction=unlock MakeDefaultFunction=make-default CheckFunction=check ValidateFunction=validate \
  AssociateProjectFunction=associate-project DissociateProjectFunction=dissociate-project HistoryFunction=history \
  OrganizationsFunction=organizations HealthCheckFunction=health-check HealthScanFunction=health-scan \
  BackupTargetFunction=backup-target \
  PublishChangesFunction=publish-changes
define sam_build
build-$(word 1,$(subst =, ,$(1))):
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(BUILD_FLAGS) -o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(word 2,$(subst =, ,$(1)))
endef
$(foreach f,$(SAM_FUNCTIONS),$(eval $(call sam_build,$(f))))

## invoke-<function>: sam local invoke with events/<function>.json against `make moto`
invoke-%:
	sam local invoke $(shell echo $(SAM_FUNCTIONS) | tr ' ' '\n' | grep '=$*$$' | cut -d= -f1) -e events/$*.json --env-vars infra/sam-local-env.json

## migrate: move a table's project pointers to platform-wide keys (TABLE_NAME; AWS, or AWS_ENDPOINT_URL)
migrate:
	$(GO) run ./infra/local-api migrate

## moto-table: create the table in the moto that `make moto` serves (for sam local)
moto-table:
	$(MOTO_ENV) $(GO) run ./infra/local-api create-table

## tools: the Lambda Runtime Interface Emulator, for test-e2e and bench
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
tools: build/tools/aws-lambda-rie
build/tools/aws-lambda-rie:
	GOBIN=$(CURDIR)/build/tools $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## test-e2e: every function's real bootstrap under aws-lambda-rie against moto
test-e2e: check-tools tools
	RIE=$(CURDIR)/build/tools/aws-lambda-rie $(GO) test -count=1 -tags e2e ./infra/e2e/

## bench: cold starts, sizes, AWS calls and overhead per action, health throughput; writes infra/bench/report.md and report.json
bench: check-tools tools
	RIE=$(CURDIR)/build/tools/aws-lambda-rie COLD_STARTS=$${COLD_STARTS:-20} $(GO) run ./infra/bench

## cost: a month's cost at 1,000 to 1,000,000 credentials from the calls counted on moto; writes docs/cost.md
cost: check-tools
	$(GO) run ./infra/bench cost

clean:
	rm -rf build .aws-sam
