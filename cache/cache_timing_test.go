package cache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// A warm lookup of a candidate list is on every request's path, once per
// source: it must not allocate.
func BenchmarkListsGetHit(b *testing.B) {
	c, err := NewLists(10_000, metrics.NewSet())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 1000)
	list := NewList(make([]catalog.Scored, 100))
	load := func(context.Context) (List, error) { return list, nil }
	for i := range keys {
		keys[i] = NeighborsKey(catalog.CoView, "item-"+strconv.Itoa(i))
		c.Get(context.Background(), keys[i], load)
	}
	c.Wait()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		var sink int
		for pb.Next() {
			l, _ := c.Get(ctx, keys[n%len(keys)], load)
			sink += l.Len()
			n++
		}
		_ = sink
	})
}

func BenchmarkItemsGetHit(b *testing.B) {
	items := map[string]catalog.Item{}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "item-" + strconv.Itoa(i)
		items[ids[i]] = catalog.Item{ID: ids[i], Stock: 1}
	}
	l := &countingLoader{items: items}
	c, err := NewItems(10_000, l.load, metrics.NewSet())
	if err != nil {
		b.Fatal(err)
	}
	c.Get(context.Background(), ids, map[string]*catalog.Item{})
	dst := make(map[string]*catalog.Item, 16)
	batch := make([]string, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for j := range batch {
			batch[j] = ids[(n*10+j)%len(ids)]
		}
		clear(dst)
		c.Get(context.Background(), batch, dst)
	}
}

// BenchmarkItemsGetHitLarge looks up 100 ids at a time, at random, among
// 100,000 cached items in a cache of the server's default size (a
// million): the lookups a request makes, where the cache's own memory
// (the table, or ristretto's admission counters) no longer fits the CPU's
// caches. Run with -cpu 2 to include the contention of two cores. The
// variants: by id into a map (Get), by id into a slice (Fetch), and by
// item number (FetchNumbered, as a page reads its candidates).
func BenchmarkItemsGetHitLarge(b *testing.B) {
	const n = 100_000
	items := make(map[string]catalog.Item, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "item-" + strconv.Itoa(i)
		items[ids[i]] = catalog.Item{ID: ids[i], Stock: 1}
	}
	l := &countingLoader{items: items}
	set := metrics.NewSet()
	c, err := NewItems(1_000_000, l.load, set)
	if err != nil {
		b.Fatal(err)
	}
	// Filled in chunks, as a warm-up does.
	for lo := 0; lo < n; lo += 1000 {
		if err := c.Get(context.Background(), ids[lo:lo+1000], map[string]*catalog.Item{}); err != nil {
			b.Fatal(err)
		}
	}
	nums := Numbers(ids)
	misses := set.GetOrCreateCounter(`recs_cache_requests_total{cache="items",result="miss"}`)
	for _, variant := range []string{"Get", "Fetch", "FetchNumbered"} {
		b.Run(variant, func(b *testing.B) {
			before := misses.Get()
			b.Cleanup(func() { b.ReportMetric(float64(misses.Get()-before)/float64(b.N), "misses/op") })
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(1, 2))
				dst := make(map[string]*catalog.Item, 128)
				batch := make([]string, 100)
				batchNums := make([]uint32, 100)
				got := make([]*catalog.Item, 100)
				for pb.Next() {
					for j := range batch {
						r := rng.IntN(n)
						batch[j], batchNums[j] = ids[r], nums[r]
					}
					switch variant {
					case "Get":
						clear(dst)
						c.Get(context.Background(), batch, dst)
					case "Fetch":
						c.Fetch(context.Background(), batch, got)
					default:
						c.FetchNumbered(context.Background(), batch, batchNums, got)
					}
				}
			})
		})
	}
}
