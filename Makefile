# Backup credentials service. `make run` serves the API locally with nothing
# else started; `make test` runs every test (moto_server is started by the
# tests themselves).
SHELL := /bin/bash
GO ?= go
GOARCH ?= arm64
PORT ?= 3000
FUNCTIONS := $(notdir $(wildcard functions/*))
FUZZTIME ?= 10s
BUILD_FLAGS := -trimpath -ldflags "-s -w" -tags lambda.norpc

.PHONY: all build run run-moto moto health-check token test test-unit fuzz lint deploy check-tools clean $(addprefix invoke-,$(FUNCTIONS))

all: lint test

## build: every function to build/<function>/bootstrap (GOARCH=arm64 unless overridden)
build: $(addprefix build/,$(addsuffix /bootstrap,$(FUNCTIONS)))

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
	@$(GO) run ./infra/local-api token -orgs "$${ORGS:-org-1}" -role "$${ROLE:-partner}" -sub "$${SUB:-user-1}" -name "$${NAME:-Jane Admin}"

check-tools:
	@python3 -c 'import moto, werkzeug' 2>/dev/null || { echo "moto 5 with its server extras is required: pip install 'moto[server]==5.2.1'"; exit 1; }

## test: vet, every test (HTTP on the local API and on moto), bounded fuzzing
test: check-tools
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) fuzz

## fuzz: each fuzz target for FUZZTIME
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## lint: gofmt, go vet, cfn-lint
lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt wants changes"; exit 1; }
	$(GO) vet ./...
	@if [ -f template.yaml ]; then cfn-lint template.yaml; fi

## deploy: sam build and deploy (guided the first time)
deploy: build
	@if [ -f samconfig.toml ]; then sam deploy; else sam deploy --guided; fi

clean:
	rm -rf build .aws-sam
