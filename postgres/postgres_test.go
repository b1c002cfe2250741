package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/recs-server/recs/storetest"
)

// testConfig returns a config for a fresh, migrated schema that is dropped
// when the test ends. Without RECS_TEST_DATABASE_URL the test is skipped,
// unless RECS_TEST_REQUIRE_DB=1 (as in CI and `make test`) makes it fail.
func testConfig(t *testing.T) Config {
	t.Helper()
	url := os.Getenv("RECS_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("RECS_TEST_REQUIRE_DB") == "1" {
			t.Fatal("RECS_TEST_DATABASE_URL is not set but RECS_TEST_REQUIRE_DB=1: run `make test`, which starts the test database")
		}
		t.Skip("RECS_TEST_DATABASE_URL not set; `make test` starts a database and runs this")
	}
	cfg := Config{URL: url, Schema: fmt.Sprintf("test_%x", rand.Uint64())}
	ctx := context.Background()
	if _, err := Migrate(ctx, cfg, nil); err != nil {
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

// OpenTest opens a store on a fresh schema for one test.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

func TestMigrateIsIdempotent(t *testing.T) {
	cfg := testConfig(t)
	applied, err := Migrate(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
}
