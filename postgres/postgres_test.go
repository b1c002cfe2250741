package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recs-server/recs/catalog"

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

// A build's vectors are loaded into a staged table and swapped in: the
// served table must end up with the migrations' indexes under their own
// names, the new vectors only, and no staged table left behind.
func TestPublishBuildSwapsInIndexedVectors(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Config(t)
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	indexes := func() string {
		t.Helper()
		var defs string
		err := conn.QueryRow(ctx, `SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes
			WHERE schemaname = $1 AND tablename = 'item_vectors'`, cfg.Schema).Scan(&defs)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(defs, cfg.Schema+".", "")
	}
	migrated := indexes()
	r := rand.New(rand.NewPCG(1, 2))
	for i, n := range []int{50, 70} {
		vecs := make([]catalog.ItemVector, n)
		for j := range vecs {
			v := make([]float32, catalog.EmbeddingDims)
			for d := range v {
				v[d] = float32(r.NormFloat64())
			}
			vecs[j] = catalog.ItemVector{ItemID: fmt.Sprintf("b%d-%d", i, j), Vector: v}
		}
		now := time.Now()
		b := &catalog.Build{Version: fmt.Sprint("v", i), CreatedAt: now, DataFrom: now, DataTo: now, Vectors: vecs}
		if err := s.PublishBuild(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := s.NearestItems(ctx, vecs[0].Vector, 10)
		if err != nil || len(got) != 10 || got[0].ItemID != vecs[0].ItemID {
			t.Fatalf("build %d: nearest %v, %v; want 10 of this build's items, %s first", i, got, err, vecs[0].ItemID)
		}
	}
	if got := indexes(); got != migrated || !strings.Contains(got, "item_vectors_hnsw_idx") {
		t.Fatalf("indexes after two builds:\n%s\nwant as migrated:\n%s", got, migrated)
	}
	var rows, staged int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+pgx.Identifier{cfg.Schema, "item_vectors"}.Sanitize()+`),
		(SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'item_vectors_next')`, cfg.Schema).Scan(&rows, &staged)
	if err != nil || rows != 70 || staged != 0 {
		t.Fatalf("%d vectors served, %d staged tables (%v); want 70 and none", rows, staged, err)
	}
}
