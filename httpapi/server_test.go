package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/postgres/pgtest"
	"github.com/recs-server/recs/recommend"
)

type testStore interface {
	httpapi.Store
	recommend.Store
	PublishBuild(ctx context.Context, b *catalog.Build) error
}

// forEachStore runs fn against a server on real loopback HTTP, once over
// the embedded store and once over PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, base string, st testStore)) {
	stores := map[string]func(t *testing.T) testStore{
		"memstore": func(*testing.T) testStore { return memstore.New() },
		"postgres": func(t *testing.T) testStore { return pgtest.Open(t) },
	}
	for _, name := range []string{"memstore", "postgres"} {
		t.Run(name, func(t *testing.T) {
			st := stores[name](t)
			fn(t, startServer(t, st), st)
		})
	}
}

func startServer(t *testing.T, st testStore) string {
	return startServerWith(t, st, httpapi.Config{}, io.Discard)
}

// startServerWith starts a server with the test limits plus cfg's
// privacy and security settings, logging to logw.
func startServerWith(t *testing.T, st testStore, cfg httpapi.Config, logw io.Writer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, st, cfg, logw)
}

// startServerOn is startServerWith on a listener of the test's.
func startServerOn(t *testing.T, ln net.Listener, st testStore, cfg httpapi.Config, logw io.Writer) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{SourceBudget: time.Second}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	cfg.MaxBodyBytes, cfg.MaxBatch, cfg.ReadDeadline = 64<<10, 50, 2*time.Second
	cfg.AllowedOrigins = []string{"https://shop.example"}
	srv := httpapi.New(cfg, st, engine, log, set)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

type reply struct {
	status int
	body   string
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func call(t *testing.T, method, url, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b)}
}

// wantError checks a 4xx with a JSON error body that mentions fragment.
func wantError(t *testing.T, r reply, status int, fragment string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	var e struct{ Error string }
	r.decode(t, &e)
	if !strings.Contains(e.Error, fragment) {
		t.Fatalf("error %q does not mention %q", e.Error, fragment)
	}
}

func itemJSON(id string, stock int, category string, extra string) string {
	return fmt.Sprintf(`{"id":%q,"title":"Item %s","category":[%q],"price":10,"cost":4,"currency":"EUR","stock":%d%s}`,
		id, id, category, stock, extra)
}

func TestHealthAndReadiness(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		if r := call(t, "GET", base+"/healthz", ""); r.status != 200 {
			t.Fatalf("healthz %d", r.status)
		}
		if r := call(t, "GET", base+"/readyz", ""); r.status != 503 || !strings.Contains(r.body, "recs build") {
			t.Fatalf("readyz before a build: %d %s", r.status, r.body)
		}
		if err := st.PublishBuild(t.Context(), &catalog.Build{Version: "v1", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if r := call(t, "GET", base+"/readyz", ""); r.status != 200 || !strings.Contains(r.body, "v1") {
			t.Fatalf("readyz after a build: %d %s", r.status, r.body)
		}
		r := call(t, "GET", base+"/metrics", "")
		if r.status != 200 || !strings.Contains(r.body, `recs_http_requests_total{path="readyz",code="503"} 1`) {
			t.Fatalf("metrics: %d %s", r.status, r.body)
		}
	})
}

func TestItemsUpsertAndRead(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		body := "[" + itemJSON("a", 5, "Home", `,"attributes":{"colour":"red"}`) + "," + itemJSON("b", 0, "Home", "") + "]"
		if r := call(t, "PUT", base+"/v1/items", body); r.status != 200 || !strings.Contains(r.body, `"accepted":2`) {
			t.Fatalf("put items: %d %s", r.status, r.body)
		}
		r := call(t, "GET", base+"/v1/items/a", "")
		var it catalog.Item
		r.decode(t, &it)
		if r.status != 200 || it.Title != "Item a" || it.Attributes["colour"] != "red" || !it.Active {
			t.Fatalf("get item: %d %s", r.status, r.body)
		}
		wantError(t, call(t, "GET", base+"/v1/items/nope", ""), 404, `"nope" does not exist`)
	})
}

func TestBadItemBatchStoresNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		call(t, "PUT", base+"/v1/items", itemJSON("a", 5, "Home", ""))
		f := func(body, status, fragment string) {
			t.Helper()
			var code int
			fmt.Sscan(status, &code)
			wantError(t, call(t, "PUT", base+"/v1/items", body), code, fragment)
		}
		// The first item is a valid change of "a"; the second is bad.
		change := `{"id":"a","title":"Changed","price":1,"stock":1}`
		f("["+change+`,{"id":"b","title":"B","price":-1,"stock":1}]`, "400", "items[1]: price: is negative")
		f("["+change+`,{"id":"","title":"B","price":1,"stock":1}]`, "400", "items[1]: id: is required")
		f("["+change+`,{"id":"b","title":"B","price":1,"stock":1,"colour":"red"}]`, "400", `items[1]: unknown field "colour"`)
		f("["+change+`,{"id":"b","title":"B","price":"cheap","stock":1}]`, "400", "items[1]: price: must be float64")
		f(`[{"id":"a"`, "400", "malformed JSON")
		f("", "400", "body is empty")
		f(`{"id":"`+strings.Repeat("x", 200)+`","title":"B","price":1,"stock":1}`, "400", "limit is 128")
		var many []string
		for i := range 51 {
			many = append(many, itemJSON(fmt.Sprint("m", i), 1, "Home", ""))
		}
		f("["+strings.Join(many, ",")+"]", "400", "limit is 50")
		// The server answers an oversized body from its headers, before it
		// is sent: a raw connection, since a client still writing the body
		// may see the connection close first.
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 70<<10)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		wantError(t, reply{resp.StatusCode, string(body)}, 413, "larger than the limit")
		r := call(t, "GET", base+"/v1/items/a", "")
		if !strings.Contains(r.body, `"title":"Item a"`) {
			t.Fatalf("a rejected batch changed stored data: %s", r.body)
		}
	})
}

func TestEventsAreDeduplicatedAndValidated(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		ev := func(id, typ string) string {
			return fmt.Sprintf(`{"event_id":%q,"type":%q,"time":"2026-11-01T10:00:00Z","session_id":"s1","items":[{"item_id":"a"}]}`, id, typ)
		}
		r := call(t, "POST", base+"/v1/events", ev("e1", "view_item")+"\n"+ev("e2", "add_to_cart")+"\n")
		if r.status != 200 || !strings.Contains(r.body, `"accepted":2`) {
			t.Fatalf("ndjson events: %d %s", r.status, r.body)
		}
		r = call(t, "POST", base+"/v1/events", "["+ev("e1", "view_item")+","+ev("e3", "purchase")+"]")
		if r.status != 200 || !strings.Contains(r.body, `"accepted":2`) {
			t.Fatalf("resent events: %d %s", r.status, r.body)
		}
		wantError(t, call(t, "POST", base+"/v1/events", ev("e4", "teleport")), 400, "unknown event type")
		wantError(t, call(t, "POST", base+"/v1/events", `{"event_id":"e5","type":"view_item","time":"2026-11-01T10:00:00Z","items":[{"item_id":"a"}]}`), 400, "session_id or user_id is required")
		wantError(t, call(t, "POST", base+"/v1/events", `{"event_id":"e6","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a","quantity":1000000}]}`), 400, "events[0]: items[0].quantity")
		wantError(t, call(t, "GET", base+"/v1/events", ""), 405, "needs POST")
		if r := call(t, "HEAD", base+"/v1/events", ""); r.status != 405 {
			t.Fatalf("HEAD /v1/events: %d, want 405", r.status)
		}
		// HEAD is allowed where GET is, without a body.
		if r := call(t, "HEAD", base+"/widget.js", ""); r.status != 200 || r.body != "" {
			t.Fatalf("HEAD /widget.js: %d %q, want 200 without a body", r.status, r.body)
		}
		var n int
		st.(interface {
			ScanEvents(context.Context, time.Time, time.Time, func(*catalog.Event) error) error
		}).ScanEvents(t.Context(), time.Time{}, time.Now(), func(*catalog.Event) error { n++; return nil })
		if n != 3 {
			t.Fatalf("stored %d events, want 3", n)
		}
	})
}

