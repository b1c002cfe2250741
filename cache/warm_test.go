package cache

import (
	"fmt"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

func TestItemsFillServesWithoutLoadsButSkipsItemsInvalidatedAfterTheMark(t *testing.T) {
	stored := map[string]catalog.Item{"a": {ID: "a", Stock: 1}, "b": {ID: "b", Stock: 1}, "c": {ID: "c", Stock: 1}}
	l := &countingLoader{items: stored}
	c, _ := newItems(t, l)
	m := c.Mark()
	read := []catalog.Item{stored["a"], stored["b"], stored["c"]}
	// While the warm-up read was under way, b's stock changed.
	stored["b"] = catalog.Item{ID: "b", Stock: 0}
	c.SetStock([]catalog.StockUpdate{{ItemID: "b", Stock: 0}})
	if n := c.Fill(m, read); n != 2 {
		t.Fatalf("Fill cached %d items, want 2 (b was updated after the mark)", n)
	}
	dst := map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"a", "c"}, dst); err != nil || l.calls != 0 || len(dst) != 2 {
		t.Fatalf("a and c after Fill: %d items, %d store calls, %v; want 2 from the cache", len(dst), l.calls, err)
	}
	if err := c.Get(t.Context(), []string{"b"}, dst); err != nil || l.calls != 1 || dst["b"].Stock != 0 {
		t.Fatalf("b after Fill: %+v, %d store calls, %v; want the stored stock 0, loaded", dst["b"], l.calls, err)
	}
}

func TestDerivedFillCachesManyAndNothingAfterAClear(t *testing.T) {
	c, err := NewLists(200_000, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// More than ristretto's set buffer (32k): none may be dropped.
	const n = 50_000
	keys := make([]string, n)
	vals := make([][]catalog.Scored, n)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		vals[i] = []catalog.Scored{{ItemID: keys[i]}}
	}
	if got := c.Fill(c.Gen(), keys, vals); got != n {
		t.Fatalf("Fill cached %d of %d", got, n)
	}
	for _, k := range keys {
		if v, ok := c.Peek(k); !ok || v[0].ItemID != k {
			t.Fatalf("%s after Fill: %v, %v", k, v, ok)
		}
	}
	gen := c.Gen()
	c.Clear() // a new build while the warm-up read the old one
	if got := c.Fill(gen, []string{"late"}, [][]catalog.Scored{{}}); got != 0 {
		t.Fatalf("Fill after Clear cached %d, want 0", got)
	}
	if _, ok := c.Peek("late"); ok {
		t.Fatal("a value read before Clear was cached after it")
	}
}
