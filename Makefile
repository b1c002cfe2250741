# The two commands a new user needs (see README):
#   make run    serve on the embedded store with the generated demo shop
#   make test   start PostgreSQL + pgvector (installing it if needed) and run every test
GO ?= go

.PHONY: run test testdb browser build smoke-load

run:
	$(GO) run ./cmd/recs serve

build:
	$(GO) build -o bin/recs ./cmd/recs

testdb:
	scripts/testdb.sh

# Chromium from Debian for the widget's browser tests.
browser:
	scripts/browser.sh

# RECS_TEST_REQUIRE_DB=1 and RECS_TEST_REQUIRE_BROWSER=1 turn a missing
# database or Chromium into a failure: the integration and browser tests
# must run, never skip.
test: testdb browser
	$(GO) vet ./...
	RECS_TEST_DATABASE_URL="$$(scripts/testdb.sh url)" RECS_TEST_REQUIRE_DB=1 RECS_TEST_REQUIRE_DATA=1 RECS_TEST_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 20m ./...
	scripts/smoke-load.sh

# 10 s of mixed traffic at 100 req/s; fails on any error or p99 > 100 ms.
smoke-load:
	scripts/smoke-load.sh
