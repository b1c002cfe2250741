package cache

import (
	"context"
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
	list := make([]catalog.Scored, 100)
	load := func(context.Context) ([]catalog.Scored, error) { return list, nil }
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
			sink += len(l)
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
