package embeddings

import (
	"slices"

	"github.com/recs-server/recs/catalog"
)

// TopK keeps the k best-scored items pushed into it, in O(log k) a push:
// brute-force nearest-neighbour search over n vectors costs O(n log k)
// instead of sorting all n.
type TopK struct {
	k int
	h []catalog.Scored // min-heap on (Score, then larger ItemID is worse)
}

// NewTopK returns an empty TopK for k items.
func NewTopK(k int) *TopK { return &TopK{k: k, h: make([]catalog.Scored, 0, k)} }

// worse orders candidates: lower score, then larger id, loses; ties are
// broken by id so results do not depend on push order.
func worse(a, b catalog.Scored) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.ItemID > b.ItemID)
}

// Admits says whether pushing an item of score could change what is
// kept (on a tie with the worst kept item, the ids decide): a caller can
// skip making the id of an item that cannot get in.
func (t *TopK) Admits(score float64) bool {
	return t.k > 0 && (len(t.h) < t.k || score >= t.h[0].Score)
}

// Push offers one item.
func (t *TopK) Push(id string, score float64) {
	c := catalog.Scored{ItemID: id, Score: score}
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		for j := len(t.h) - 1; j > 0; {
			p := (j - 1) / 2
			if !worse(t.h[j], t.h[p]) {
				break
			}
			t.h[j], t.h[p] = t.h[p], t.h[j]
			j = p
		}
		return
	}
	if t.k == 0 || !worse(t.h[0], c) {
		return
	}
	t.h[0] = c
	for j := 0; ; {
		l, r, m := 2*j+1, 2*j+2, j
		if l < len(t.h) && worse(t.h[l], t.h[m]) {
			m = l
		}
		if r < len(t.h) && worse(t.h[r], t.h[m]) {
			m = r
		}
		if m == j {
			return
		}
		t.h[j], t.h[m] = t.h[m], t.h[j]
		j = m
	}
}

// Sorted returns the kept items, best first. The TopK must not be used
// afterwards.
func (t *TopK) Sorted() []catalog.Scored {
	out := t.h
	slices.SortFunc(out, func(a, b catalog.Scored) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	t.h = nil
	return out
}
