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

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/loadtest"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/recommend"
)

// startRecs serves the API over an embedded store holding items with the
// given ids, on loopback.
func startRecs(t *testing.T, ids []string) string {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	items := make([]catalog.Item, len(ids))
	for i, id := range ids {
		items[i] = catalog.Item{ID: id, Title: "Item " + id, Category: []string{"Home"}, Price: 10, Stock: 5, Active: true}
	}
	if err := st.UpsertItems(ctx, items); err != nil {
		t.Fatal(err)
	}
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
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			Target: base, Scenario: scenario, Rate: 200, Duration: 500 * time.Millisecond, Catalog: ids, Seed: 11,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Check(loadtest.Thresholds{MaxErrorRate: 0}); err != nil {
			t.Errorf("%s: %v\n%s", scenario, err, res.Table())
		}
	}
}
