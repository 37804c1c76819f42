# awsauth: two commands do all set-up on a fresh machine.
#   make demo   a real login against a local OpenID provider, then AWS calls
#               (MinIO's STS and S3) with the user's temporary credentials
#   make dev    the same stack left running on fixed ports for a browser; it prints
#               the settings for an app of your own (DEV_REDIRECT_URIS,
#               DEV_POST_LOGOUT_URIS and DEV_API_SCOPES add to what it registers;
#               README: "Your own app against make dev")
#   make test   every test, unit and end to end, plus lint and brief fuzzing
#   make soak   internal/soak for minutes: SOAK_DURATION (5m), SOAK_USERS (300),
#               SOAK_GOFLAGS (-race to add the race detector)
# Each installs only what it needs (scripts/deps.sh): demo and dev the provider,
# MinIO and Chromium (make deps-demo); test all the peers and tools (make deps).
# Each step of test and lint runs through scripts/step.sh, which names the step
# and, when it fails, says how (exit status or signal) and what failed.
SHELL := bash
.SHELLFLAGS := -o pipefail -c # a failing go test piped to tee fails its recipe
export GOFLAGS := -buildvcs=false
TOOLS := $(or $(AWSAUTH_TOOLS),$(HOME)/.cache/awsauth)/bin
FUZZTIME ?= 20000x
STEP := bash scripts/step.sh

.PHONY: deps deps-demo demo dev test unit lint fuzz bench soak

deps:
	@$(STEP) deps bash scripts/deps.sh test

deps-demo:
	@$(STEP) deps bash scripts/deps.sh demo

demo: deps-demo
	go run ./internal/demo

dev: deps-demo
	go run ./internal/demo -keep

test: deps lint fuzz
	@$(STEP) 'go test' go test -race -count=1 ./...

# Packages that need no peers, for a quick loop while editing.
unit:
	go test -race -count=1 ./pkce/... ./tokenstore/ ./awscreds/ ./authflow/... ./internal/jwks/... ./internal/httpx/ ./internal/cognito/

lint:
	@$(STEP) gofmt bash -c 'f=$$(git ls-files "*.go") && out=$$(gofmt -l $$f </dev/null) && { [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }; }'
	@$(STEP) 'go vet' go vet ./...
	@$(STEP) staticcheck $(TOOLS)/staticcheck ./...

# Brief fuzzing of every fuzz target (scripts/fuzz.sh; FUZZTIME=1m for longer).
fuzz:
	@$(STEP) fuzz env FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench: deps
	go test -run '^$$' -bench . -benchmem -count 6 ./authflow/ ./authflow/bearer/ ./internal/jwks/ ./tokenstore/ ./tokenstore/storeurl/ ./examples/s3/ | tee /tmp/awsauth-bench.txt
	go test -run '^$$' -bench . -benchmem -count 6 -benchtime 3x ./awscreds/ | tee -a /tmp/awsauth-bench.txt
	$(TOOLS)/benchstat /tmp/awsauth-bench.txt

# The soak run (internal/soak) at length; its short version runs in go test ./...
SOAK_DURATION ?= 5m
SOAK_USERS ?= 300
SOAK_GOFLAGS ?=
soak: deps
	SOAK_DURATION=$(SOAK_DURATION) SOAK_USERS=$(SOAK_USERS) go test $(SOAK_GOFLAGS) -count=1 -v -timeout 0 -run '^TestSoak$$' ./internal/soak/
