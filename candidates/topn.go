package candidates

import (
	"slices"

	"github.com/recs-server/recs/catalog"
)

// cand is an item index with a score.
type cand struct {
	i int32
	s float64
}

// worse orders candidates: lower score first, and at equal scores the
// higher index, so ties go to the item listed first.
func worse(a, b cand) bool { return a.s < b.s || (a.s == b.s && a.i > b.i) }

// topN keeps the k best candidates pushed into it in a typed binary
// min-heap (the worst kept at the root), with no boxing.
type topN struct {
	k int
	h []cand
}

func newTopN(k int) *topN { return &topN{k: k, h: make([]cand, 0, k)} }

func (t *topN) reset() { t.h = t.h[:0] }

func (t *topN) push(i int32, s float64) {
	c := cand{i: i, s: s}
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		t.up(len(t.h) - 1)
		return
	}
	if t.k == 0 || !worse(t.h[0], c) {
		return
	}
	t.h[0] = c
	t.down(0)
}

func (t *topN) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !worse(t.h[j], t.h[p]) {
			return
		}
		t.h[j], t.h[p] = t.h[p], t.h[j]
		j = p
	}
}

func (t *topN) down(j int) {
	n := len(t.h)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && worse(t.h[r], t.h[l]) {
			m = r
		}
		if !worse(t.h[m], t.h[j]) {
			return
		}
		t.h[j], t.h[m] = t.h[m], t.h[j]
		j = m
	}
}

// sorted appends the kept candidates best first to dst as scored ids; the
// heap is emptied.
func (t *topN) sorted(ids []string, dst []catalog.Scored) []catalog.Scored {
	if len(t.h) == 0 {
		return dst
	}
	slices.SortFunc(t.h, func(a, b cand) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	if dst == nil {
		dst = make([]catalog.Scored, 0, len(t.h))
	}
	for _, c := range t.h {
		dst = append(dst, catalog.Scored{ItemID: ids[c.i], Score: c.s})
	}
	t.h = t.h[:0]
	return dst
}
