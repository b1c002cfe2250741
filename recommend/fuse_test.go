package recommend

import (
	"testing"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ranker"
)

// TestPageIndexesRepeatedListsOnce: a list two modules share (same cache
// key) reuses the slots of its first sight; every entry of every list
// still points at its own item's slot; an item has one slot whether a
// cached list or the visitor's own (transient) list names it, and a pin
// finds it.
func TestPageIndexesRepeatedListsOnce(t *testing.T) {
	e := &Engine{cfg: Config{RankDepth: 100}}
	e.pages.New = newPageBuffers
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
		{inMemory: true, slot: ranker.SrcSession}, {inMemory: true, slot: ranker.SrcRecent},
	}
	recent := cache.TransientList([]catalog.Scored{{ItemID: "b"}, {ItemID: "never-listed"}, {ItemID: "z"}}, nil)
	lists := []cache.List{list("a", "b", "c"), fb, list("c", "d"), fb, list("q", "z"), recent}
	p := e.newPage()
	p.index(srcs, lists)
	for i, l := range lists {
		for r := range l.Len() {
			if got := p.idOf(p.at[int(p.starts[i])+r]); got != l.ID(r) {
				t.Fatalf("list %d entry %d is %s, its slot holds %s", i, r, l.ID(r), got)
			}
		}
	}
	if len(p.ids) != 8 {
		t.Fatalf("%d slots for 8 distinct items: %v", len(p.ids), p.ids)
	}
	if h := p.hitsAt(p.slotOf("b")); h[ranker.SrcCoView].Rank != 1 || h[ranker.SrcRecent].Rank != 0 {
		t.Fatalf("hits of b: %+v, want co-view rank 1 and recent rank 0", h)
	}
	for _, id := range []string{"a", "never-listed", "z"} {
		if j := p.slotFor(id); p.idOf(j) != id || p.slotOf(id) != j {
			t.Fatalf("pin %s: slotFor %d (%s), slotOf %d", id, j, p.idOf(j), p.slotOf(id))
		}
	}
	if j := p.slotFor("new-pin"); j != 8 || p.slotOf("new-pin") != 8 {
		t.Fatalf("a new pin got slot %d, slotOf %d, want 8", j, p.slotOf("new-pin"))
	}
	if p.slotOf("absent") != -1 {
		t.Fatal("slotOf an item of no list is not -1")
	}
	if h := p.hitsAt(p.slotOf("a")); h[ranker.SrcCoView].Rank != 0 || h[ranker.SrcPopular].Rank != 2 {
		t.Fatalf("hits of a: %+v, want co-view rank 0 and popular rank 2", h)
	}
	// Slots carry the item numbers of the cached lists (the ranker reads
	// statistics by them); an id only a transient list named has none.
	for j := range p.ids {
		id := p.idOf(int32(j))
		k, ok := cache.NumberOf(id)
		if want := map[bool]uint32{true: k, false: cache.NoNumber}[ok]; p.num[j] != want {
			t.Errorf("slot %d (%s) has number %d, want %d", j, id, p.num[j], want)
		}
	}
	if p.num[p.slotOf("never-listed")] != cache.NoNumber || p.num[p.slotOf("b")] == cache.NoNumber {
		t.Errorf("numbers: never-listed %d, b %d", p.num[p.slotOf("never-listed")], p.num[p.slotOf("b")])
	}
	// An id numbered after the page gave it a slot keeps that slot.
	j := p.slotOf("never-listed")
	cache.Numbers([]string{"never-listed", "new-pin"})
	if p.slotOf("never-listed") != j || p.slotFor("never-listed") != j || p.slotFor("new-pin") != 8 {
		t.Fatalf("after numbering: slots %d, %d and %d, want %d, %d and 8",
			p.slotOf("never-listed"), p.slotFor("never-listed"), p.slotFor("new-pin"), j, j)
	}
	if len(p.ids) != 9 {
		t.Fatalf("%d slots after numbering, want 9: %v", len(p.ids), p.ids)
	}
}
