package build

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
)

// BenchmarkBuildDemoShop builds the default demo shop (3000 items, about
// 214k events over 90 days) from the embedded store, item2vec with one
// worker: the build budget is a few seconds.
func BenchmarkBuildDemoShop(b *testing.B) {
	shop := demo.Generate(demo.Options{})
	src := store(b, shop.Items, shop.Events)
	b.ReportAllocs()
	for b.Loop() {
		_, rep, err := Run(context.Background(), src, Options{Seed: 1, CreatedAt: end}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.Read.Seconds(), "read-s")
		b.ReportMetric(rep.Content.Seconds(), "content-s")
		b.ReportMetric(rep.Item2Vec.Seconds(), "item2vec-s")
		b.ReportMetric(rep.Cooccurrence.Seconds(), "cooccurrence-s")
		b.ReportMetric(rep.Popularity.Seconds(), "popularity-s")
		b.Log("\n" + rep.String())
	}
}

// BenchmarkBuildOnlineRetail builds from the UCI Online Retail file beside
// the checkout (skipped when absent), read by a plain loader of its own:
// invoices become orders (split into events of at most
// catalog.MaxEventItems lines), cancellations and stock adjustments are
// left out.
func BenchmarkBuildOnlineRetail(b *testing.B) {
	items, events, err := loadOnlineRetail("../../shared/data/online-retail/online_retail_2010-12_to_2011-10.csv.gz")
	if err != nil {
		b.Skipf("no Online Retail data: %v", err)
	}
	src := store(b, items, events)
	b.ReportAllocs()
	for b.Loop() {
		_, rep, err := Run(context.Background(), src, Options{Seed: 1, CreatedAt: end, DataFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.Read.Seconds(), "read-s")
		b.ReportMetric(rep.Content.Seconds(), "content-s")
		b.ReportMetric(rep.Item2Vec.Seconds(), "item2vec-s")
		b.ReportMetric(rep.Cooccurrence.Seconds(), "cooccurrence-s")
		b.ReportMetric(rep.Popularity.Seconds(), "popularity-s")
		b.Log("\n" + rep.String())
	}
}

func loadOnlineRetail(path string) ([]catalog.Item, []catalog.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	r := csv.NewReader(zr)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return nil, nil, err
	}
	var items []catalog.Item
	var events []catalog.Event
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		inv, code := rec[0], rec[1]
		q, _ := strconv.Atoi(rec[3])
		if strings.HasPrefix(inv, "C") || q <= 0 {
			continue
		}
		t, err := time.Parse("2006-01-02 15:04:05", rec[4])
		if err != nil {
			return nil, nil, err
		}
		if !seen[code] {
			seen[code] = true
			items = append(items, catalog.Item{ID: code, Title: rec[2], Active: true})
		}
		li := catalog.EventItem{ItemID: code, Quantity: q}
		if n := len(events); n > 0 && events[n-1].OrderID == inv && len(events[n-1].Items) < catalog.MaxEventItems {
			events[n-1].Items = append(events[n-1].Items, li)
			continue
		}
		session := rec[6]
		if session == "" {
			session = "guest-" + inv
		}
		events = append(events, catalog.Event{ID: fmt.Sprintf("or-%d", len(events)), Type: catalog.EventPurchase,
			Time: t, OrderID: inv, SessionID: session, Items: []catalog.EventItem{li}})
	}
	return items, events, nil
}
