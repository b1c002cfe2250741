package ranker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkStatsFeatures looks up the features of 1,000 candidates, a
// fifth of them without statistics, in the statistics of a 100,000-item
// catalogue: about as many lookups as a few pages make, spread over
// entries that are rarely in the CPU cache, as in the server.
func BenchmarkStatsFeatures(b *testing.B) {
	byID := make(map[string]ItemStats, 100_000)
	for i := range 100_000 {
		byID[fmt.Sprintf("D-%06d", i)] = ItemStats{Views: float32(i % 100), Purchases: float32(i % 7)}
	}
	st := NewStats(time.Now(), byID)
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("D-%06d", r.IntN(125_000))
	}
	var sink float32
	for b.Loop() {
		for _, id := range ids {
			sink += st.Features(id).Conversion
		}
	}
	_ = sink
}
