package recommend

import (
	"testing"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ranker"
)

// TestPageIndexesRepeatedListsOnce: a list two modules share (same cache
// key) reuses the slots of its first sight; every entry of every list
// still points at its own item's slot.
func TestPageIndexesRepeatedListsOnce(t *testing.T) {
	e := &Engine{cfg: Config{RankDepth: 100}}
	e.pages.New = func() any { return &page{slot: map[string]int32{}} }
	list := func(ids ...string) cache.List {
		out := make([]catalog.Scored, len(ids))
		for i, id := range ids {
			out[i] = catalog.Scored{ItemID: id, Score: float64(len(ids) - i)}
		}
		return cache.NewList(out)
	}
	fb := list("p", "q", "a")
	srcs := []source{
		{key: "n:a", slot: ranker.SrcCoView}, {key: "pop:cat", slot: ranker.SrcPopular},
		{key: "n2:a", slot: ranker.SrcCoPurchase}, {key: "pop:cat", slot: ranker.SrcPopular},
		{inMemory: true, slot: ranker.SrcSession},
	}
	lists := []cache.List{list("a", "b", "c"), fb, list("c", "d"), fb, list("q", "z")}
	p := e.newPage(srcs, lists)
	for i, l := range lists {
		for r := range l.Len() {
			if got := p.ids[p.at[int(p.starts[i])+r]]; got != l.ID(r) {
				t.Fatalf("list %d entry %d is %s, its slot holds %s", i, r, l.ID(r), got)
			}
		}
	}
	if len(p.ids) != 7 {
		t.Fatalf("%d slots for 7 distinct items: %v", len(p.ids), p.ids)
	}
	if h := p.hitsOf("a"); h[ranker.SrcCoView].Rank != 0 || h[ranker.SrcPopular].Rank != 2 {
		t.Fatalf("hits of a: %+v, want co-view rank 0 and popular rank 2", h)
	}
}
