// Package integration checks that the load generator's traffic is what the
// real recs server accepts. It is a separate package so that a change of
// the server's wiring breaks this test only, not the generator's own.
package integration

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/loadtest"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/recommend"
)

// startRecs serves the API over an embedded store holding items with the
// given ids, on loopback.
func startRecs(t *testing.T, ids []string) string {
	t.Helper()
	st := memstore.New()
	items := make([]catalog.Item, len(ids))
	for i, id := range ids {
		items[i] = catalog.Item{ID: id, Title: "Item " + id, Category: []string{"Home"}, Price: 10, Stock: 5, Active: true}
	}
	if err := st.UpsertItems(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	return serve(t, st)
}

// startDemoRecs serves a small generated demo shop with its models built,
// so that its pages show items, and returns its item ids.
func startDemoRecs(t *testing.T) (string, []string) {
	t.Helper()
	ctx := context.Background()
	shop := demo.Generate(demo.Options{Seed: 1, Items: 300, Visitors: 600})
	st := memstore.New()
	if err := st.UpsertItems(ctx, shop.Items); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(ctx, shop.Events); err != nil {
		t.Fatal(err)
	}
	b, _, err := build.Run(ctx, st, build.Options{Seed: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PublishBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(shop.Items))
	for i := range shop.Items {
		ids[i] = shop.Items[i].ID
	}
	base := serve(t, st)
	// The server reads its build once it serves; under -race on a busy
	// machine that takes a while.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		code, _, err := fasthttp.GetTimeout(nil, base+"/readyz", 5*time.Second)
		if err == nil && code == fasthttp.StatusOK {
			return base, ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo server is not ready after a minute: %d %v", code, err)
		}
	}
}

func serve(t *testing.T, st *memstore.Store) string {
	t.Helper()
	ctx := context.Background()
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{SourceBudget: time.Second}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	srv := httpapi.New(httpapi.Config{ReadDeadline: 2 * time.Second}, st, engine, slog.New(slog.NewTextHandler(io.Discard, nil)), set)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	return "http://" + ln.Addr().String()
}

// Every generated request must be one the server accepts: events valid,
// item ids known, cart and rank bodies well-formed, stock batches within
// the limits.
func TestGeneratedTrafficIsAcceptedByTheRecsServer(t *testing.T) {
	ids := loadtest.DemoItemIDs(300)
	base := startRecs(t, ids)
	for _, scenario := range loadtest.Scenarios {
		rate := 200.0
		if scenario == loadtest.ScenarioIngestBurst {
			rate = 20 // of 50 events each
		}
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Target: base, Scenario: scenario, Rate: rate, Duration: 500 * time.Millisecond, Catalog: ids, Seed: 11,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Check(loadtest.Thresholds{MaxErrorRate: 0}); err != nil {
			t.Errorf("%s: %v\n%s", scenario, err, res.Table())
		}
	}
}

// During a stock storm the server's recommendations must reflect a stock
// update within a second of acknowledging it.
func TestRecsServerReflectsStockUpdatesDuringAStorm(t *testing.T) {
	base, ids := startDemoRecs(t)
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target: base, Scenario: loadtest.ScenarioStockStorm, Rate: 50, Duration: 6 * time.Second, Catalog: ids, Seed: 12,
		StockProbeEvery: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(loadtest.Thresholds{MaxErrorRate: 0, MaxStockLag: time.Second}); err != nil || res.StockProbe.Probes < 2 {
		t.Fatalf("%v (probes: %+v)\n%s", err, res.StockProbe, res.Table())
	}
	t.Logf("stock probe: %+v", *res.StockProbe)
}
