package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/postgres/pgtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// serveUntilReady runs `recs serve` with args until /readyz answers 200,
// returning the base URL and a function that stops it and returns its error.
func serveUntilReady(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Generous budgets: these tests check what is served, not how fast, on
	// a machine shared with other tests (cold connections, -race).
	args = append([]string{"serve", "--listen", addr, "--read-deadline", "10s", "--source-budget", "5s"}, args...)
	go func() { done <- run(ctx, args, log) }()
	base := "http://" + addr
	deadline := time.Now().Add(120 * time.Second)
	for {
		if code, _, err := get(base + "/readyz"); err == nil && code == 200 {
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve not ready after 120 s")
		}
	}
	return base, func() error {
		cancel()
		return <-done
	}
}

// TestServeDemoShopAnswersAndShutsDownCleanly is what `make run` does, on
// a smaller demo shop.
func TestServeDemoShopAnswersAndShutsDownCleanly(t *testing.T) {
	base, stop := serveUntilReady(t, "--demo-items", "400", "--demo-visitors", "400")
	code, body, err := get(base + "/v1/recommendations/pdp?item_id=D-000001&limit=4")
	if err != nil || code != 200 || !strings.Contains(body, `"id":"similar"`) {
		t.Fatalf("pdp: %d %s %v", code, body, err)
	}
	code, body, err = get(base + "/v1/recommendations/home?limit=4&session_id=new-visitor")
	if err != nil || code != 200 || !strings.Contains(body, `"id":"for_you","items":[{"item_id"`) || !strings.Contains(body, `"id":"recently_viewed","items":[]`) {
		t.Fatalf("home of a new visitor: %d %s %v", code, body, err)
	}
	// The next request reflects a stored event at once.
	ev := `{"event_id":"t1","type":"view_item","time":"` + time.Now().UTC().Format(time.RFC3339) + `","session_id":"new-visitor","items":[{"item_id":"D-000001"}]}`
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(ev))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post event: %v %v", resp, err)
	}
	resp.Body.Close()
	code, body, err = get(base + "/v1/recommendations/home?limit=4&session_id=new-visitor")
	if err != nil || code != 200 || !strings.Contains(body, `"id":"recently_viewed","items":[{"item_id":"D-000001"`) ||
		!strings.Contains(body, `"session_co_view"`) {
		t.Fatalf("home after a view: %d %s %v", code, body, err)
	}
	// Cold start: a new item is recommendable at once, by its content.
	req, _ := http.NewRequest("PUT", base+"/v1/items", strings.NewReader(
		`{"id":"NEW-1","title":"Shockproof clear silicone case for Orbit S8","category":["Electronics","Phone accessories"],"price":15,"stock":9}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("put new item: %v %v", resp, err)
	}
	code, body, err = get(base + "/v1/recommendations/pdp?item_id=NEW-1&limit=4")
	if err != nil || code != 200 || !strings.Contains(body, `"reasons":["similar_content"`) {
		t.Fatalf("pdp of a new item: %d %s %v", code, body, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, _, err := get(base + "/healthz"); err == nil {
		t.Fatal("server still answering after shutdown")
	}
}

// TestImportBuildServeOnPostgres runs the production path: migrate, import
// a JSONL feed, build, then serve from PostgreSQL.
func TestImportBuildServeOnPostgres(t *testing.T) {
	cfg := pgtest.Config(t)
	feed := t.TempDir() + "/feed.jsonl"
	var b strings.Builder
	items := []string{"mug", "tea", "kettle", "spoon"}
	for _, id := range items {
		b.WriteString(`{"kind":"item","id":"` + id + `","title":"Kitchen ` + id + `","category":["Kitchen"],"price":5,"stock":3}` + "\n")
	}
	b.WriteString("this line is broken\n")
	for i, pair := range [][2]string{{"mug", "tea"}, {"mug", "tea"}, {"kettle", "tea"}, {"mug", "spoon"}} {
		n := string(rune('a' + i))
		b.WriteString(`{"kind":"event","event_id":"o` + n + `","type":"purchase","time":"2026-10-0` + string(rune('1'+i)) +
			`T10:00:00Z","session_id":"s` + n + `","order_id":"o` + n + `","items":[{"item_id":"` + pair[0] + `"},{"item_id":"` + pair[1] + `"}]}` + "\n")
	}
	if err := os.WriteFile(feed, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	db := []string{"--db", cfg.URL, "--schema", cfg.Schema}
	if err := run(ctx, append(append([]string{"import"}, db...), feed), log); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := run(ctx, append([]string{"build", "--version", "test-1"}, db...), log); err != nil {
		t.Fatalf("build: %v", err)
	}
	base, stop := serveUntilReady(t, db...)
	defer stop()
	code, body, err := get(base + "/v1/recommendations/pdp?item_id=mug&limit=3")
	if err != nil || code != 200 || !strings.Contains(body, `"model_version":"test-1"`) {
		t.Fatalf("pdp: %d %s %v", code, body, err)
	}
	if !strings.Contains(body, `"id":"bought_together","items":[{"item_id":"tea"`) {
		t.Fatalf("bought_together of mug should start with tea: %s", body)
	}
	if _, body, _ := get(base + "/metrics"); !strings.Contains(body, `recs_db_pool_connections{state="total"}`) ||
		!strings.Contains(body, `recs_cache_requests_total{cache="items",result="miss"}`) {
		t.Fatalf("metrics lack pool or cache figures:\n%s", body)
	}
}
