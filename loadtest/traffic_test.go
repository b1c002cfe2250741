package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/catalog"
)

// testPlan compiles the default endpoints for cfg (after defaults) and
// returns a planner and renderer over them.
func testPlan(t *testing.T, cfg Config) (*planner, *renderer, []*endpoint) {
	t.Helper()
	cfg.Target = "http://127.0.0.1:1"
	cfg.Rate, cfg.Duration = 100, time.Second
	cfg, _, err := cfg.withDefaults(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Endpoint{}
	for _, e := range DefaultEndpoints() {
		byName[e.Name] = e
	}
	mix, err := cfg.mix(byName)
	if err != nil {
		t.Fatal(err)
	}
	var eps []*endpoint
	var weights []float64
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range mix {
			if !yield(n) {
				return
			}
		}
	}) {
		e, err := compileEndpoint(byName[name])
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, e)
		weights = append(weights, mix[name])
	}
	r := newRenderer(&cfg)
	return newPlanner(&cfg, eps, weights), r, eps
}

func TestDemoItemIDsArePaddedToSixDigits(t *testing.T) {
	t.Parallel()
	ids := DemoItemIDs(3000)
	if len(ids) != 3000 || ids[0] != "D-000001" || ids[41] != "D-000042" || ids[2999] != "D-003000" {
		t.Fatalf("got %d ids: %q %q %q", len(ids), ids[0], ids[41], ids[len(ids)-1])
	}
	if got := DemoItemIDs(1234567)[1234566]; got != "D-1234567" {
		t.Fatalf("7-digit id %q", got)
	}
}

func TestPlannerFollowsMixAndZipf(t *testing.T) {
	t.Parallel()
	p, _, eps := testPlan(t, Config{Catalog: DemoItemIDs(3000), Seed: 7})
	const n = 200_000
	perEP := map[string]int{}
	itemDraws := make([]int, 3000)
	var j job
	for i := range n {
		j.seq = uint64(i)
		p.plan(&j)
		name := eps[j.ep].Name
		perEP[name]++
		if name == "pdp" {
			itemDraws[j.items[0]]++
		}
	}
	want := map[string]float64{"pdp": 0.50, "home": 0.20, "cart": 0.15, "events": 0.10, "rank": 0.05}
	for name, share := range want {
		if got := float64(perEP[name]) / n; math.Abs(got-share) > 0.01 {
			t.Errorf("%s: share %.3f, want %.2f", name, got, share)
		}
	}
	// Zipf with s = 1 over 3000 items: P(rank 1) = 1/H(3000) = 0.115, and
	// rank 1 is drawn twice as often as rank 2.
	var h float64
	for k := 1; k <= 3000; k++ {
		h += 1 / float64(k)
	}
	top := float64(itemDraws[0]) / float64(perEP["pdp"])
	if math.Abs(top-1/h) > 0.01 {
		t.Errorf("the most popular item got %.3f of the views, want %.3f", top, 1/h)
	}
	if ratio := float64(itemDraws[0]) / float64(itemDraws[1]); ratio < 1.8 || ratio > 2.2 {
		t.Errorf("rank 1 / rank 2 views = %.2f, want about 2", ratio)
	}
}

func TestPlanIsReproducibleFromSeed(t *testing.T) {
	t.Parallel()
	seq := func() []job {
		p, _, _ := testPlan(t, Config{Catalog: DemoItemIDs(500), Seed: 42})
		out := make([]job, 1000)
		for i := range out {
			out[i].seq = uint64(i)
			p.plan(&out[i])
		}
		return out
	}
	if !slices.Equal(seq(), seq()) {
		t.Fatal("the same seed gave different request sequences")
	}
}

func TestEventsBodiesAreValidEventsWithUniqueIDs(t *testing.T) {
	t.Parallel()
	p, r, eps := testPlan(t, Config{Catalog: DemoItemIDs(100), Seed: 3, Scenario: ScenarioEvents, RunID: "t1"})
	seen := map[string]bool{}
	now := time.Now()
	var j job
	for i := range 2000 {
		j.seq = uint64(i)
		p.plan(&j)
		e := eps[j.ep]
		body := r.render(nil, &e.body, &j, now)
		var evs []catalog.Event
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&evs); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if len(evs) < 1 || len(evs) > maxEventItems {
			t.Fatalf("%d events in one body, want 1..%d", len(evs), maxEventItems)
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatalf("event %+v: %v", ev, err)
			}
			if ev.Type != catalog.EventViewItem || !strings.HasPrefix(ev.ID, "lt-t1-") || !strings.HasPrefix(ev.SessionID, "lt-t1-s") {
				t.Fatalf("event %+v: want a view_item with lt-t1- ids", ev)
			}
			if seen[ev.ID] {
				t.Fatalf("event id %s sent twice", ev.ID)
			}
			seen[ev.ID] = true
			if d := ev.Time.Sub(now); d < -time.Microsecond || d > time.Microsecond {
				t.Fatalf("event time %s, want %s", ev.Time, now)
			}
		}
	}
}

