package embeddings

import (
	"slices"
	"testing"

	"github.com/recs-server/recs/catalog"
)

// clusteredSeqs makes sequences over nItems items in clusters of
// clusterSize: each sequence stays within one cluster, so items of one
// cluster co-occur and items of different clusters never do.
func clusteredSeqs(nSeqs, nItems, clusterSize, seqLen int, seed uint64) [][]int32 {
	r := rng{s: seed}
	nClusters := nItems / clusterSize
	seqs := make([][]int32, nSeqs)
	for i := range seqs {
		c := int(r.uint64() % uint64(nClusters))
		s := make([]int32, seqLen)
		for j := range s {
			s[j] = int32(c*clusterSize + int(r.uint64()%uint64(clusterSize)))
		}
		seqs[i] = s
	}
	return seqs
}

func meanCos(v [][]float32, same bool, clusterSize int) float64 {
	var sum float64
	n := 0
	for a := range v {
		for b := a + 1; b < len(v); b++ {
			if (a/clusterSize == b/clusterSize) != same || v[a] == nil || v[b] == nil {
				continue
			}
			sum += Cosine(v[a], v[b])
			n++
		}
	}
	return sum / float64(n)
}

func TestItem2VecPutsCoOccurringItemsCloser(t *testing.T) {
	seqs := clusteredSeqs(3000, 60, 6, 8, 1)
	v := TrainItem2Vec(seqs, 60, Item2VecOptions{Seed: 1})
	within, across := meanCos(v, true, 6), meanCos(v, false, 6)
	if within < across+0.3 {
		t.Fatalf("mean cosine within clusters %.3f, across %.3f", within, across)
	}
}

func TestItem2VecDeterministicForSeed(t *testing.T) {
	seqs := clusteredSeqs(500, 40, 5, 6, 2)
	a := TrainItem2Vec(seqs, 40, Item2VecOptions{Seed: 9, Epochs: 2})
	b := TrainItem2Vec(seqs, 40, Item2VecOptions{Seed: 9, Epochs: 2})
	c := TrainItem2Vec(seqs, 40, Item2VecOptions{Seed: 10, Epochs: 2})
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("item %d: two runs with one seed differ", i)
		}
	}
	if slices.Equal(a[0], c[0]) {
		t.Fatal("another seed gave the same vector")
	}
}

func TestItem2VecParallelWorkersLearnToo(t *testing.T) {
	seqs := clusteredSeqs(3000, 60, 6, 8, 3)
	v := TrainItem2Vec(seqs, 60, Item2VecOptions{Seed: 1, Workers: 2})
	if within, across := meanCos(v, true, 6), meanCos(v, false, 6); within < across+0.3 {
		t.Fatalf("mean cosine within clusters %.3f, across %.3f", within, across)
	}
}

func TestItem2VecGivesRareAndUnseenItemsNoVector(t *testing.T) {
	seqs := [][]int32{
		{0, 1, 2}, {1, 2, 0}, {2, 0, 1},
		{3, 0},      // 3 once: below MinCount 2
		{4},         // a lone item teaches nothing
		{4},         //
		{-1, 99, 1}, // out-of-range ids are ignored, never a panic
	}
	v := TrainItem2Vec(seqs, 6, Item2VecOptions{Seed: 1})
	if len(v) != 6 {
		t.Fatalf("got %d vectors, want 6", len(v))
	}
	for i, want := range []bool{true, true, true, false, false, false} {
		if (v[i] != nil) != want {
			t.Errorf("item %d: has vector %v, want %v", i, v[i] != nil, want)
		}
		if v[i] != nil && len(v[i]) != catalog.EmbeddingDims {
			t.Errorf("item %d: %d dims", i, len(v[i]))
		}
	}
	if got := TrainItem2Vec(nil, 3, Item2VecOptions{}); len(got) != 3 || got[0] != nil {
		t.Fatalf("no sequences: %v", got)
	}
}

func TestBlendLeansOnContentWithLittleHistory(t *testing.T) {
	c := make([]float32, catalog.EmbeddingDims)
	b := make([]float32, catalog.EmbeddingDims)
	c[0], b[1] = 3, 1
	few := Blend(c, b, 2, nil)
	some := Blend(c, b, 10, nil)
	many := Blend(c, b, 500, nil)
	if !(few[0] > 3*few[1]) || !(some[0] > some[1]) || some[1] < 2*few[1] {
		t.Fatalf("2 events: content %.2f behaviour %.2f; 10 events: content %.2f behaviour %.2f", few[0], few[1], some[0], some[1])
	}
	if d := many[0] - many[1]; d < -1e-6 || d > 1e-6 {
		t.Fatalf("the behaviour share is capped at content's: content %.3f behaviour %.3f", many[0], many[1])
	}
	for _, v := range [][]float32{few, some, many} {
		if n := Dot(v, v); n < 0.999 || n > 1.001 {
			t.Fatalf("|blend|² = %v", n)
		}
	}
	alone := Blend(c, nil, 100, []float32{7})
	if len(alone) != 1+catalog.EmbeddingDims || alone[0] != 7 || alone[1] != 1 {
		t.Fatalf("without behaviour the blend is the unit content vector: %v", alone[:3])
	}
}
