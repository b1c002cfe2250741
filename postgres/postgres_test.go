package postgres_test

import (
	"context"
	"testing"

	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/postgres/pgtest"
	"github.com/recs-server/recs/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return pgtest.Open(t) })
}

func TestMigrateIsIdempotent(t *testing.T) {
	cfg := pgtest.Config(t)
	applied, err := postgres.Migrate(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
}
