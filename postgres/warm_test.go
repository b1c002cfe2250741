package postgres_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/postgres/pgtest"
)

// WarmConns opens every connection of the read and search pools and
// searches on each search connection from the vectors of sampled items
// (distinct, unit length, of the served build), and from a fixed vector
// while no build has any.
func TestWarmConnsSearchesFromSampledItems(t *testing.T) {
	ctx := t.Context()
	s := pgtest.Open(t)
	if probes, err := s.WarmProbes(ctx, 12); err != nil || len(probes) != 1 {
		t.Fatalf("probes without vectors: %d, %v; want the one fixed vector", len(probes), err)
	}
	all := int(s.Stat().MaxConns() + s.SearchStat().MaxConns())
	if n, err := s.WarmConns(ctx, 12); err != nil || n != all {
		t.Fatalf("WarmConns without vectors = %d, %v; want all %d connections", n, err, all)
	}

	r := rand.New(rand.NewPCG(3, 4))
	vecs := make([]catalog.ItemVector, 300)
	unit := map[string]string{} // the vectors as unit vectors, printed
	for i := range vecs {
		v := make([]float32, catalog.EmbeddingDims)
		var norm float64
		for d := range v {
			v[d] = float32(r.NormFloat64())
			norm += float64(v[d]) * float64(v[d])
		}
		vecs[i] = catalog.ItemVector{ItemID: fmt.Sprint("w", i), Vector: v}
		unit[key(v, math.Sqrt(norm))] = vecs[i].ItemID
	}
	now := time.Now()
	if err := s.PublishBuild(ctx, &catalog.Build{Version: "w1", CreatedAt: now, DataFrom: now, DataTo: now, Vectors: vecs}); err != nil {
		t.Fatal(err)
	}
	probes, err := s.WarmProbes(ctx, 12)
	if err != nil || len(probes) != 12 {
		t.Fatalf("probes: %d, %v; want 12", len(probes), err)
	}
	seen := map[string]bool{}
	for _, p := range probes {
		id, ok := unit[key(p.Slice(), 1)]
		if !ok || seen[id] {
			t.Fatalf("probe %v is not the unit vector of another served item (seen %v)", p.Slice()[:3], seen)
		}
		seen[id] = true
	}
	if n, err := s.WarmConns(ctx, 12); err != nil || n != all {
		t.Fatalf("WarmConns = %d, %v; want all %d connections", n, err, all)
	}
}

// key prints v/norm rounded, so a vector and its stored unit form match.
func key(v []float32, norm float64) string {
	b := make([]byte, 0, len(v)*6)
	for _, x := range v {
		b = fmt.Appendf(b, "%.3f,", float64(x)/norm)
	}
	return string(b)
}
