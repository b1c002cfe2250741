package embeddings

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/recs-server/recs/catalog"
)

func benchCatalogue(n int) []catalog.Item {
	words := []string{"stoneware", "mug", "blue", "garden", "hose", "steel", "knife", "chef", "vintage", "heart",
		"candle", "holder", "lantern", "wooden", "frame", "cushion", "cover", "retro", "spot", "bag"}
	items := make([]catalog.Item, n)
	r := rng{s: 1}
	pick := func() string { return words[r.uint64()%uint64(len(words))] }
	for i := range items {
		items[i] = catalog.Item{
			ID:          fmt.Sprintf("i%06d", i),
			Title:       fmt.Sprintf("%s %s %s %d", pick(), pick(), pick(), i%97),
			Description: fmt.Sprintf("A %s %s with a %s %s, great for the %s. Made of %s.", pick(), pick(), pick(), pick(), pick(), pick()),
			Category:    []string{"Top" + pick(), "Mid" + pick(), "Leaf" + pick()},
			Brand:       "Brand" + pick(),
			Attributes:  map[string]string{"colour": pick(), "material": pick()},
			Active:      true,
		}
	}
	return items
}

func BenchmarkContentEmbed(b *testing.B) {
	items := benchCatalogue(5000)
	m := NewContentModel(items, 1)
	b.ReportAllocs()
	b.ResetTimer()
	var sink atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]float32, 0, catalog.EmbeddingDims)
		i := 0
		for pb.Next() {
			dst = m.Embed(&items[i%len(items)], dst[:0])
			i++
		}
		sink.Add(int64(len(dst)))
	})
}

func BenchmarkNewContentModel5k(b *testing.B) {
	items := benchCatalogue(5000)
	b.ReportAllocs()
	for b.Loop() {
		NewContentModel(items, 1)
	}
}

// zipfSeqs makes sequences with a Zipf-like item popularity, about total
// occurrences in all.
func zipfSeqs(total, nItems int, seed uint64) [][]int32 {
	r := rng{s: seed}
	var seqs [][]int32
	n := 0
	for n < total {
		l := 2 + int(r.uint64()%8)
		s := make([]int32, l)
		for j := range s {
			// inverse-CDF of a 1/x density over [1, nItems]
			x := math.Exp(float64(r.float32()) * math.Log(float64(nItems)))
			s[j] = int32(min(int(x)-1, nItems-1))
		}
		seqs = append(seqs, s)
		n += l
	}
	return seqs
}

// BenchmarkItem2Vec200k trains on 200k item occurrences over 5k items, the
// size of the demo shop's events: the build budget is 20 s on 2 cores.
func BenchmarkItem2Vec200k(b *testing.B) {
	seqs := zipfSeqs(200_000, 5000, 1)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				TrainItem2Vec(seqs, 5000, Item2VecOptions{Seed: 1, Workers: workers})
			}
		})
	}
}

// BenchmarkInt8CosineToUnit: a session vector against 800 candidates of
// 128 dimensions, what nearestToSession does for a visitor with 8 recent
// items.
func BenchmarkInt8CosineToUnit(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	cands := make([]Int8, 800)
	for i := range cands {
		cands[i] = QuantizeInt8(randomUnit(r, 128))
	}
	unit := randomUnit(r, 128)
	var sink float64
	for b.Loop() {
		for _, c := range cands {
			cos, _ := c.CosineToUnit(unit)
			sink += cos
		}
	}
	_ = sink
}
