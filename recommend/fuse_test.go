package recommend

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ranker"
)

// TestBestFirstOrdersThePrefixAsAFullSort: for every prefix length, on
// lists with and without tied scores, the first k candidates are the
// full sort's first k, in its order.
func TestBestFirstOrdersThePrefixAsAFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 5, 17, 40, 300, 1000} {
		for _, distinct := range []int{1, 3, 50, 1 << 30} {
			c := make([]candidate, n)
			for i := range c {
				c[i] = candidate{id: fmt.Sprint(i), slot: int32(i), score: float64(rng.IntN(distinct))}
			}
			rng.Shuffle(n, func(i, j int) { c[i], c[j] = c[j], c[i] })
			want := slices.Clone(c)
			slices.SortFunc(want, byScore)
			for _, k := range []int{0, 1, 2, n / 3, n / 2, n - 1, n, n + 5} {
				if k < 0 {
					continue
				}
				got := slices.Clone(c)
				bestFirst(got, k)
				m := min(k, n)
				if !slices.Equal(got[:m], want[:m]) {
					t.Fatalf("n=%d, %d distinct scores, k=%d: prefix %v, want %v", n, distinct, k, got[:m], want[:m])
				}
				rest := slices.Clone(got[m:])
				slices.SortFunc(rest, byScore)
				if !slices.Equal(rest, want[m:]) {
					t.Fatalf("n=%d, k=%d: the rest is not the other candidates", n, k)
				}
			}
		}
	}
}

// TestPageIndexesRepeatedListsOnce: a list two modules share (same cache
// key) reuses the slots of its first sight; every entry of every list
// still points at its own item's slot.
func TestPageIndexesRepeatedListsOnce(t *testing.T) {
	e := &Engine{cfg: Config{RankDepth: 100}}
	e.pages.New = func() any { return &page{slot: map[string]int32{}} }
	list := func(ids ...string) []catalog.Scored {
		out := make([]catalog.Scored, len(ids))
		for i, id := range ids {
			out[i] = catalog.Scored{ItemID: id, Score: float64(len(ids) - i)}
		}
		return out
	}
	fb := list("p", "q", "a")
	srcs := []source{
		{key: "n:a", slot: ranker.SrcCoView}, {key: "pop:cat", slot: ranker.SrcPopular},
		{key: "n2:a", slot: ranker.SrcCoPurchase}, {key: "pop:cat", slot: ranker.SrcPopular},
		{inMemory: true, slot: ranker.SrcSession},
	}
	lists := [][]catalog.Scored{list("a", "b", "c"), fb, list("c", "d"), fb, list("q", "z")}
	p := e.newPage(srcs, lists)
	for i, l := range lists {
		for r, sc := range l {
			if got := p.ids[p.at[int(p.starts[i])+r]]; got != sc.ItemID {
				t.Fatalf("list %d entry %d is %s, its slot holds %s", i, r, sc.ItemID, got)
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
