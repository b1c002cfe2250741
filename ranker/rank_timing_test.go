package ranker

import (
	"fmt"
	"math/rand/v2"
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
// before it shared them; "shared-paths" shares one per category.
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
	for _, shared := range []bool{false, true} {
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
				items = append(items, &read[i])
			}
		}
		sets := make([][]Candidate, calls)
		for k := range sets {
			picked := make([]*catalog.Item, perCall)
			for i := range picked {
				picked[i] = items[r.IntN(n)]
			}
			sets[k] = cands(picked...)
		}
		name := "own-paths"
		if shared {
			name = "shared-paths"
		}
		b.Run(name, func(b *testing.B) {
			rk := New(Config{}, m, st)
			c := &Context{Now: now, Anchors: []*catalog.Item{items[7]}, Exclude: map[string]bool{items[7].ID: true},
				Recent: []Interaction{{ItemID: items[9].ID, Type: catalog.EventViewItem, Time: now.Add(-time.Hour), Category: "Dept 3", Brand: "brand9"}}}
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
