package postgres_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/postgres/pgtest"
)

// The vector tests and benchmarks load a catalogue of item vectors into a
// fresh schema. By default it is the content embeddings of a generated demo
// shop of 20,000 items, the vectors a build serves for a shop without
// history. For runs by hand:
//
//	RECS_VECTOR_ITEMS=100000        how many items
//	RECS_VECTOR_DATA=clustered      synthetic clusters instead of demo content
//	RECS_VECTOR_LOAD=index-first    load as a build does (see loadIndexFirst)
const defaultVectorItems = 20000

// vectorSet is a catalogue of unit item vectors; group says which items
// belong together (the demo category, or the synthetic cluster), for
// queries that mix related items like a session does.
type vectorSet struct {
	name  string
	ids   []string
	vecs  [][]float32
	group []int
}

func vectorItems(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("RECS_VECTOR_ITEMS")
	if s == "" {
		return defaultVectorItems
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		tb.Fatalf("RECS_VECTOR_ITEMS=%q: want a number >= 1000", s)
	}
	return n
}

// testVectors builds a catalogue of n items of the kind the environment
// asks for.
func testVectors(tb testing.TB, n int) vectorSet {
	tb.Helper()
	switch d := os.Getenv("RECS_VECTOR_DATA"); d {
	case "", "content":
		return contentVectors(n)
	case "clustered":
		return clusteredVectors(n, 1)
	default:
		tb.Fatalf("RECS_VECTOR_DATA=%q: want content or clustered", d)
		return vectorSet{}
	}
}

// contentVectors embeds the items of a demo shop of n items with the
// content model a build would learn from them. The shop's history is kept
// minimal: the catalogue does not depend on it.
func contentVectors(n int) vectorSet {
	shop := demo.Generate(demo.Options{Items: n, Days: 1, Visitors: 1})
	m := embeddings.NewContentModel(shop.Items, 1)
	vs := vectorSet{name: "demo content", ids: make([]string, n), vecs: make([][]float32, n), group: make([]int, n)}
	flat := make([]float32, 0, n*catalog.EmbeddingDims)
	groups := map[string]int{}
	for i := range shop.Items {
		it := &shop.Items[i]
		flat = m.Embed(it, flat)
		vs.ids[i] = it.ID
		vs.vecs[i] = flat[i*catalog.EmbeddingDims : (i+1)*catalog.EmbeddingDims : (i+1)*catalog.EmbeddingDims]
		key := strings.Join(it.Category, ">")
		g, ok := groups[key]
		if !ok {
			g = len(groups)
			groups[key] = g
		}
		vs.group[i] = g
	}
	return vs
}

// clusteredVectors makes n unit vectors in n/250 clusters of Zipf-like
// sizes (a few items to a few thousand) under 20 "departments": a vector
// is its department's direction plus its cluster's offset plus noise of a
// per-cluster spread. Unlike uniform noise (the worst case for any index,
// and nothing like embeddings) it has the local structure real embeddings
// have.
func clusteredVectors(n int, seed uint64) vectorSet {
	const dims = catalog.EmbeddingDims
	r := rand.New(rand.NewPCG(seed, 0x636c7573))
	gauss := func(dst []float32, scale float64) {
		for i := range dst {
			dst[i] += float32(r.NormFloat64() * scale)
		}
	}
	nClusters := max(n/250, 2)
	const nDepts = 20
	depts := make([][]float32, nDepts)
	for d := range depts {
		depts[d] = make([]float32, dims)
		gauss(depts[d], 1/math.Sqrt(dims))
	}
	centres := make([][]float32, nClusters)
	spread := make([]float64, nClusters)
	weight := make([]float64, nClusters)
	total := 0.0
	for c := range centres {
		centres[c] = slices.Clone(depts[r.IntN(nDepts)])
		gauss(centres[c], 0.8/math.Sqrt(dims))
		embeddings.Normalize(centres[c])
		spread[c] = 0.35 + 0.5*r.Float64()
		weight[c] = 1 / math.Pow(float64(c+1), 0.8)
		total += weight[c]
	}
	cum := make([]float64, nClusters)
	acc := 0.0
	for c := range weight {
		acc += weight[c] / total
		cum[c] = acc
	}
	vs := vectorSet{name: "clustered synthetic", ids: make([]string, n), vecs: make([][]float32, n), group: make([]int, n)}
	flat := make([]float32, n*dims)
	for i := range n {
		c, _ := slices.BinarySearch(cum, r.Float64())
		c = min(c, nClusters-1)
		v := flat[i*dims : (i+1)*dims : (i+1)*dims]
		copy(v, centres[c])
		gauss(v, spread[c]/math.Sqrt(dims))
		embeddings.Normalize(v)
		vs.ids[i] = fmt.Sprintf("c%07d", i)
		vs.vecs[i] = v
		vs.group[i] = c
	}
	return vs
}

