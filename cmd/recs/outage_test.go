package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/postgres/pgtest"
)

// outageStats counts what clients saw in one phase of the outage test.
type outageStats struct {
	reads, readErrors           atomic.Int64
	maxRead                     atomic.Int64 // nanoseconds
	acked, unavailable, badEvts atomic.Int64
	firstAck                    atomic.Int64 // unix nanoseconds
}

func (s *outageStats) String() string {
	return fmt.Sprintf("reads %d (failed %d, slowest %s), event posts acknowledged %d, 503 %d, other %d",
		s.reads.Load(), s.readErrors.Load(), time.Duration(s.maxRead.Load()).Round(time.Millisecond),
		s.acked.Load(), s.unavailable.Load(), s.badEvts.Load())
}

// TestDatabaseOutageLosesNoAcknowledgedEvent crashes a private PostgreSQL
// under steady traffic: reads go on from caches and fallbacks within their
// deadline, event posts answer 503 (nothing acknowledged that is not
// stored), the server recovers by itself when the database is back, and
// every acknowledged event is stored exactly once, retries included.
func TestDatabaseOutageLosesNoAcknowledgedEvent(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	idKey := "outage-test-pseudonym-key"
	pub := "recs_outage-public"
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("public "+apikey.Hash(pub)+" shop-web\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A small shop: 300 items, 600 past orders of two.
	feed := filepath.Join(t.TempDir(), "feed.jsonl")
	var b strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&b, `{"kind":"item","id":"D-%06d","title":"Item %d","category":["Dept %d"],"price":5,"stock":10}`+"\n", i, i, i%8)
	}
	for i := range 600 {
		fmt.Fprintf(&b, `{"kind":"event","event_id":"past-%d","type":"purchase","time":"2026-10-%02dT10:00:00Z","user_id":"u-%d","order_id":"o-%d","items":[{"item_id":"D-%06d"},{"item_id":"D-%06d"}]}`+"\n",
			i, 1+i%28, i%40, i, 1+i%300, 1+(i*7)%300)
	}
	if err := os.WriteFile(feed, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db := []string{"--db", cluster.URL()}
	if err := run(ctx, append(append([]string{"import", "--id-key", idKey}, db...), feed), log); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := run(ctx, append([]string{"build", "--version", "outage-1"}, db...), log); err != nil {
		t.Fatalf("build: %v", err)
	}
	base, stop := serveUntilReady(t, append(db, "--keys-file", keys, "--id-key", idKey,
		"--read-deadline", "500ms", "--source-budget", "200ms", "--db-min-idle-conns", "2")...)
	defer stop()

	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, url, body string) (int, error) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("X-Api-Key", pub)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var phase atomic.Pointer[outageStats]
	up, down, back := &outageStats{}, &outageStats{}, &outageStats{}
	phase.Store(up)

	var mu sync.Mutex
	acked := map[string]bool{}
	var retry [][]string // batches of event ids to send again
	batch := func(ids []string) string {
		var b strings.Builder
		for i, id := range ids {
			fmt.Fprintf(&b, `{"event_id":%q,"type":"view_item","time":%q,"session_id":"s-%d","user_id":"u-%d","items":[{"item_id":"D-%06d"}]}`+"\n",
				id, time.Now().UTC().Format(time.RFC3339Nano), i%7, i%5, 1+len(id)%300)
		}
		return b.String()
	}
	post := func(ids []string) {
		st := phase.Load()
		code, err := send("POST", base+"/v1/events", batch(ids))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && code == 200:
			st.acked.Add(1)
			st.firstAck.CompareAndSwap(0, time.Now().UnixNano())
			for _, id := range ids {
				acked[id] = true
			}
			return
		case err == nil && code == 503:
			st.unavailable.Add(1)
		default:
			st.badEvts.Add(1)
			t.Errorf("event post: %d %v", code, err)
		}
		retry = append(retry, ids)
	}

	stopTraffic := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopTraffic:
					return
				default:
				}
				st := phase.Load()
				url := fmt.Sprintf("%s/v1/recommendations/pdp?item_id=D-%06d&limit=5&user_id=u-%d", base, 1+(i*7+r)%300, i%5)
				if i%2 == 1 {
					url = fmt.Sprintf("%s/v1/recommendations/home?limit=5&session_id=s-%d", base, i%7)
				}
				start := time.Now()
				code, err := send("GET", url, "")
				d := int64(time.Since(start))
				st.reads.Add(1)
				for old := st.maxRead.Load(); d > old && !st.maxRead.CompareAndSwap(old, d); old = st.maxRead.Load() {
				}
				if err != nil || code != 200 {
					st.readErrors.Add(1)
					t.Errorf("read %s: %d %v", url, code, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	var seq atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stopTraffic:
				return
			default:
			}
			ids := make([]string, 5)
			for i := range ids {
				ids[i] = fmt.Sprintf("outage-%d", seq.Add(1))
			}
			post(ids)
			time.Sleep(10 * time.Millisecond)
		}
	})

	time.Sleep(2 * time.Second)
	phase.Store(down)
	cluster.Crash()
	time.Sleep(500 * time.Millisecond)
	if code, body, err := get(base + "/readyz"); err != nil || code != 200 || !strings.Contains(body, "degraded") {
		t.Errorf("readyz while the database is down: %d %s %v", code, body, err)
	}
	time.Sleep(2500 * time.Millisecond)
	phase.Store(back)
	cluster.Start()
	restarted := time.Now()
	// Clients retry what was refused until it is taken.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		pending := retry
		retry = nil
		mu.Unlock()
		for _, ids := range pending {
			post(ids)
		}
		mu.Lock()
		left := len(retry)
		mu.Unlock()
		if left == 0 && back.acked.Load() > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d event batches still refused 20 s after the database came back", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stopTraffic)
	wg.Wait()
	t.Logf("database up:   %s", up)
	t.Logf("database down: %s", down)
	t.Logf("back up:       %s; first event acknowledged %s after the database accepted connections again",
		back, time.Unix(0, back.firstAck.Load()).Sub(restarted).Round(time.Millisecond))
	if down.unavailable.Load() == 0 {
		t.Fatal("no event post was refused while the database was down: the outage was not exercised")
	}
	if down.reads.Load() < 20 {
		t.Fatalf("only %d reads during the outage", down.reads.Load())
	}
	if slow := time.Duration(down.maxRead.Load()); slow > 2*time.Second {
		t.Fatalf("a read took %s during the outage; reads must answer within their deadline", slow)
	}
	for _, st := range []*outageStats{up, down, back} {
		if st.readErrors.Load() > 0 || st.badEvts.Load() > 0 {
			t.Fatalf("failures: %s", st)
		}
	}

	// Every acknowledged event is stored, exactly once; nothing else is.
	conn, err := pgx.Connect(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT event_id, count(*) FROM recs.events WHERE line = 0 AND event_id LIKE 'outage-%' GROUP BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		stored[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range acked {
		if stored[id] != 1 {
			t.Errorf("acknowledged event %s is stored %d times", id, stored[id])
		}
	}
	for id := range stored {
		if !acked[id] {
			t.Errorf("event %s is stored but was never acknowledged", id)
		}
	}
	if int64(len(acked)) != seq.Load() {
		t.Fatalf("%d of %d events acknowledged", len(acked), seq.Load())
	}
	t.Logf("%d events sent, all acknowledged and stored exactly once", len(acked))

	// The build and the keys file are in the audit log: who, which
	// version, which window of data; never a key.
	var builds, keyLoads int
	err = conn.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE action = 'build' AND actor LIKE 'recs build (%' AND model_version = 'outage-1'
				AND data_from IS NOT NULL AND data_to > data_from AND (counts->>'events')::int = 600),
			count(*) FILTER (WHERE action = 'keys_loaded' AND (counts->>'public')::int = 1 AND actor NOT LIKE '%'||$1||'%')
		FROM recs.audit_log`, pub).Scan(&builds, &keyLoads)
	if err != nil {
		t.Fatal(err)
	}
	if builds != 1 || keyLoads != 1 {
		t.Fatalf("audit log: %d build entries, %d keys-file loads; want 1 and 1", builds, keyLoads)
	}
}
