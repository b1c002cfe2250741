package eval

import (
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

var cutoff = time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// shopStore is a small shop whose history before the cut-off pairs tents
// with pegs and kettles with teapots.
func shopStore(t *testing.T, extra ...catalog.Event) *memstore.Store {
	t.Helper()
	st := memstore.New()
	items := []catalog.Item{
		fakeItem("tent", 5, "Outdoor"), fakeItem("pegs", 5, "Outdoor"), fakeItem("stove", 5, "Outdoor"),
		fakeItem("kettle", 5, "Home"), fakeItem("teapot", 5, "Home"), fakeItem("mug", 5, "Home"),
	}
	for i := range items {
		items[i].CreatedAt = cutoff.Add(-100 * day)
	}
	if err := st.UpsertItems(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	var evs []catalog.Event
	for d := range 60 {
		at := cutoff.Add(-time.Duration(d+1)*day + 10*time.Hour)
		for k, pair := range [][]string{{"tent", "pegs"}, {"kettle", "teapot"}, {"stove", "mug"}} {
			if k == 2 && d%4 != 0 {
				continue
			}
			e := catalog.Event{
				ID: fmt.Sprintf("e%d-%d", d, k), Type: catalog.EventPurchase, Time: at.Add(time.Duration(k) * time.Minute),
				SessionID: fmt.Sprintf("s%d-%d", d, k), OrderID: fmt.Sprintf("o%d-%d", d, k),
			}
			for _, id := range pair {
				e.Items = append(e.Items, catalog.EventItem{ItemID: id, Quantity: 1})
			}
			evs = append(evs, e)
			evs = append(evs, catalog.Event{ID: fmt.Sprintf("v%d-%d", d, k), Type: catalog.EventViewItem, Time: at,
				SessionID: fmt.Sprintf("s%d-%d", d, k), Items: e.Items[:1]})
		}
	}
	if _, err := st.AppendEvents(t.Context(), append(evs, extra...)); err != nil {
		t.Fatal(err)
	}
	return st
}

// lateEvents would teach that tents go with mugs, and refund every
// tent-and-pegs order, if the build could see them.
func lateEvents(at time.Time) []catalog.Event {
	var evs []catalog.Event
	for i := range 40 {
		t := at.Add(time.Duration(i) * time.Hour)
		evs = append(evs,
			catalog.Event{ID: fmt.Sprintf("late%d", i), Type: catalog.EventPurchase, Time: t, SessionID: fmt.Sprintf("late%d", i),
				OrderID: fmt.Sprintf("late%d", i), Items: []catalog.EventItem{{ItemID: "tent", Quantity: 1}, {ItemID: "mug", Quantity: 1}}},
			catalog.Event{ID: fmt.Sprintf("refund%d", i), Type: catalog.EventRefund, Time: t, SessionID: fmt.Sprintf("late%d", i),
				OrderID: fmt.Sprintf("o%d-0", i), Items: []catalog.EventItem{{ItemID: "pegs"}}},
		)
	}
	return evs
}

func trainShop(t *testing.T, st *memstore.Store, to time.Time) *trained {
	t.Helper()
	tr, err := train(t.Context(), st, cutoff.Add(-90*day), to, Options{Seed: 3}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func coPurchase(t *testing.T, tr *trained, anchor string) []string {
	t.Helper()
	got, _ := recommendWith(t, tr.env, StrategyCoPurchase, Query{Anchors: []string{anchor}, Exclude: []string{anchor}}, 3)
	return got
}

func TestBuildNeverSeesEventsAfterTheCutoff(t *testing.T) {
	clean := trainShop(t, shopStore(t), cutoff)
	// The same data plus later events that would change the build, the
	// first of them exactly at the cut-off: the window is [from, cutoff).
	late := lateEvents(cutoff)
	leaky := trainShop(t, shopStore(t, late...), cutoff)
	if a, b := digest(clean.build), digest(leaky.build); a != b {
		t.Fatalf("events from the cut-off on changed the build: digest %s without them, %s with", a, b)
	}
	if got := coPurchase(t, leaky, "tent"); got[0] != "pegs" {
		t.Errorf("co-purchase of tent = %v: the late orders leaked", got)
	}
	if leaky.report.History.OutsideWindow != 0 {
		t.Errorf("the build was handed %d events outside its window", leaky.report.History.OutsideWindow)
	}

	// The test is sensitive: with the cut-off after the late events, they
	// do change the build.
	moved := trainShop(t, shopStore(t, late...), cutoff.Add(3*day))
	if digest(moved.build) == digest(clean.build) {
		t.Fatal("late events change nothing even when visible: the test proves nothing")
	}
	if got := coPurchase(t, moved, "tent"); got[0] != "mug" {
		t.Errorf("with the late events visible, co-purchase of tent = %v, want mug first", got)
	}
}

// lyingSource returns every event whatever window is asked for.
type lyingSource struct{ *memstore.Store }

func (s lyingSource) ScanEvents(ctx context.Context, _, _ time.Time, fn func(*catalog.Event) error) error {
	return s.Store.ScanEvents(ctx, time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), fn)
}

func TestCutoffSourceStopsAStoreThatIgnoresTheWindow(t *testing.T) {
	st := shopStore(t, lateEvents(cutoff.Add(time.Hour))...)
	src := cutoffSource{src: lyingSource{st}, cutoff: cutoff}
	err := src.ScanEvents(t.Context(), time.Unix(0, 0), cutoff.Add(30*day), func(*catalog.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "after the cut-off") {
		t.Fatalf("err = %v, want the late event refused", err)
	}
	// An honest store is asked for no more than [from, cutoff).
	n := 0
	err = cutoffSource{src: st, cutoff: cutoff}.ScanEvents(t.Context(), time.Unix(0, 0), cutoff.Add(30*day), func(e *catalog.Event) error {
		if !e.Time.Before(cutoff) {
			t.Errorf("event %s at %s passed", e.ID, e.Time)
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("honest scan: %d events, err %v", n, err)
	}
}

// retailCSV writes a tiny Online Retail file: from June to October 2011,
// campers buy tents with pegs, tea drinkers kettles with teapots; extra
// rows are appended as given.
func retailCSV(extra ...string) string {
	var b strings.Builder
	b.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	products := [][2]string{{"10001", "TWO PERSON TENT"}, {"10002", "TENT PEGS"}, {"10003", "CAMPING STOVE"},
		{"20001", "ELECTRIC KETTLE"}, {"20002", "CERAMIC TEAPOT"}, {"20003", "ENAMEL MUG"}}
	inv := 540000
	start := time.Date(2011, 6, 1, 9, 0, 0, 0, time.UTC)
	for d := range 150 {
		at := start.Add(time.Duration(d) * day).Format(time.DateTime)
		for g := range 2 {
			inv++
			lines := []int{3 * g, 3*g + 1}
			if d%3 == 0 {
				lines = append(lines, 3*g+2)
			}
			for _, p := range lines {
				fmt.Fprintf(&b, "%d,%s,%s,%d,%s,%.2f,%d,United Kingdom\n", inv, products[p][0], products[p][1], 1+d%3, at, 2.5+float64(p), 12000+d%17)
			}
		}
	}
	for _, r := range extra {
		b.WriteString(r + "\n")
	}
	return b.String()
}

func runTinyRetail(t *testing.T, csv string, opt Options) *Report {
	t.Helper()
	opt.Seed = 5
	rep, err := runOnlineRetail(t.Context(), strings.NewReader(csv), "tiny.csv", opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestOnlineRetailTrainingIgnoresRowsAfterTheCutoff(t *testing.T) {
	late := func(date string) []string {
		var rows []string
		for i := range 30 {
			// New orders pairing tents with teapots, a new description of
			// the tent, and cancellations of earlier orders.
			rows = append(rows,
				fmt.Sprintf("%d,10001,BIG FAMILY TENT,1,%s,9.99,13000,United Kingdom", 590000+i, date),
				fmt.Sprintf("%d,20002,CERAMIC TEAPOT,1,%s,3.50,13000,United Kingdom", 590000+i, date),
				fmt.Sprintf("C%d,10002,TENT PEGS,-1,%s,3.50,12001,United Kingdom", 540001+2*i, date),
			)
		}
		return rows
	}
	base := runTinyRetail(t, retailCSV(), Options{})
	after := runTinyRetail(t, retailCSV(late("2011-10-20 12:00:00")...), Options{})
	if base.BuildDigest != after.BuildDigest {
		t.Fatalf("rows after the cut-off changed the build: digest %s without them, %s with", base.BuildDigest, after.BuildDigest)
	}
	if base.TrainEvents != after.TrainEvents || after.Cases <= base.Cases {
		t.Errorf("train events %d -> %d, cases %d -> %d: want equal training, more test cases", base.TrainEvents, after.TrainEvents, base.Cases, after.Cases)
	}
	// Sensitivity: the same rows before the cut-off do change it.
	before := runTinyRetail(t, retailCSV(late("2011-08-20 12:00:00")...), Options{})
	if before.BuildDigest == base.BuildDigest {
		t.Fatal("the extra rows change nothing even before the cut-off: the test proves nothing")
	}
}

func TestOnlineRetailRunsAreDeterministic(t *testing.T) {
	a := runTinyRetail(t, retailCSV(), Options{Workers: 1})
	b := runTinyRetail(t, retailCSV(), Options{Workers: 4})
	if a.BuildDigest != b.BuildDigest || a.BuildVersion != b.BuildVersion {
		t.Errorf("builds differ: %s %s vs %s %s", a.BuildVersion, a.BuildDigest, b.BuildVersion, b.BuildDigest)
	}
	if !reflect.DeepEqual(comparable(a), comparable(b)) {
		t.Errorf("results differ:\n%s\n%s", a.Table(), b.Table())
	}
	// The tiny shop's structure is found: co-purchase ranks an order's
	// other items first, popularity does not (with six items, both find
	// everything somewhere in the first ten).
	cp, pop := a.Result(StrategyCoPurchase), a.Result(StrategyPopularity)
	r1, _ := cp.Get(10)
	r0, _ := pop.Get(10)
	if r1.NDCG <= r0.NDCG || r1.NDCG < 0.99 {
		t.Errorf("co_purchase NDCG@10 %.3f, popularity %.3f\n%s", r1.NDCG, r0.NDCG, a.Table())
	}
}

// comparable strips what may differ between equal runs: timings, the
// build's creation time, latencies.
func comparable(r *Report) *Report {
	c := *r
	c.Timings = Timings{}
	c.BuildCreatedAt = time.Time{}
	c.Results = slices.Clone(r.Results)
	for i := range c.Results {
		c.Results[i].LatencyMicros = 0
	}
	return &c
}

// writeGzip writes lines to a gzip file.
func writeGzip(t *testing.T, path string, lines []string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	for _, l := range lines {
		fmt.Fprintln(zw, l)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tinyRetailRocket writes a benchmark directory: sessions walk along one
// of two chains of items (1 2 3 4 5 and 11 12 13 14 15); test prefixes
// ask for the next step.
func tinyRetailRocket(t *testing.T) string {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	train := []string{"# training sessions"}
	for i := range 600 {
		base := 1 + 10*(i%2)
		start := r.IntN(3)
		var s []string
		for j := start; j < start+3; j++ {
			s = append(s, fmt.Sprint(base+j))
		}
		train = append(train, strings.Join(s, " "))
	}
	writeGzip(t, filepath.Join(dir, retailRocketTrain), train)
	test := []string{"prefix_item_ids\tprefix_unix_ts\ttarget_item_id\ttarget_unix_ts"}
	ts := int64(1441939815)
	for i := range 40 {
		base := 1 + 10*(i%2)
		test = append(test, fmt.Sprintf("%d %d\t%d %d\t%d\t%d", base, base+1, ts, ts+30, base+2, ts+60))
		ts += 100
	}
	writeGzip(t, filepath.Join(dir, retailRocketTest), test)
	return dir
}

func TestRetailRocketRunsAreDeterministicAndFindTheChains(t *testing.T) {
	dir := tinyRetailRocket(t)
	a, err := RunRetailRocket(t.Context(), dir, Options{Seed: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunRetailRocket(t.Context(), dir, Options{Seed: 2, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(comparable(a), comparable(b)) {
		t.Errorf("results differ:\n%s\n%s", a.Table(), b.Table())
	}
	if !a.Cutoff.Equal(time.Unix(1441939815, 0)) || a.Cases != 40 || a.CatalogItems != 10 {
		t.Errorf("cut-off %s, %d cases, %d items", a.Cutoff, a.Cases, a.CatalogItems)
	}
	for _, s := range []string{StrategyCoView, StrategySession} {
		if got, _ := a.Result(s).Get(10); got.Hit < 0.99 {
			t.Errorf("%s HR@10 = %.3f, want 1\n%s", s, got.Hit, a.Table())
		}
	}
}