// queryVectors makes n queries of the three kinds the server sends: an
// item's own vector (similar items on a product page), an item's vector
// with noise (a new item, or one whose vector moved since the build) and a
// recency-weighted mean of five related items (a session vector).
func queryVectors(vs vectorSet, n int, seed uint64) [][]float32 {
	const dims = catalog.EmbeddingDims
	r := rand.New(rand.NewPCG(seed, 0x71756572))
	byGroup := map[int][]int{}
	for i, g := range vs.group {
		byGroup[g] = append(byGroup[g], i)
	}
	out := make([][]float32, n)
	for i := range out {
		a := r.IntN(len(vs.vecs))
		q := slices.Clone(vs.vecs[a])
		switch i % 3 {
		case 1:
			for d := range q {
				q[d] += float32(r.NormFloat64() * 0.4 / math.Sqrt(dims))
			}
		case 2:
			same := byGroup[vs.group[a]]
			w := float32(1)
			for range 4 {
				w *= 0.8
				b := vs.vecs[same[r.IntN(len(same))]]
				for d := range q {
					q[d] += w * b[d]
				}
			}
		}
		embeddings.Normalize(q)
		out[i] = q
	}
	return out
}

// vectorFixture is a schema loaded with the test vectors: the store under
// test and a plain connection to the same schema for exact searches.
type vectorFixture struct {
	cfg   postgres.Config
	store *postgres.Store
	conn  *pgx.Conn
	vs    vectorSet
	// made is how long making the vectors took, load how long publishing
	// them took and index how long building the HNSW index after it took
	// (zero when indexFirst).
	made, load, index time.Duration
	indexFirst        bool
}

// loadIndexFirst says whether fixtures load the vectors the way a build
// publishes them, into the table whose HNSW index the migration made (every
// row is inserted into the graph: about 1,000 rows/s here), or, by default,
// into the table without the index, which is then built from the same
// definition (several times faster; what keeps the test short).
// RECS_VECTOR_LOAD=index-first picks the build's way.
func loadIndexFirst(tb testing.TB) bool {
	tb.Helper()
	switch l := os.Getenv("RECS_VECTOR_LOAD"); l {
	case "", "index-after":
		return false
	case "index-first":
		return true
	default:
		tb.Fatalf("RECS_VECTOR_LOAD=%q: want index-first or index-after", l)
		return false
	}
}

// loadVectorFixture makes n test vectors and loads them into a fresh
// schema. Without a database it skips (or fails) before making them.
func loadVectorFixture(tb testing.TB, n int) *vectorFixture {
	tb.Helper()
	ctx := context.Background()
	cfg := pgtest.Config(tb)
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	f := &vectorFixture{cfg: cfg, store: s, conn: openSchemaConn(tb, cfg), indexFirst: loadIndexFirst(tb)}
	start := time.Now()
	f.vs = testVectors(tb, n)
	f.made = time.Since(start)
	f.load, f.index = publishVectors(tb, s, f.conn, itemVectors(f.vs), !f.indexFirst, "")
	if _, err := f.conn.Exec(ctx, `ANALYZE item_vectors`); err != nil {
		tb.Fatal(err)
	}
	return f
}

