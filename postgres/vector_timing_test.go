package postgres_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/postgres/pgtest"
)

// percentiles returns the median and the 99th percentile of samples
// (nearest rank); it sorts samples.
func percentiles(samples []time.Duration) (p50, p99 time.Duration) {
	if len(samples) == 0 {
		return 0, 0
	}
	slices.Sort(samples)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(samples))+0.999999) - 1
		return samples[min(max(i, 0), len(samples)-1)]
	}
	return rank(0.50), rank(0.99)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var sinkScored []catalog.Scored

type nearestFunc func(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error)

// benchQueries asks for the k nearest items of one query per iteration,
// cycling through queries, and reports the median and 99th percentile of
// the single-query latencies besides the mean (ns/op). Run it with
// -benchtime=1000x for the figures over 1000 sequential queries.
func benchQueries(b *testing.B, queries [][]float32, k int, nearest nearestFunc) {
	ctx := context.Background()
	samples := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		got, err := nearest(ctx, queries[i%len(queries)], k)
		samples = append(samples, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		sinkScored = got
		i++
	}
	p50, p99 := percentiles(samples)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
}

// benchNearest loads the test vectors once and times k-nearest queries
// through the store (HNSW with the default ef_search, then with each of
// efs) and the exact search over the same rows.
func benchNearest(b *testing.B, k int, efs ...int) {
	f := loadVectorFixture(b, vectorItems(b))
	b.Log(f.describe())
	queries := queryVectors(f.vs, 1000, 11)
	b.Run("hnsw", func(b *testing.B) { benchQueries(b, queries, k, f.store.NearestItems) })
	for _, ef := range efs {
		cfg := f.cfg
		cfg.EFSearch = ef
		s, err := postgres.Open(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("hnsw-ef="+strconv.Itoa(ef), func(b *testing.B) { benchQueries(b, queries, k, s.NearestItems) })
		s.Close()
	}
	b.Run("exact", func(b *testing.B) { benchQueries(b, queries, k, f.exactNearest) })
}

func BenchmarkNearestItems200(b *testing.B) { benchNearest(b, 200, 300, 400) }

func BenchmarkNearestItems20(b *testing.B) { benchNearest(b, 20) }

// BenchmarkLoadItemVectors times publishing the vectors the way a build
// does, into the table whose HNSW index the migration made (every row is
// inserted into the graph), against loading them unindexed and building
// the index afterwards, with the server's maintenance_work_mem and with
// enough for the graph to fit. Run with -benchtime=1x.
func BenchmarkLoadItemVectors(b *testing.B) {
	pgtest.Config(b) // without a database, skip (or fail) before making the vectors
	vecs := itemVectors(testVectors(b, vectorItems(b)))
	load := func(b *testing.B, indexAfter bool, mwm string) {
		var loadTook, indexTook time.Duration
		for b.Loop() {
			b.StopTimer()
			cfg := pgtest.Config(b)
			s, err := postgres.Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			conn := openSchemaConn(b, cfg)
			b.StartTimer()
			l, i := publishVectors(b, s, conn, vecs, indexAfter, mwm)
			b.StopTimer()
			loadTook += l
			indexTook += i
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(loadTook.Seconds()/float64(b.N), "load-s")
		b.ReportMetric(indexTook.Seconds()/float64(b.N), "index-s")
		b.ReportMetric(float64(len(vecs)*b.N)/(loadTook+indexTook).Seconds(), "rows/s")
	}
	b.Run("index-first", func(b *testing.B) { load(b, false, "") })
	b.Run("index-after", func(b *testing.B) { load(b, true, "") })
	b.Run("index-after-mwm=512MB", func(b *testing.B) { load(b, true, "512MB") })
}