func TestSessionsReadAndReportWhatTheyViewed(t *testing.T) {
	t.Parallel()
	p, r, eps := testPlan(t, Config{Catalog: DemoItemIDs(3000), Seed: 5, Sessions: 3})
	type sess struct {
		viewed  map[string]bool
		pending int
	}
	sessions := map[uint64]*sess{}
	var j job
	for i := range 3000 {
		j.seq = uint64(i)
		p.plan(&j)
		s := sessions[j.session]
		if s == nil {
			s = &sess{viewed: map[string]bool{}}
			sessions[j.session] = s
		}
		e := eps[j.ep]
		uri := string(r.render(nil, &e.path, &j, time.Now()))
		body := r.render(nil, &e.body, &j, time.Now())
		switch e.Name {
		case "pdp":
			u, err := url.Parse(uri)
			if err != nil || u.Query().Get("limit") != "10" {
				t.Fatalf("pdp uri %s (%v): want item_id and limit=10", uri, err)
			}
			s.viewed[u.Query().Get("item_id")] = true
			s.pending = min(s.pending+1, viewRing)
		case "cart":
			var req struct {
				SessionID string   `json:"session_id"`
				UserID    string   `json:"user_id"`
				ItemIDs   []string `json:"item_ids"`
				Limit     int      `json:"limit"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				t.Fatalf("cart body %s: %v", body, err)
			}
			if len(req.ItemIDs) < 1 || len(req.ItemIDs) > 3 || req.SessionID == "" || req.UserID == "" || req.Limit != 10 {
				t.Fatalf("cart body %s: want 1-3 items, ids and limit", body)
			}
			if len(s.viewed) == 0 { // a session's first step: it views one item
				if len(req.ItemIDs) != 1 {
					t.Fatalf("cart body %s of a fresh session: want the one item it views", body)
				}
				s.viewed[req.ItemIDs[0]] = true
				s.pending++
			}
			for _, id := range req.ItemIDs {
				if !s.viewed[id] {
					t.Fatalf("cart holds %s, which session %d did not view", id, j.session)
				}
			}
		case "events":
			var evs []catalog.Event
			if err := json.Unmarshal(body, &evs); err != nil {
				t.Fatalf("events body %s: %v", body, err)
			}
			if s.pending == 0 { // nothing to report: it views one item
				if len(evs) != 1 {
					t.Fatalf("%d events with nothing pending, want 1", len(evs))
				}
				s.viewed[evs[0].Items[0].ItemID] = true
				s.pending = 1
			}
			if len(evs) != min(s.pending, maxEventItems) {
				t.Fatalf("%d events, want the %d pending views (at most %d)", len(evs), s.pending, maxEventItems)
			}
			for _, ev := range evs {
				if !s.viewed[ev.Items[0].ItemID] {
					t.Fatalf("event for %s, which session %d did not view", ev.Items[0].ItemID, j.session)
				}
			}
			s.pending = 0
		case "rank":
			var req struct {
				Placement string   `json:"placement"`
				ItemIDs   []string `json:"item_ids"`
			}
			if err := json.Unmarshal(body, &req); err != nil || req.Placement != "category" || len(req.ItemIDs) != 24 {
				t.Fatalf("rank body %s (%v): want placement category and 24 ids", body, err)
			}
		}
	}
	if len(sessions) < 20 {
		t.Fatalf("%d sessions in 3000 requests: sessions should end and be replaced", len(sessions))
	}
}

func TestStockBodiesAreBatchesOfValidUpdates(t *testing.T) {
	t.Parallel()
	p, r, eps := testPlan(t, Config{Catalog: DemoItemIDs(300), Seed: 9, Scenario: ScenarioStockStorm, StockBatch: 20})
	var j job
	for i := range 500 {
		j.seq = uint64(i)
		p.plan(&j)
		e := eps[j.ep]
		if e.Name != "stock" {
			continue
		}
		var ups []catalog.StockUpdate
		body := r.render(nil, &e.body, &j, time.Now())
		if err := json.Unmarshal(body, &ups); err != nil || len(ups) != 20 {
			t.Fatalf("stock body %s (%v): want 20 updates", body, err)
		}
		for _, u := range ups {
			if catalog.CheckID("item_id", u.ItemID) != nil || u.Stock < 0 || u.Stock >= 50 {
				t.Fatalf("bad update %+v", u)
			}
		}
		return
	}
	t.Fatal("the stock-storm scenario sent no stock update in 500 requests")
}

func TestPlaceholdersAreEscapedForTheirContext(t *testing.T) {
	t.Parallel()
	cfg := Config{Catalog: []string{`a b&c"d\e/é`}, Seed: 1, Mix: map[string]float64{"x": 1}, RankItems: 1, StockBatch: 1}
	cfg.Endpoints = []Endpoint{{Name: "x", Method: "POST", Path: "/p?id={{item}}", Body: `{"id":"{{item}}","ids":{{items}}}`}}
	cfg.Target, cfg.Rate, cfg.Duration = "http://127.0.0.1:1", 1, time.Second
	cfg, _, err := cfg.withDefaults(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e, err := compileEndpoint(cfg.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	p := newPlanner(&cfg, []*endpoint{e}, []float64{1})
	r := newRenderer(&cfg)
	var j job
	p.plan(&j)
	u, err := url.Parse(string(r.render(nil, &e.path, &j, time.Now())))
	if err != nil || u.Query().Get("id") != cfg.Catalog[0] {
		t.Fatalf("path %v %v: the id did not survive URL escaping", u, err)
	}
	var body struct {
		ID  string   `json:"id"`
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(r.render(nil, &e.body, &j, time.Now()), &body); err != nil || body.ID != cfg.Catalog[0] || len(body.IDs) != 1 || body.IDs[0] != cfg.Catalog[0] {
		t.Fatalf("body %+v %v: the id did not survive JSON escaping", body, err)
	}
}

func TestConfigErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	base := Config{Target: "http://127.0.0.1:1", Rate: 10, Duration: time.Second, Catalog: DemoItemIDs(10)}
	f := func(mod func(*Config), want string) {
		t.Helper()
		cfg := base
		mod(&cfg)
		_, err := Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
	f(func(c *Config) { c.Rate = 0 }, "rate must be positive")
	f(func(c *Config) { c.Rate = 1e6 }, "above the limit")
	f(func(c *Config) { c.Duration = 2 * time.Hour }, "the limit is 1h0m0s")
	f(func(c *Config) { c.Catalog = nil }, "catalogue is empty")
	f(func(c *Config) { c.Scenario = "soak" }, `unknown scenario "soak"`)
	f(func(c *Config) { c.Mix = map[string]float64{"pdp": 1, "search": 1} }, `endpoint "search", which is not defined`)
	f(func(c *Config) { c.Mix = map[string]float64{"pdp": -1} }, "non-negative")
	f(func(c *Config) { c.Exclude = []string{"pdp", "home", "cart", "events", "rank"} }, "traffic mix is empty")
	f(func(c *Config) { c.Exclude = []string{"nope"} }, `cannot exclude endpoint "nope"`)
	f(func(c *Config) {
		c.Endpoints = []Endpoint{{Name: "pdp", Method: "GET", Path: "/x?{{itm}}"}}
	}, "unknown placeholder {{itm}}")
	f(func(c *Config) {
		c.Endpoints = []Endpoint{{Name: "pdp", Method: "GET", Path: "/x?ids={{items}}"}}
	}, "only be used in a body")
	f(func(c *Config) { c.RunID = "a b" }, "run id")
	f(func(c *Config) { c.Scenario = ScenarioStockStorm; c.StockRate = 20 }, "stock rate")
	f(func(c *Config) { c.Scenario = ScenarioCold; c.Warmup = time.Second }, "leave the warm-up at 0")
	f(func(c *Config) { c.Interval = time.Millisecond }, "more than 720 windows")
	f(func(c *Config) { c.EventsBatch = 1001 }, "events batch must be 0..1000")
}

func TestIngestBurstSendsBatchesOfValidEventsWithUniqueIDs(t *testing.T) {
	t.Parallel()
	p, r, eps := testPlan(t, Config{Catalog: DemoItemIDs(1000), Seed: 3, Scenario: ScenarioIngestBurst, RunID: "t2"})
	seen := map[string]bool{}
	items := map[string]int{}
	var j job
	for i := range 200 {
		j.seq = uint64(i)
		p.plan(&j)
		body := r.render(nil, &eps[j.ep].body, &j, time.Now())
		var evs []catalog.Event
		if err := json.Unmarshal(body, &evs); err != nil || len(evs) != 50 {
			t.Fatalf("body %.200s (%v): want 50 events", body, err)
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil || seen[ev.ID] {
				t.Fatalf("event %+v: %v (or its id was sent before)", ev, err)
			}
			seen[ev.ID] = true
			items[ev.Items[0].ItemID]++
		}
	}
	// Zipf: the most popular item is viewed far more than the median one.
	if items["D-000001"] < 10*max(1, items["D-000500"]) {
		t.Fatalf("D-000001 viewed %d times, D-000500 %d: want a Zipf skew", items["D-000001"], items["D-000500"])
	}
}

func TestStockBatchesLeaveOutTheProbedItem(t *testing.T) {
	t.Parallel()
	p, r, eps := testPlan(t, Config{Catalog: DemoItemIDs(30), Seed: 3, Mix: map[string]float64{"stock": 1}, StockBatch: 30})
	r.reserved.Store(7 + 1)
	var j job
	p.plan(&j)
	var ups []catalog.StockUpdate
	if err := json.Unmarshal(r.render(nil, &eps[j.ep].body, &j, time.Now()), &ups); err != nil || len(ups) != 29 {
		t.Fatalf("%d updates (%v), want the 30 items but one", len(ups), err)
	}
	for _, u := range ups {
		if u.ItemID == "D-000008" {
			t.Fatal("a stock batch names the probed item")
		}
	}
}

func TestStockRateSetsTheStockShare(t *testing.T) {
	t.Parallel()
	cfg := Config{Scenario: ScenarioStockStorm, Rate: 1000, StockRate: 250}
	byName := map[string]Endpoint{}
	for _, e := range DefaultEndpoints() {
		byName[e.Name] = e
	}
	mix, err := cfg.mix(byName)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mix["stock"]-0.25) > 1e-9 || math.Abs(mix["pdp"]-0.75*50/90) > 1e-9 || mix["events"] != 0 {
		t.Fatalf("mix %v: want stock 0.25 and reads sharing the rest", mix)
	}
}

func TestNonLoopbackTargetsAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, target := range []string{
		"http://10.1.2.3:8080", "http://8.8.8.8", "http://0.0.0.0:8080", "http://[2001:db8::1]:80",
		"http://[::ffff:10.0.0.1]:80", "http://example.com", "http://localhost.example.com:80",
		"http://127.0.0.1.nip.io:80",
	} {
		_, err := Run(ctx, Config{Target: target, Rate: 10, Duration: time.Second, Catalog: DemoItemIDs(10)})
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: got %v, want ErrNotLoopback", target, err)
		}
	}
	for _, target := range []string{"https://127.0.0.1:8443", "127.0.0.1:8080", "http://127.0.0.1:8080/v1", "http://u:p@127.0.0.1"} {
		if _, err := checkTarget(ctx, target); err == nil {
			t.Errorf("%s: accepted, want an error", target)
		}
	}
	for _, target := range []string{"http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:8080", "http://localhost:8080", "http://[::ffff:127.0.0.1]:80"} {
		tg, err := checkTarget(ctx, target)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if !strings.HasPrefix(tg.dial, "127.") && !strings.HasPrefix(tg.dial, "[::1]") {
			t.Errorf("%s: dials %s, want a loopback address", target, tg.dial)
		}
	}
}

// The event loop writes the same bytes that fasthttp writes for the
// workers, so the server sees the same requests from both.
func TestRequestsAreWrittenAsFasthttpWritesThem(t *testing.T) {
	t.Parallel()
	endpoints := append(DefaultEndpoints(),
		Endpoint{Name: "post-empty", Method: "DELETE", Path: "/v1/x?s={{session}}"},
		Endpoint{Name: "get-body", Method: "GET", Path: "/v1/y", Body: `{"seq":{{seq}}}`})
	mix := map[string]float64{}
	for _, e := range endpoints {
		mix[e.Name] = 1
	}
	r, p, err := newRunner(context.Background(), Config{
		Target: "http://localhost:8080", Rate: 100, Duration: time.Second, Catalog: DemoItemIDs(300), Seed: 1,
		Endpoints: endpoints, Mix: mix, Scenario: ScenarioStockStorm,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	now := time.Now()
	seen := map[string]bool{}
	for seq := uint64(0); len(seen) < len(endpoints); seq++ {
		j := job{seq: seq}
		p.plan(&j)
		e := r.eps[j.ep]
		seen[e.Name] = true
		r.prepare(req, &j, now, nil, nil)
		req.Header.SetUserAgent("recs-loadtest") // as the workers' HostClient does, from its Name
		var want bytes.Buffer
		w := bufio.NewWriter(&want)
		if err := req.Write(w); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got, _ := r.rend.appendRequest(nil, nil, e, &j, r.host, now)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s:\n%q\nfasthttp writes\n%q", e.Name, got, want.Bytes())
		}
	}
}
