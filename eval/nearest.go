package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
)

// exactIndex answers NearestItems exactly as the embedded store does
// (cosine of unit vectors over every item, best first, ties by id) from the
// build's vectors, keeping the k best in a bounded heap instead of sorting
// the whole catalogue per query. memstore.NearestItems allocates and sorts
// one entry per item on every call: about 2 ms a query at 3.5k items and
// ten times that at 37k, which would make the harness minutes slower; the
// answers are the same (TestExactIndexAnswersLikeTheStore).
type exactIndex struct {
	ids  []string  // sorted
	vecs []float32 // unit vectors, len(ids)·EmbeddingDims, in ids order
}

func newExactIndex(vectors []catalog.ItemVector) *exactIndex {
	vs := slices.Clone(vectors)
	slices.SortFunc(vs, func(a, b catalog.ItemVector) int { return strings.Compare(a.ItemID, b.ItemID) })
	vs = slices.CompactFunc(vs, func(a, b catalog.ItemVector) bool { return a.ItemID == b.ItemID })
	x := &exactIndex{ids: make([]string, 0, len(vs)), vecs: make([]float32, 0, len(vs)*catalog.EmbeddingDims)}
	for _, v := range vs {
		if len(v.Vector) != catalog.EmbeddingDims {
			continue // the store refuses such a build; nothing to find
		}
		x.ids = append(x.ids, v.ItemID)
		n := len(x.vecs)
		x.vecs = append(x.vecs, v.Vector...)
		embeddings.Normalize(x.vecs[n:])
	}
	return x
}

// hit is an item position with its similarity.
type hit struct {
	i int32
	s float32
}

// worseHit orders by similarity, then the larger id (index) as worse, so
// ties go to the smaller id as in the store.
func worseHit(a, b hit) bool { return a.s < b.s || (a.s == b.s && a.i > b.i) }

func (x *exactIndex) nearest(vec []float32, k int) ([]catalog.Scored, error) {
	const dims = catalog.EmbeddingDims
	if len(vec) != dims {
		return nil, fmt.Errorf("vector has %d dimensions, want %d", len(vec), dims)
	}
	if k <= 0 {
		return nil, nil
	}
	q := slices.Clone(vec)
	embeddings.Normalize(q)
	sims := make([]float32, len(x.ids))
	x.similarities(q, sims)
	h := make([]hit, 0, min(k, len(x.ids)))
	for i, s := range sims {
		c := hit{i: int32(i), s: s}
		if len(h) < k {
			h = append(h, c)
			for j := len(h) - 1; j > 0; { // sift up
				p := (j - 1) / 2
				if !worseHit(h[j], h[p]) {
					break
				}
				h[j], h[p] = h[p], h[j]
				j = p
			}
			continue
		}
		if !worseHit(h[0], c) {
			continue
		}
		h[0] = c
		for j := 0; ; { // sift down
			l := 2*j + 1
			if l >= len(h) {
				break
			}
			m := l
			if r := l + 1; r < len(h) && worseHit(h[r], h[l]) {
				m = r
			}
			if !worseHit(h[m], h[j]) {
				break
			}
			h[j], h[m] = h[m], h[j]
			j = m
		}
	}
	slices.SortFunc(h, func(a, b hit) int {
		switch {
		case worseHit(b, a):
			return -1
		case worseHit(a, b):
			return 1
		}
		return 0
	})
	out := make([]catalog.Scored, len(h))
	for j, c := range h {
		out[j] = catalog.Scored{ItemID: x.ids[c.i], Score: float64(c.s)}
	}
	return out, nil
}

// similarities writes the dot product of q with every indexed vector to
// dst, summing exactly as embeddings.Dot does (four interleaved partial
// sums), so scores equal the store's to the bit.
//
// It is exempt from the race detector: it only reads the index, which
// never changes after newExactIndex, and instrumenting a quarter of a
// million loads per query made the CI evaluation ten times slower.
//
//go:norace
func (x *exactIndex) similarities(q, dst []float32) {
	const dims = catalog.EmbeddingDims
	q = q[:dims]
	for i := range dst {
		v := x.vecs[i*dims : (i+1)*dims : (i+1)*dims]
		var s0, s1, s2, s3 float32
		for j := 0; j < dims; j += 4 {
			s0 += q[j] * v[j]
			s1 += q[j+1] * v[j+1]
			s2 += q[j+2] * v[j+2]
			s3 += q[j+3] * v[j+3]
		}
		dst[i] = (s0 + s1) + (s2 + s3)
	}
}

// indexedStore is a Store whose NearestItems is answered by an exactIndex.
type indexedStore struct {
	Store
	index *exactIndex
}

func (s indexedStore) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.index.nearest(vec, k)
}
