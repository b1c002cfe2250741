package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/recommend"
)

func shopItems(n int) string {
	var items []string
	for i := range n {
		items = append(items, itemJSON(fmt.Sprintf("i%d", i), 5, fmt.Sprintf("Dept%d", i%3), ""))
	}
	return "[" + strings.Join(items, ",") + "]"
}

// buildVersion is a build whose neighbour lists differ by version, so a
// swap changes what is served.
func buildVersion(v, items int) *catalog.Build {
	var nb []catalog.NeighborList
	for i := range items {
		var l []catalog.Scored
		for j := 1; j <= 5; j++ {
			l = append(l, catalog.Scored{ItemID: fmt.Sprintf("i%d", (i+j*(v+1))%items), Score: float64(10 - j)})
		}
		nb = append(nb, catalog.NeighborList{ItemID: fmt.Sprintf("i%d", i), Neighbors: l})
	}
	return &catalog.Build{Version: fmt.Sprintf("v%d", v), CreatedAt: time.Now(),
		Neighbors:  map[catalog.NeighborKind][]catalog.NeighborList{catalog.CoView: nb, catalog.CoPurchase: nb},
		Popularity: []catalog.PopularityList{{Scope: "all:7d", Items: nb[v%items].Neighbors}}}
}

// New builds are published and swapped in while clients read and write
// without pause: not one request fails, and the versions change under
// them.
func TestModelSwapsUnderLoadDropNoRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, _ string, st testStore) {
		const items, builds = 40, 8
		base := startServerWith(t, st, httpapi.Config{RefreshEvery: 20 * time.Millisecond}, io.Discard)
		if r := call(t, "PUT", base+"/v1/items", shopItems(items)); r.status != 200 {
			t.Fatalf("items: %d %s", r.status, r.body)
		}
		if err := st.PublishBuild(t.Context(), buildVersion(0, items)); err != nil {
			t.Fatal(err)
		}
		call(t, "GET", base+"/readyz", "")
		var requests, failures atomic.Int64
		var mu sync.Mutex
		versions := map[string]bool{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var r reply
					switch i % 4 {
					case 0:
						r = call(t, "GET", fmt.Sprintf("%s/v1/recommendations/pdp?item_id=i%d&limit=5", base, (i+w)%items), "")
					case 1:
						r = call(t, "GET", fmt.Sprintf("%s/v1/recommendations/home?session_id=s%d&limit=5", base, w), "")
					case 2:
						r = call(t, "POST", base+"/v1/recommendations/cart", fmt.Sprintf(`{"session_id":"s%d","item_ids":["i%d"]}`, w, i%items))
					case 3:
						r = call(t, "POST", base+"/v1/events", viewEvent(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("s%d", w), "", fmt.Sprintf("i%d", i%items), ""))
					}
					requests.Add(1)
					if r.status != 200 {
						failures.Add(1)
						t.Errorf("request failed during a swap: %d %s", r.status, r.body)
						continue
					}
					if v, ok := strings.CutPrefix(r.body, `{"request_id":"`); ok {
						if _, after, ok := strings.Cut(v, `"model_version":"`); ok {
							mu.Lock()
							versions[after[:strings.IndexByte(after, '"')]] = true
							mu.Unlock()
						}
					}
				}
			})
		}
		for v := 1; v <= builds; v++ {
			time.Sleep(150 * time.Millisecond)
			if err := st.PublishBuild(t.Context(), buildVersion(v, items)); err != nil {
				t.Fatal(err)
			}
		}
		// Traffic goes on until the last build is served.
		last := fmt.Sprintf("v%d", builds)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			done := versions[last]
			mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("%d requests, %d failed, %d model versions served", requests.Load(), failures.Load(), len(versions))
		if failures.Load() > 0 {
			t.Fatalf("%d of %d requests failed", failures.Load(), requests.Load())
		}
		if len(versions) < 3 || !versions[last] {
			t.Fatalf("versions served %v: the swaps did not happen under the load", versions)
		}
	})
}

// gatedStore holds item reads until the gate opens, so a test can have
// requests in flight for as long as it wants.
type gatedStore struct {
	*memstore.Store
	gate     chan struct{}
	closed   atomic.Bool
	inflight atomic.Int64
}

func (g *gatedStore) Items(ctx context.Context, ids []string) ([]catalog.Item, error) {
	if g.closed.Load() {
		g.inflight.Add(1)
		<-g.gate
	}
	return g.Store.Items(ctx, ids)
}

