package eval

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

func TestExactIndexAnswersLikeTheStore(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const n = 400
	vecs := make([]catalog.ItemVector, 0, n)
	for i := range n {
		v := make([]float32, catalog.EmbeddingDims)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		if i%10 == 3 {
			v = slices.Clone(vecs[i-1].Vector) // exact ties, decided by id
		}
		vecs = append(vecs, catalog.ItemVector{ItemID: fmt.Sprintf("i%03d", (i*7919)%n), Vector: v})
	}
	st := memstore.New()
	if err := st.PublishBuild(t.Context(), &catalog.Build{Version: "v1", Vectors: vecs}); err != nil {
		t.Fatal(err)
	}
	idx := indexedStore{Store: st, index: newExactIndex(vecs)}
	for q := range 30 {
		query := vecs[(q*13)%n].Vector
		if q%3 == 0 {
			query = addScaled(slices.Clone(query), vecs[(q*17)%n].Vector, 0.5)
		}
		for _, k := range []int{1, 10, 50, n, n + 20} {
			want, err := st.NearestItems(t.Context(), query, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := idx.NearestItems(t.Context(), query, k)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("query %d, k %d: index and store differ\n got %v\nwant %v", q, k, got[:min(5, len(got))], want[:min(5, len(want))])
			}
		}
	}
	if _, err := idx.NearestItems(t.Context(), []float32{1, 2}, 3); err == nil {
		t.Error("a vector of the wrong length was accepted")
	}
}