func TestPDPFiltersOutOfStockAnchorAndIncompatible(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		items := []string{
			itemJSON("anchor", 5, "Home", `,"incompatible_with":["bad"]`),
			itemJSON("good", 5, "Home", ""), itemJSON("bad", 5, "Home", ""),
			itemJSON("sold-out", 0, "Home", ""), itemJSON("pair", 3, "Garden", ""),
		}
		call(t, "PUT", base+"/v1/items", "["+strings.Join(items, ",")+"]")
		sc := func(ids ...string) []catalog.Scored {
			var out []catalog.Scored
			for i, id := range ids {
				out = append(out, catalog.Scored{ItemID: id, Score: float64(10 - i)})
			}
			return out
		}
		err := st.PublishBuild(t.Context(), &catalog.Build{Version: "v1", CreatedAt: time.Now(),
			Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{
				catalog.CoView:     {{ItemID: "anchor", Neighbors: sc("sold-out", "bad", "anchor", "good")}},
				catalog.CoPurchase: {{ItemID: "anchor", Neighbors: sc("pair", "sold-out")}},
			},
			Popularity: []catalog.PopularityList{{Scope: "category:Home:30d", Items: sc("anchor", "good", "sold-out", "bad")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		call(t, "GET", base+"/readyz", "") // picks up the new build
		r := call(t, "GET", base+"/v1/recommendations/pdp?item_id=anchor&limit=5", "")
		var resp httpapi.Response
		r.decode(t, &resp)
		if r.status != 200 || resp.ModelVersion != "v1" || resp.RequestID == "" || len(resp.Modules) != 2 {
			t.Fatalf("pdp: %d %s", r.status, r.body)
		}
		ids := func(m recommend.Module) []string {
			var out []string
			for _, it := range m.Items {
				out = append(out, it.ItemID)
			}
			return out
		}
		if got := ids(resp.Modules[0]); fmt.Sprint(got) != "[good]" {
			t.Fatalf("similar = %v, want [good]", got)
		}
		if got := resp.Modules[0].Items[0].Reasons; fmt.Sprint(got) != "[co_view popular_in_category]" {
			t.Fatalf("reasons = %v", got)
		}
		// Topped up from the department when co-purchases run short.
		if got := ids(resp.Modules[1]); fmt.Sprint(got) != "[pair good]" || resp.Modules[1].Items[0].Title != "Item pair" ||
			fmt.Sprint(resp.Modules[1].Items[1].Reasons) != "[popular_in_category]" {
			t.Fatalf("bought_together = %v", resp.Modules[1])
		}
		// Stock arriving for sold-out puts it back.
		if r := call(t, "POST", base+"/v1/stock", `[{"item_id":"sold-out","stock":4},{"item_id":"ghost","stock":1}]`); !strings.Contains(r.body, `"accepted":1,"unknown":1`) {
			t.Fatalf("stock: %d %s", r.status, r.body)
		}
		r = call(t, "GET", base+"/v1/recommendations/pdp?item_id=anchor&limit=5", "")
		if !bytes.Contains([]byte(r.body), []byte(`"item_id":"sold-out"`)) {
			t.Fatalf("restocked item missing: %s", r.body)
		}
		wantError(t, call(t, "GET", base+"/v1/recommendations/pdp?item_id=nope", ""), 404, "not in the catalogue")
		wantError(t, call(t, "GET", base+"/v1/recommendations/pdp", ""), 400, "item_id: is required")
		wantError(t, call(t, "GET", base+"/v1/recommendations/pdp?item_id=anchor&limit=0", ""), 400, "limit must be")
		wantError(t, call(t, "GET", base+"/v1/recommendations/pdp?item_id=anchor&limit=x", ""), 400, "limit must be")
		wantError(t, call(t, "POST", base+"/v1/stock", `[{"item_id":"a","stock":-1}]`), 400, "updates[0]: stock")
		wantError(t, call(t, "GET", base+"/nope", ""), 404, "no such endpoint")
	})
}

func TestCartAndRankEndpoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, base string, st testStore) {
		items := []string{itemJSON("a", 5, "Home", ""), itemJSON("b", 5, "Home", ""), itemJSON("c", 0, "Home", ""), itemJSON("d", 5, "Garden", "")}
		call(t, "PUT", base+"/v1/items", "["+strings.Join(items, ",")+"]")
		err := st.PublishBuild(t.Context(), &catalog.Build{Version: "v1", CreatedAt: time.Now(),
			Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{
				catalog.CoPurchase: {{ItemID: "a", Neighbors: []catalog.Scored{{ItemID: "b", Score: 1}, {ItemID: "c", Score: 0.5}, {ItemID: "d", Score: 0.2}}}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		call(t, "GET", base+"/readyz", "")
		r := call(t, "POST", base+"/v1/recommendations/cart", `{"session_id":"s1","item_ids":["a","b"],"limit":5}`)
		var resp httpapi.Response
		r.decode(t, &resp)
		if r.status != 200 || len(resp.Modules) != 1 || resp.Modules[0].ID != "cross_sell" ||
			len(resp.Modules[0].Items) != 1 || resp.Modules[0].Items[0].ItemID != "d" {
			t.Fatalf("cart: %d %s", r.status, r.body)
		}
		r = call(t, "POST", base+"/v1/rank", `{"session_id":"s1","placement":"category","item_ids":["c","d","a","b","zz"]}`)
		var rr httpapi.RankResponse
		r.decode(t, &rr)
		if r.status != 200 || len(rr.Items) != 5 {
			t.Fatalf("rank: %d %s", r.status, r.body)
		}
		// Home follows the session's events at once.
		ev := `{"event_id":"h1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s7","items":[{"item_id":"a"}]}`
		if r := call(t, "POST", base+"/v1/events", ev); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
		r = call(t, "GET", base+"/v1/recommendations/home?session_id=s7&limit=3", "")
		if r.status != 200 || !strings.Contains(r.body, `"id":"recently_viewed","items":[{"item_id":"a"`) {
			t.Fatalf("home: %d %s", r.status, r.body)
		}
		wantError(t, call(t, "GET", base+"/v1/recommendations/home?limit=101", ""), 400, "limit must be")
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":[]}`), 400, "item_ids is required")
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":["a"],"limit":500}`), 400, "limit must be")
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":["a"],"colour":1}`), 400, `unknown field "colour"`)
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":"a"}`), 400, "item_ids: must be []string")
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":[""]}`), 400, "item_ids[0]: is required")
		many := `"x0"` + strings.Repeat(`,"x"`, 100)
		wantError(t, call(t, "POST", base+"/v1/recommendations/cart", `{"item_ids":[`+many+`]}`), 400, "the limit is 100")
		wantError(t, call(t, "POST", base+"/v1/rank", `{"placement":"category","item_ids":["a","a"]}`), 400, "listed twice")
		wantError(t, call(t, "POST", base+"/v1/rank", `{"placement":"home","item_ids":["a"]}`), 400, "placement \"home\" is unknown")
		wantError(t, call(t, "POST", base+"/v1/rank", `{"item_ids":["a"]}`), 400, "placement is required")
		wantError(t, call(t, "POST", base+"/v1/rank", `{"placement":"search","item_ids":["a"]} {}`), 400, "more than one JSON value")
		wantError(t, call(t, "GET", base+"/v1/recommendations/home?session_id="+strings.Repeat("s", 200), ""), 400, "session_id")
	})
}

func TestCORSOnlyForConfiguredOrigins(t *testing.T) {
	st := memstore.New()
	base := startServer(t, st)
	req := func(method, origin string) *http.Response {
		r, _ := http.NewRequest(method, base+"/v1/recommendations/home", nil)
		r.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := req("OPTIONS", "https://shop.example")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := req("GET", "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS granted to an origin not configured")
	}
}

// TestOpenAPIListsServedEndpoints keeps openapi.yaml true: every path it
// documents is served with the documented method.
func TestOpenAPIListsServedEndpoints(t *testing.T) {
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, memstore.New())
	var path string
	n := 0
	for _, line := range strings.Split(string(spec), "\n") {
		if line == "components:" {
			break
		}
		if strings.HasPrefix(line, "  /") {
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
			path = strings.ReplaceAll(path, "{id}", "x")
			continue
		}
		if path == "" || !strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "     ") {
			continue
		}
		method := strings.ToUpper(strings.TrimSuffix(strings.Fields(line)[0], ":"))
		r := call(t, method, base+path, "")
		if strings.Contains(r.body, "no such endpoint") || r.status == 405 {
			t.Errorf("%s %s is documented but not served: %d %s", method, path, r.status, r.body)
		}
		n++
	}
	if n < 11 {
		t.Fatalf("found only %d operations in openapi.yaml", n)
	}
}
