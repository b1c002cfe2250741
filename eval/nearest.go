package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/memstore"
)

// exactIndex answers NearestItems exactly as the embedded store does
// (cosine of unit vectors over every item, best first, ties by id) from the
// build's vectors, laid out densely so one query is a tight loop over
// contiguous memory (the store's map of vectors is slower to walk, which
// over a hundred thousand queries makes the harness minutes slower); the
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
	top := embeddings.NewTopK(k)
	for i, sim := range sims {
		top.Push(x.ids[i], float64(sim))
	}
	return top.Sorted(), nil
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
	*memstore.Store
	index *exactIndex
}

func (s indexedStore) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.index.nearest(vec, k)
}
