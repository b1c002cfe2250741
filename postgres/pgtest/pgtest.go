// Package pgtest gives tests a PostgreSQL store of their own: a fresh,
// migrated schema in the test database, dropped when the test ends.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/recs-server/recs/postgres"
)

// Config returns the config of a fresh, migrated schema. Without
// RECS_TEST_DATABASE_URL the test is skipped, unless RECS_TEST_REQUIRE_DB=1
// (as `make test` and CI set) makes that a failure.
func Config(t testing.TB) postgres.Config {
	t.Helper()
	url := os.Getenv("RECS_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("RECS_TEST_REQUIRE_DB") == "1" {
			t.Fatal("RECS_TEST_DATABASE_URL is not set but RECS_TEST_REQUIRE_DB=1: run `make test`, which starts the test database")
		}
		t.Skip("RECS_TEST_DATABASE_URL not set; `make test` starts a database and runs this")
	}
	cfg := postgres.Config{URL: url, Schema: fmt.Sprintf("test_%x", rand.Uint64())}
	if _, err := postgres.Migrate(context.Background(), cfg, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{cfg.Schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return cfg
}

// Open opens a store on a fresh schema, closed when the test ends.
func Open(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), Config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
