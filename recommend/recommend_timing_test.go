package recommend

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
)

// benchEngine serves the built 3,000-item demo shop from the embedded
// store, with sessions that viewed its first items.
func benchEngine(b *testing.B) (*Engine, []string) {
	b.Helper()
	shop, _, e := servedDemoShop(b, demo.Options{})
	var ids []string
	for _, it := range shop.Items[:200] {
		if it.Active {
			ids = append(ids, it.ID)
		}
	}
	for i, id := range ids {
		e.Record(&catalog.Event{Type: catalog.EventViewItem, Time: time.Now(), SessionID: fmt.Sprint("s", i%50), Items: []catalog.EventItem{{ItemID: id}}})
	}
	return e, ids
}

// BenchmarkPages answers each page type from warm caches: the engine's
// whole request path (gather, fuse, rank, assemble) without HTTP.
func BenchmarkPages(b *testing.B) {
	e, ids := benchEngine(b)
	ctx := b.Context()
	pages := map[string]func(i int) error{
		"pdp": func(i int) error {
			mods, err := e.PDP(ctx, Request{ItemID: ids[i%len(ids)], SessionID: fmt.Sprint("s", i%50), Limit: 10})
			e.Recycle(mods) // as the server does once the response is written
			return err
		},
		"cart": func(i int) error {
			mods, err := e.Cart(ctx, Request{ItemIDs: []string{ids[i%len(ids)], ids[(i+7)%len(ids)]}, SessionID: fmt.Sprint("s", i%50), Limit: 10})
			e.Recycle(mods) // as the server does once the response is written
			return err
		},
		"home": func(i int) error {
			mods, err := e.Home(ctx, Request{SessionID: fmt.Sprint("s", i%50), Limit: 10})
			e.Recycle(mods) // as the server does once the response is written
			return err
		},
		"rank": func(i int) error {
			items, err := e.Rank(ctx, Request{ItemIDs: ids[:48], SessionID: fmt.Sprint("s", i%50)})
			e.RecycleRanked(items) // as the server does once the response is written
			return err
		},
	}
	for _, name := range []string{"pdp", "cart", "home", "rank"} {
		page := pages[name]
		for i := range len(ids) {
			if err := page(i); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			cpu := processCPU()
			for b.Loop() {
				if err := page(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			// CPU time of the whole process (cache goroutines and GC
			// included) is steadier than wall time on a shared machine.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
