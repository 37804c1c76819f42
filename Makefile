# awsauth: two commands do all set-up on a fresh machine.
#   make demo   a real login against a local OpenID provider, then AWS calls
#               (MinIO's STS and S3) with the user's temporary credentials
#   make dev    the same stack left running on fixed ports for a browser; it prints
#               the settings for an app of your own (DEV_REDIRECT_URIS,
#               DEV_POST_LOGOUT_URIS and DEV_API_SCOPES add to what it registers;
#               README: "Your own app against make dev")
#   make test   every test, unit and end to end, plus lint and brief fuzzing
SHELL := bash
export GOFLAGS := -buildvcs=false
TOOLS := $(or $(AWSAUTH_TOOLS),$(HOME)/.cache/awsauth)/bin
FUZZTIME ?= 20000x

.PHONY: deps demo dev test unit lint fuzz bench

deps:
	bash scripts/deps.sh

demo: deps
	go run ./internal/demo

dev: deps
	go run ./internal/demo -keep

test: deps lint
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh
	go test -race -count=1 ./...

# Packages that need no peers, for a quick loop while editing.
unit:
	go test -race -count=1 ./pkce/... ./tokenstore/ ./awscreds/ ./authflow/... ./internal/jwks/... ./internal/httpx/ ./internal/cognito/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	$(TOOLS)/staticcheck ./...

bench:
	go test -run '^$$' -bench . -benchmem -count 6 ./authflow/ ./authflow/bearer/ ./internal/jwks/ ./tokenstore/ ./tokenstore/storeurl/ ./examples/s3/ | tee /tmp/awsauth-bench.txt
	go test -run '^$$' -bench . -benchmem -count 6 -benchtime 3x ./awscreds/ | tee -a /tmp/awsauth-bench.txt
	$(TOOLS)/benchstat /tmp/awsauth-bench.txt