// Shutdown stops taking connections but finishes every request in flight,
// and writes the events it acknowledged.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	st := &gatedStore{Store: memstore.New(), gate: make(chan struct{})}
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{SourceBudget: 5 * time.Second}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	srv := httpapi.New(httpapi.Config{ReadDeadline: 10 * time.Second}, st, engine, slog.New(slog.NewTextHandler(io.Discard, nil)), set)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	call(t, "PUT", base+"/v1/items", shopItems(30))
	if err := st.PublishBuild(t.Context(), buildVersion(0, 30)); err != nil {
		t.Fatal(err)
	}
	st.closed.Store(true)
	const n = 20
	codes := make(chan int, 2*n)
	for i := range n {
		go func() {
			// Distinct items: each request reads the store itself.
			r := call(t, "GET", fmt.Sprintf("%s/v1/recommendations/pdp?item_id=i%d&limit=3", base, i), "")
			codes <- r.status
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for st.inflight.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the store", st.inflight.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Events acknowledged just before the shutdown stay stored.
	for i := range n {
		if r := call(t, "POST", base+"/v1/events", viewEvent(fmt.Sprintf("late-%d", i), "s1", "", "i1", "")); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// No new connection is taken once shutdown has begun.
	for start := time.Now(); ; {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(start) > 5*time.Second {
			t.Fatal("still accepting connections 5 s into the shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned (%v) with %d requests still in flight", err, n)
	default:
	}
	st.closed.Store(false)
	close(st.gate)
	for range n {
		if code := <-codes; code != 200 {
			t.Fatalf("a request in flight at shutdown got %d", code)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	var stored int
	st.ScanEvents(t.Context(), time.Time{}, time.Now().Add(time.Hour), func(*catalog.Event) error { stored++; return nil })
	if stored != n {
		t.Fatalf("%d of %d acknowledged events stored", stored, n)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("answering after shutdown")
	}
}

// slowStore answers every read and write a second late while slow is on
// (a database that is overloaded rather than down).
type slowStore struct {
	*memstore.Store
	slow atomic.Bool
}

func (s *slowStore) wait(ctx context.Context) error {
	if !s.slow.Load() {
		return nil
	}
	select {
	case <-time.After(time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowStore) Items(ctx context.Context, ids []string) ([]catalog.Item, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Items(ctx, ids)
}

func (s *slowStore) Neighbors(ctx context.Context, kind catalog.NeighborKind, id string, k int) ([]catalog.Scored, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Neighbors(ctx, kind, id, k)
}

func (s *slowStore) Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Popular(ctx, scope, k)
}

func (s *slowStore) AppendEvents(ctx context.Context, evs []catalog.Event) (int, error) {
	// Slow, but it lands: the client's deadline passes first.
	s.wait(context.WithoutCancel(ctx))
	return s.Store.AppendEvents(ctx, evs)
}

// A slow database does not make reads slow: they answer within their
// deadline from caches and fallbacks. An event write that outlives its
// deadline answers 503; the client's retry is stored once, even though
// the first write landed late.
func TestSlowStoreReadsKeepTheirDeadlineAndRetriedEventsStoreOnce(t *testing.T) {
	st := &slowStore{Store: memstore.New()}
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{SourceBudget: 100 * time.Millisecond}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	srv := httpapi.New(httpapi.Config{ReadDeadline: 300 * time.Millisecond, WriteDeadline: 300 * time.Millisecond},
		st, engine, slog.New(slog.NewTextHandler(io.Discard, nil)), set)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	call(t, "PUT", base+"/v1/items", shopItems(30))
	if err := st.PublishBuild(t.Context(), buildVersion(0, 30)); err != nil {
		t.Fatal(err)
	}
	call(t, "GET", base+"/readyz", "")
	warm := base + "/v1/recommendations/pdp?item_id=i1&limit=3"
	if r := call(t, "GET", warm, ""); !strings.Contains(r.body, `"item_id"`) {
		t.Fatalf("warm-up: %s", r.body)
	}
	st.slow.Store(true)
	for _, url := range []string{warm, base + "/v1/recommendations/pdp?item_id=i2&limit=3", base + "/v1/recommendations/home?limit=3"} {
		start := time.Now()
		r := call(t, "GET", url, "")
		if took := time.Since(start); r.status != 200 || took > 900*time.Millisecond {
			t.Fatalf("%s with a slow store: %d after %s: %s", url, r.status, took, r.body)
		}
		if url == warm && !strings.Contains(r.body, `"item_id"`) {
			t.Fatalf("a cached page lost its items: %s", r.body)
		}
	}
	ev := viewEvent("slow-1", "s1", "", "i1", "")
	r, h := callWith(t, "POST", base+"/v1/events", ev)
	if r.status != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("a write past its deadline: %d %v %s", r.status, h, r.body)
	}
	time.Sleep(1200 * time.Millisecond) // the late write lands meanwhile
	st.slow.Store(false)
	if r := call(t, "POST", base+"/v1/events", ev); r.status != 200 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	var n int
	st.ScanEvents(t.Context(), time.Time{}, time.Now().Add(time.Hour), func(*catalog.Event) error { n++; return nil })
	if n != 1 {
		t.Fatalf("event stored %d times", n)
	}
}