// publishVectors publishes vecs as a build's vectors into a fresh schema,
// through s (one COPY in one transaction, as a build does). With
// indexAfter the migration's HNSW index is dropped first and created again
// from its definition after the load, on conn, with maintenance_work_mem
// set to mwm unless empty.
func publishVectors(tb testing.TB, s *postgres.Store, conn *pgx.Conn, vecs []catalog.ItemVector, indexAfter bool, mwm string) (load, index time.Duration) {
	tb.Helper()
	ctx := context.Background()
	var indexDef string
	if indexAfter {
		err := conn.QueryRow(ctx, `SELECT indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND indexname = 'item_vectors_hnsw_idx'`).Scan(&indexDef)
		if err != nil {
			tb.Fatalf("read the HNSW index definition: %v", err)
		}
		if _, err := conn.Exec(ctx, `DROP INDEX item_vectors_hnsw_idx`); err != nil {
			tb.Fatal(err)
		}
	}
	start := time.Now()
	now := time.Now()
	if err := s.PublishBuild(ctx, &catalog.Build{Version: "v1", CreatedAt: now, DataFrom: now, DataTo: now, Vectors: vecs}); err != nil {
		tb.Fatal(err)
	}
	load = time.Since(start)
	if !indexAfter {
		return load, 0
	}
	if mwm != "" {
		if _, err := conn.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, false)`, mwm); err != nil {
			tb.Fatal(err)
		}
	}
	start = time.Now()
	if _, err := conn.Exec(ctx, indexDef); err != nil {
		tb.Fatalf("build the HNSW index: %v", err)
	}
	return load, time.Since(start)
}

// describe says what the fixture holds and how long loading it took.
func (f *vectorFixture) describe() string {
	n := len(f.vs.ids)
	if f.indexFirst {
		return fmt.Sprintf("%d %s vectors made in %v, published into the indexed table in %v (%.0f rows/s)",
			n, f.vs.name, f.made.Round(time.Millisecond), f.load.Round(time.Millisecond), float64(n)/f.load.Seconds())
	}
	return fmt.Sprintf("%d %s vectors made in %v, published in %v, HNSW index built after in %v (%.0f rows/s)",
		n, f.vs.name, f.made.Round(time.Millisecond), f.load.Round(time.Millisecond), f.index.Round(time.Millisecond),
		float64(n)/(f.load+f.index).Seconds())
}

func itemVectors(vs vectorSet) []catalog.ItemVector {
	vecs := make([]catalog.ItemVector, len(vs.ids))
	for i := range vecs {
		vecs[i] = catalog.ItemVector{ItemID: vs.ids[i], Vector: vs.vecs[i]}
	}
	return vecs
}

// openSchemaConn connects to cfg's schema outside the store's pool.
func openSchemaConn(tb testing.TB, cfg postgres.Config) *pgx.Conn {
	tb.Helper()
	ctx := context.Background()
	pc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		tb.Fatal(err)
	}
	pc.RuntimeParams["search_path"] = cfg.Schema + ",public"
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	if err := pgxvec.RegisterTypes(ctx, conn); err != nil {
		tb.Fatal(err)
	}
	return conn
}

// nearestSQL is NearestItems' query.
const nearestSQL = `WITH nearest AS MATERIALIZED (
		SELECT item_id, embedding <=> $1 AS distance FROM item_vectors ORDER BY distance LIMIT $2)
	SELECT item_id, 1 - distance FROM nearest ORDER BY distance, item_id`

// exactNearest answers NearestItems' query without the index: a
// sequential scan and a sort over every vector.
func (f *vectorFixture) exactNearest(ctx context.Context, q []float32, k int) ([]catalog.Scored, error) {
	var out []catalog.Scored
	err := pgx.BeginFunc(ctx, f.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, nearestSQL, pgvector.NewVector(q), k)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[catalog.Scored])
		return err
	})
	return out, err
}

// plan returns the query plan of the nearest-item query, with the index
// scan off when exact.
func (f *vectorFixture) plan(tb testing.TB, exact bool) string {
	tb.Helper()
	ctx := context.Background()
	var lines []string
	err := pgx.BeginFunc(ctx, f.conn, func(tx pgx.Tx) error {
		if exact {
			if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off`); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+nearestSQL, pgvector.NewVector(f.vs.vecs[0]), 200)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// recallAt is the share of the exact top k that got found. An item counts
