package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/recommend"
)

// heldStore holds the warm-up's first bulk read until released, and
// fails pings meanwhile, as a database does whose connections the
// warm-up holds.
type heldStore struct {
	*memstore.Store
	release chan struct{}
}

func (s *heldStore) Ping(ctx context.Context) error {
	select {
	case <-s.release:
		return s.Store.Ping(ctx)
	default:
		return errors.New("no free connection")
	}
}

func (s *heldStore) PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.PopularLists(ctx, k)
}

// A load balancer sends traffic once /readyz answers 200: not while the
// warm-up at start runs, so the first requests find the caches filled.
func TestReadinessWaitsForTheWarmUpAtStart(t *testing.T) {
	st := &heldStore{Store: memstore.New(), release: make(chan struct{})}
	if err := st.PublishBuild(t.Context(), &catalog.Build{Version: "v1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{Warm: recommend.WarmConfig{Items: 100, ReadyWait: time.Minute}}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	srv := httpapi.New(httpapi.Config{}, st, engine, slog.New(slog.NewTextHandler(io.Discard, nil)), set)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()

	if r := call(t, "GET", base+"/readyz", ""); r.status != 503 || !strings.Contains(r.body, "warming caches") {
		t.Fatalf("readyz while warming: %d %s", r.status, r.body)
	}
	close(st.release)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := call(t, "GET", base+"/readyz", "")
		if r.status == 200 && strings.Contains(r.body, `"ready"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 10 s after the warm-up could go on: %d %s", r.status, r.body)
		}
	}
}
