package ranker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// BenchmarkRankLargeCatalogue ranks modules of 10 from 100 candidates
// drawn from a 100,000-item catalogue, each call other candidates: the
// items, their statistics and category paths are mostly not in the CPU
// cache, as in the server with a large catalogue, so this measures the
// ranker's memory reads more than its arithmetic. The items are held as
// the item cache holds them (slices of one store read, 100 items each).
// "own-paths" gives every item its own category path, as the cache did
// before it shared them; "shared-paths" shares one per category. Both
// look candidates up by id. "numbered" is shared-paths as the server
// ranks today: the items compacted (as the item cache holds them), the
// candidates numbered, the statistics read by number (Stats.NumberBy),
// exclusions and history matched by number (Context.NumberOf);
// "numbered-ids-hashed" is the same without Context.NumberOf.
func BenchmarkRankLargeCatalogue(b *testing.B) {
	const n, perCall, calls = 100_000, 100, 1000
	x, y := synthetic(5000, 2)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	paths := make([][]string, 400)
	for i := range paths {
		paths[i] = []string{fmt.Sprint("Dept ", i%12), fmt.Sprint("Aisle ", i%60), fmt.Sprint("Shelf ", i)}
	}
	byID := make(map[string]ItemStats, n)
	for i := range n {
		if i%5 != 0 {
			byID[fmt.Sprintf("D-%06d", i)] = ItemStats{Views: float32(i % 100), Purchases: float32(i % 7), FirstSeen: now.Unix() - int64(i)}
		}
	}
	st := NewStats(now, byID)
	numbers := map[string]uint32{}
	numberOf := func(id string) (uint32, bool) { k, ok := numbers[id]; return k, ok }
	for _, variant := range []string{"own-paths", "shared-paths", "numbered", "numbered-ids-hashed"} {
		shared, numbered := variant != "own-paths", strings.HasPrefix(variant, "numbered")
		items := make([]*catalog.Item, 0, n)
		for lo := 0; lo < n; lo += 100 {
			read := make([]catalog.Item, 100)
			for i := range read {
				id, p := lo+i, paths[r.IntN(len(paths))]
				if !shared {
					p = append([]string(nil), p...)
				}
				read[i] = catalog.Item{ID: fmt.Sprintf("D-%06d", id), Title: "t", Price: float64(1 + id%90), Cost: float64(id % 40),
					Stock: id % 9, Active: id%50 != 0, Category: p, Brand: fmt.Sprint("brand", id%300),
					CreatedAt: now.Add(-time.Duration(id) * time.Minute), URL: "/p", ImageURL: "/p.jpg", Currency: "EUR"}
				if numbered {
					read[i].CompactIncompatible()
				}
				items = append(items, &read[i])
			}
		}
		stats := st
		if numbered {
			stats = NewStats(now, byID)
			stats.NumberBy(func(ids []string) []uint32 {
				out := make([]uint32, len(ids))
				for i, id := range ids {
					k, ok := numbers[id]
					if !ok {
						k = uint32(len(numbers))
						numbers[id] = k
					}
					out[i] = k
				}
				return out
			})
		}
		sets := make([][]Candidate, calls)
		for k := range sets {
			picked := make([]*catalog.Item, perCall)
			for i := range picked {
				picked[i] = items[r.IntN(n)]
			}
			sets[k] = cands(picked...)
			if numbered {
				for i := range sets[k] {
					sets[k][i].Number, sets[k][i].Numbered = numberOf(sets[k][i].ID)
				}
			}
		}
		b.Run(variant, func(b *testing.B) {
			rk := New(Config{}, m, stats)
			c := &Context{Now: now, Anchors: []*catalog.Item{items[7]}, Exclude: map[string]bool{items[7].ID: true},
				Recent: []Interaction{{ItemID: items[9].ID, Type: catalog.EventViewItem, Time: now.Add(-time.Hour), Category: "Dept 3", Brand: "brand9"}}}
			if variant == "numbered" {
				c.NumberOf = numberOf
			}
			c.Prepare()
			var s Scratch
			k := 0
			for b.Loop() {
				rk.Rank(c, "similar", sets[k%calls], 10, &s)
				k++
			}
		})
	}
}