// when it scores at least the exact k-th score (less a rounding
// allowance), so that among tied items at the cut any one will do.
func recallAt(got, exact []catalog.Scored, k int) float64 {
	if len(exact) == 0 {
		return 1
	}
	k = min(k, len(exact))
	cut := exact[k-1].Score - 1e-6
	hits := 0
	seen := make(map[string]bool, len(got))
	for _, s := range got[:min(len(got), k)] {
		if s.Score >= cut && !seen[s.ItemID] {
			hits++
		}
		seen[s.ItemID] = true
	}
	return float64(hits) / float64(k)
}

type recallStats struct {
	mean, min float64
	p50, p99  time.Duration
}

// measureRecall runs every query through s and compares with the exact
// answers.
func measureRecall(tb testing.TB, s *postgres.Store, queries [][]float32, exact [][]catalog.Scored, k int) recallStats {
	tb.Helper()
	ctx := context.Background()
	st := recallStats{min: 1}
	for _, q := range queries[:min(len(queries), 10)] { // warm the pool's connection and statement cache
		if _, err := s.NearestItems(ctx, q, k); err != nil {
			tb.Fatal(err)
		}
	}
	took := make([]time.Duration, len(queries))
	for i, q := range queries {
		start := time.Now()
		got, err := s.NearestItems(ctx, q, k)
		took[i] = time.Since(start)
		if err != nil {
			tb.Fatal(err)
		}
		if len(got) != k {
			tb.Fatalf("NearestItems returned %d rows, want %d", len(got), k)
		}
		if !slices.IsSortedFunc(got, func(a, b catalog.Scored) int { return cmp.Compare(b.Score, a.Score) }) {
			tb.Fatalf("NearestItems returned rows out of order: %v", got)
		}
		r := recallAt(got, exact[i], k)
		st.mean += r
		st.min = min(st.min, r)
	}
	st.mean /= float64(len(queries))
	st.p50, st.p99 = percentiles(took)
	return st
}

func TestNearestItemsRecallAt200(t *testing.T) {
	const k = 200
	ctx := context.Background()
	f := loadVectorFixture(t, vectorItems(t))
	t.Log(f.describe())

	// Recall is only meaningful if the planner uses the index, and the
	// reference only if it does not.
	if p := f.plan(t, false); !strings.Contains(p, "item_vectors_hnsw_idx") {
		t.Fatalf("nearest-item query does not use the HNSW index:\n%s", p)
	}
	if p := f.plan(t, true); strings.Contains(p, "item_vectors_hnsw_idx") {
		t.Fatalf("exact query uses the HNSW index:\n%s", p)
	}

	queries := queryVectors(f.vs, 99, 7)
	exact := make([][]catalog.Scored, len(queries))
	took := make([]time.Duration, len(queries))
	for i, q := range queries {
		start := time.Now()
		var err error
		exact[i], err = f.exactNearest(ctx, q, k)
		took[i] = time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if len(exact[i]) != k {
			t.Fatalf("exact search returned %d rows, want %d", len(exact[i]), k)
		}
	}
	p50, p99 := percentiles(took)
	t.Logf("exact k=%d: p50 %v p99 %v", k, p50.Round(time.Microsecond), p99.Round(time.Microsecond))

	// The store as configured by default, then ef_search raised.
	def := measureRecall(t, f.store, queries, exact, k)
	t.Logf("hnsw k=%d default ef_search: recall mean %.4f min %.3f; p50 %v p99 %v",
		k, def.mean, def.min, def.p50.Round(time.Microsecond), def.p99.Round(time.Microsecond))
	for _, ef := range []int{300, 400} {
		cfg := f.cfg
		cfg.EFSearch = ef
		s, err := postgres.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		st := measureRecall(t, s, queries, exact, k)
		s.Close()
		t.Logf("hnsw k=%d ef_search=%d: recall mean %.4f min %.3f; p50 %v p99 %v",
			k, ef, st.mean, st.min, st.p50.Round(time.Microsecond), st.p99.Round(time.Microsecond))
	}
	// k=20 (a product page's similar items) at the default ef_search; the
	// exact top 20 is the head of the exact top 200.
	exact20 := make([][]catalog.Scored, len(exact))
	for i := range exact {
		exact20[i] = exact[i][:20]
	}
	st20 := measureRecall(t, f.store, queries, exact20, 20)
	t.Logf("hnsw k=20 default ef_search: recall mean %.4f min %.3f; p50 %v p99 %v",
		st20.mean, st20.min, st20.p50.Round(time.Microsecond), st20.p99.Round(time.Microsecond))
	if def.mean < 0.95 {
		t.Errorf("mean recall@%d = %.4f with the default ef_search, want >= 0.95", k, def.mean)
	}
	if st20.mean < 0.95 {
		t.Errorf("mean recall@20 = %.4f with the default ef_search, want >= 0.95", st20.mean)
	}
}

