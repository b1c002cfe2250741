package embeddings

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/recs-server/recs/catalog"
)

func TestTopKEqualsFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{0, 1, 5, 100, 1000} {
		var all []catalog.Scored
		// admitted is pushed only what Admits lets in: the same result.
		top, admitted := NewTopK(k), NewTopK(k)
		rejected := 0
		for i := range 500 {
			s := catalog.Scored{ItemID: fmt.Sprint("i", i), Score: float64(r.IntN(50))} // many ties
			all = append(all, s)
			top.Push(s.ItemID, s.Score)
			if admitted.Admits(s.Score) {
				admitted.Push(s.ItemID, s.Score)
			} else {
				rejected++
			}
		}
		if k < 500 && rejected == 0 {
			t.Fatalf("k=%d: Admits let all 500 in", k)
		}
		slices.SortFunc(all, func(a, b catalog.Scored) int {
			if c := cmp.Compare(b.Score, a.Score); c != 0 {
				return c
			}
			return cmp.Compare(a.ItemID, b.ItemID)
		})
		want := all[:min(k, len(all))]
		if got := top.Sorted(); !slices.Equal(got, want) {
			t.Fatalf("k=%d: top differs from the full sort's head", k)
		}
		if got := admitted.Sorted(); !slices.Equal(got, want) {
			t.Fatalf("k=%d: pushing only what Admits lets in gives another top", k)
		}
	}
}
