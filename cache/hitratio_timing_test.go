package cache

import (
	"math/rand"
	"strconv"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/dgraph-io/ristretto/v2"

	"github.com/recs-server/recs/catalog"
)

// BenchmarkHitRatioCatalogueLargerThanCache replays Zipf-skewed lookups
// of a catalogue four times the cache's size, loading each miss, through
// the item table (random eviction) and through ristretto as the item
// cache used it (frequency-based admission): the hit ratio a shop would
// see with an --item-cache smaller than its catalogue. It reports hit %
// per variant; the time per op is not the point.
func BenchmarkHitRatioCatalogueLargerThanCache(b *testing.B) {
	const catalogue, size, lookups = 200_000, 50_000, 2_000_000
	ids := make([]string, catalogue)
	for i := range ids {
		ids[i] = "item-" + strconv.Itoa(i)
	}
	for _, s := range []float64{1.01, 1.1, 1.3} {
		seq := make([]int32, lookups)
		z := rand.NewZipf(rand.New(rand.NewSource(1)), s, 1, catalogue-1)
		// Popularity is a random ranking of the ids, as in the demo shop.
		perm := rand.New(rand.NewSource(2)).Perm(catalogue)
		for i := range seq {
			seq[i] = int32(perm[z.Uint64()])
		}
		name := "zipf" + strconv.FormatFloat(s, 'f', -1, 64)
		b.Run(name+"/table", func(b *testing.B) {
			for range b.N {
				t := newTable[*catalog.Item](size, metrics.NewSet().GetOrCreateCounter("ev"))
				always := func() bool { return true }
				hits := 0
				for _, i := range seq {
					k := t.key(ids[i])
					if _, ok := t.get(k); ok {
						hits++
						continue
					}
					t.setIf(k, &catalog.Item{ID: ids[i]}, always)
				}
				b.ReportMetric(100*float64(hits)/lookups, "hit%")
			}
		})
		b.Run(name+"/ristretto", func(b *testing.B) {
			for range b.N {
				c, err := ristretto.NewCache(&ristretto.Config[string, *catalog.Item]{
					NumCounters: size * 10, MaxCost: size, BufferItems: 64, IgnoreInternalCost: true,
				})
				if err != nil {
					b.Fatal(err)
				}
				hits := 0
				for n, i := range seq {
					if _, ok := c.Get(ids[i]); ok {
						hits++
						continue
					}
					c.Set(ids[i], &catalog.Item{ID: ids[i]}, 1)
					if n%1024 == 0 {
						c.Wait() // sets are buffered: let them land as a server's would between requests
					}
				}
				c.Close()
				b.ReportMetric(100*float64(hits)/lookups, "hit%")
			}
		})
	}
}