// movedVectors returns vs with every vector moved a little, as the next
// build moves them (new events, a new vocabulary).
func movedVectors(vs vectorSet, seed uint64) vectorSet {
	const dims = catalog.EmbeddingDims
	r := rand.New(rand.NewPCG(seed, 0x6d6f7665))
	moved := vs
	moved.vecs = make([][]float32, len(vs.vecs))
	flat := make([]float32, len(vs.vecs)*dims)
	for i, v := range vs.vecs {
		m := flat[i*dims : (i+1)*dims : (i+1)*dims]
		for d := range m {
			m[d] = v[d] + float32(r.NormFloat64()*0.1/math.Sqrt(dims))
		}
		embeddings.Normalize(m)
		moved.vecs[i] = m
	}
	return moved
}

// A build replaces every vector in one transaction (a staged table swapped
// in; before, a delete and a copy that left the old rows in the graph
// until vacuum, each one found taking a place in the candidate list).
// NearestItems must still return k neighbours, close to the exact ones.
func TestNearestItemsReturnsKAfterBuildsReplaceVectors(t *testing.T) {
	const k = 200
	ctx := context.Background()
	f := loadVectorFixture(t, 5000)
	// Keep any dead rows for the test, whatever autovacuum would do.
	if _, err := f.conn.Exec(ctx, `ALTER TABLE item_vectors SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	for i, version := range []string{"v2", "v3"} {
		f.vs = movedVectors(f.vs, uint64(i))
		now := time.Now()
		start := time.Now()
		if err := f.store.PublishBuild(ctx, &catalog.Build{Version: version, CreatedAt: now, DataFrom: now, DataTo: now, Vectors: itemVectors(f.vs)}); err != nil {
			t.Fatal(err)
		}
		t.Logf("build %s replaced %d vectors in %v", version, len(f.vs.ids), time.Since(start).Round(time.Millisecond))
	}
	queries := queryVectors(f.vs, 60, 5)
	exact := make([][]catalog.Scored, len(queries))
	for i, q := range queries {
		var err error
		if exact[i], err = f.exactNearest(ctx, q, k); err != nil {
			t.Fatal(err)
		}
	}
	st := measureRecall(t, f.store, queries, exact, k) // fails unless k rows come back
	t.Logf("two thirds of the graph dead: recall@%d mean %.4f min %.3f; p50 %v p99 %v",
		k, st.mean, st.min, st.p50.Round(time.Microsecond), st.p99.Round(time.Microsecond))
	if st.mean < 0.9 {
		t.Errorf("mean recall@%d = %.4f after two builds, want >= 0.9", k, st.mean)
	}
}
