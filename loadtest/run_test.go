package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// stubServer is a fasthttp server on 127.0.0.1:0 whose answers a test
// chooses per request.
type stubServer struct {
	base   string
	hits   atomic.Int64
	handle func(ctx *fasthttp.RequestCtx)
}

func startStub(t *testing.T, handle func(ctx *fasthttp.RequestCtx)) *stubServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stubServer{base: "http://" + ln.Addr().String(), handle: handle}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			s.hits.Add(1)
			if s.handle != nil {
				s.handle(ctx)
			}
		},
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  10 * time.Second,
		Concurrency:  4096,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

func testConfig(base string) Config {
	return Config{Target: base, Catalog: DemoItemIDs(300), Seed: 1, Timeout: time.Second}
}

// bothTransports runs test with the event loop (where the system has it)
// and with the workers; its testConfig makes configurations that use the
// transport.
func bothTransports(t *testing.T, parallel bool, test func(t *testing.T, testConfig func(base string) Config)) {
	for _, workers := range []bool{false, true} {
		name := "eventloop"
		if workers {
			name = "workers"
		}
		t.Run(name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			test(t, func(base string) Config {
				cfg := testConfig(base)
				cfg.workers = workers
				return cfg
			})
		})
	}
}

func TestRunHonoursTheArrivalRate(t *testing.T) {
	bothTransports(t, false, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, nil)
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration = 200, 2*time.Second
		start := time.Now()
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if hits := srv.hits.Load(); hits < 360 || hits > 440 {
			t.Errorf("the server got %d requests, want 400 ± 10 %%", hits)
		}
		if res.Total.Count != 400 || res.Total.OK != 400 || res.Total.ErrorRate != 0 {
			t.Errorf("count %d ok %d error rate %g, want 400 answered without errors", res.Total.Count, res.Total.OK, res.Total.ErrorRate)
		}
		if res.Total.Throughput < 180 || res.Total.Throughput > 220 {
			t.Errorf("throughput %.1f req/s, want 200 ± 10 %%", res.Total.Throughput)
		}
		if took < 1900*time.Millisecond || took > 4*time.Second {
			t.Errorf("the run took %s, want about 2 s", took)
		}
		if len(res.Endpoints) != 5 || res.Endpoints["pdp"].Count < res.Endpoints["home"].Count {
			t.Errorf("endpoints %v: want the five of the mixed scenario, pdp the most", res.Endpoints)
		}
		if res.Total.Latency.P50 <= 0 || res.Total.Latency.Max < res.Total.Latency.P99 || res.Total.Latency.P99 < res.Total.Latency.P50 {
			t.Errorf("latency %+v: want 0 < p50 <= p99 <= max", res.Total.Latency)
		}
		t.Logf("\n%s", res.Table())
	})
}

func TestRunCountsErrorsByKind(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
			switch string(ctx.Path()) {
			case "/v1/recommendations/pdp":
				ctx.SetStatusCode(200)
			case "/v1/recommendations/home":
				ctx.SetStatusCode(503)
			case "/v1/events":
				time.Sleep(time.Second)
			default:
				ctx.SetStatusCode(404)
			}
		})
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration, cfg.Timeout = 200, 600*time.Millisecond, 300*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name, kind string) {
			t.Helper()
			s := res.Endpoints[name]
			if s.Count == 0 || s.Errors[kind] != s.Count || s.ErrorRate != 1 || s.OK != 0 {
				t.Errorf("%s: %+v, want every request to fail with %s", name, s, kind)
			}
		}
		check("home", "status_503")
		check("cart", "status_404")
		check("rank", "status_404")
		check("events", ErrKindTimeout)
		if s := res.Endpoints["pdp"]; s.OK != s.Count || s.Errors != nil {
			t.Errorf("pdp: %+v, want no errors", s)
		}
		wantRate := 1 - float64(res.Endpoints["pdp"].Count)/float64(res.Total.Count)
		if res.Total.ErrorRate != wantRate {
			t.Errorf("total error rate %g, want %g", res.Total.ErrorRate, wantRate)
		}
		if err := res.Check(Thresholds{MaxErrorRate: 0.001}); err == nil || !strings.Contains(err.Error(), "home status_503=") {
			t.Errorf("Check: %v, want an error rate failure naming home's 503s", err)
		}
		if ev := res.Endpoints["events"].Latency; ev.P50 < 300 {
			t.Errorf("events latency %+v: timed-out requests should be recorded at >= the timeout", ev)
		}
	})
}

func TestExcludedEndpointsAreNotSent(t *testing.T) {
	t.Parallel()
	var other atomic.Int64
	srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
		if p := string(ctx.Path()); p == "/v1/recommendations/cart" || p == "/v1/rank" {
			other.Add(1)
			ctx.SetStatusCode(404)
		}
	})
	cfg := testConfig(srv.base)
	cfg.Rate, cfg.Duration, cfg.Exclude = 200, 500*time.Millisecond, []string{"cart", "rank"}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if other.Load() != 0 || res.Total.Errors != nil || len(res.Endpoints) != 3 {
		t.Fatalf("%d requests to excluded endpoints, errors %v, endpoints %d", other.Load(), res.Total.Errors, len(res.Endpoints))
	}
	if err := res.Check(Thresholds{MaxP99: time.Second}); err != nil {
		t.Fatal(err)
	}
	if d := res.Mix["pdp"] - 50.0/80; d > 1e-9 || d < -1e-9 {
		t.Fatalf("pdp share %g, want 50/80 once cart and rank are excluded", res.Mix["pdp"])
	}
}

// A server that stalls for 500 ms once must show in the latency of every
// request that was due during the stall, measured from its scheduled
// time; a closed-model generator would record one slow request per
// connection and hide the rest.
func TestStallShowsInRequestsScheduledDuringIt(t *testing.T) {
	bothTransports(t, false, func(t *testing.T, testConfig func(string) Config) {
		for _, workers := range []int{512, 4} {
			var mu sync.Mutex
			var n atomic.Int64
			srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
				if n.Add(1) == 60 { // about 300 ms into the run
					mu.Lock()
					time.Sleep(500 * time.Millisecond)
					mu.Unlock()
					return
				}
				mu.Lock()
				mu.Unlock() //nolint:staticcheck // waits for the stall to end
			})
			cfg := testConfig(srv.base)
			cfg.Rate, cfg.Duration, cfg.MaxInFlight, cfg.Exclude = 200, 1200*time.Millisecond, workers, []string{"cart", "rank"}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			l := res.Total.Latency
			// About 100 of 240 requests were due during the stall, with
			// latencies spread from 500 ms down to 0.
			if l.P99 < 400 || l.P90 < 100 || l.Max < 450 {
				t.Errorf("%d workers: latency %+v, want p99 >= 400 ms and p90 >= 100 ms", workers, l)
			}
			if res.Total.ErrorRate != 0 {
				t.Errorf("%d workers: errors %v", workers, res.Total.Errors)
			}
			if workers == 4 && res.Total.Late < 50 {
				t.Errorf("4 workers: %d late requests, want the ~100 that queued behind the stall", res.Total.Late)
			}
		}
	})
}

func TestRequestsThatFindNoWorkerInTimeAreDropped(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, func(*fasthttp.RequestCtx) { time.Sleep(50 * time.Millisecond) })
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration, cfg.MaxInFlight, cfg.Timeout = 200, 500*time.Millisecond, 1, 100*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// One worker answers at most 20 req/s of the 200 due.
		if d := res.Total.Errors[ErrKindDropped]; d < 50 {
			t.Fatalf("errors %v: want most requests dropped", res.Total.Errors)
		}
		if res.Total.Count != 100 {
			t.Fatalf("count %d, want all 100 scheduled requests accounted for", res.Total.Count)
		}
		// At least the timeout, but for the histogram's 1 % precision.
		if res.Total.Latency.P50 < 99 {
			t.Fatalf("latency %+v: dropped requests must count as at least the timeout", res.Total.Latency)
		}
	})
}

func TestRefusedConnectionsAreConnectionErrors(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := testConfig("http://" + addr)
		cfg.Rate, cfg.Duration = 50, 200*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total.Errors[ErrKindConnection] != res.Total.Count || res.Total.Count != 10 {
			t.Fatalf("count %d errors %v, want 10 connection errors", res.Total.Count, res.Total.Errors)
		}
	})
}

func TestWarmupIsSentButNotMeasured(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, nil)
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Warmup, cfg.Duration = 100, 300*time.Millisecond, 500*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if srv.hits.Load() != 80 || res.Sent != 80 || res.Total.Count != 50 {
			t.Fatalf("server hits %d, sent %d, measured %d; want 80, 80, 50", srv.hits.Load(), res.Sent, res.Total.Count)
		}
	})
}

func TestRunStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, nil)
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration = 100, time.Minute
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		res, err := Run(ctx, cfg)
		if err == nil || res == nil || !res.Interrupted {
			t.Fatalf("got %v, %v: want the partial result and an error", res, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("took %s to stop", took)
		}
		if res.Total.Count < 10 || res.Check(Thresholds{}) == nil {
			t.Fatalf("count %d; Check must fail an interrupted run", res.Total.Count)
		}
	})
}

func TestMaxRequestsEndsTheRunEarly(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, nil)
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration, cfg.MaxRequests = 200, time.Minute, 50
		start := time.Now()
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total.Count != 50 || time.Since(start) > 2*time.Second {
			t.Fatalf("count %d after %s, want 50 in about 250 ms", res.Total.Count, time.Since(start))
		}
	})
}

func TestResultRoundTripsThroughJSON(t *testing.T) {
	t.Parallel()
	srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
		if strings.HasSuffix(string(ctx.Path()), "/home") {
			ctx.SetStatusCode(500)
		}
	})
	cfg := testConfig(srv.base)
	cfg.Rate, cfg.Duration = 200, 300*time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, &back) {
		t.Fatalf("round trip changed the result:\n%+v\n%+v", res, &back)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	lat := generic["endpoints"].(map[string]any)["pdp"].(map[string]any)["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p99_9", "max", "mean"} {
		if _, ok := lat[k].(float64); !ok {
			t.Errorf("latency_ms has no number %q: %v", k, lat)
		}
	}
	if generic["total"].(map[string]any)["errors"].(map[string]any)["status_500"] == nil {
		t.Errorf("total errors lack status_500: %s", b)
	}
}

func TestCheckNamesEveryExceededThreshold(t *testing.T) {
	t.Parallel()
	r := &Result{
		Total:     Stats{Count: 1000, OK: 990, ErrorRate: 0.01, Errors: map[string]uint64{"status_503": 10}, Latency: Latency{P99: 30}},
		Endpoints: map[string]Stats{"home": {Count: 10, Errors: map[string]uint64{"status_503": 10}}},
	}
	f := func(th Thresholds, want ...string) {
		t.Helper()
		err := r.Check(th)
		if len(want) == 0 {
			if err != nil {
				t.Errorf("%+v: %v, want nil", th, err)
			}
			return
		}
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v, want it to mention %q", th, err, w)
			}
		}
	}
	f(Thresholds{MaxP99: 50 * time.Millisecond, MaxErrorRate: 0.02})
	f(Thresholds{MaxP99: 0, MaxErrorRate: -1})
	f(Thresholds{MaxP99: 25 * time.Millisecond, MaxErrorRate: -1}, "p99 latency is 30.00 ms, the limit is 25.00 ms")
	f(Thresholds{MaxErrorRate: 0.001}, "error rate is 1.0000%", "home status_503=10")
	f(Thresholds{MaxP99: 10 * time.Millisecond}, "p99", "error rate")
	empty := &Result{}
	if err := empty.Check(Thresholds{MaxErrorRate: -1}); err == nil {
		t.Error("a run without requests passed Check")
	}
}

func TestColdScenarioReportsATimeSeriesThatShowsWhenTheServerWasSlow(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		var firstAt atomic.Int64 // when the first request came, ns
		srv := startStub(t, func(*fasthttp.RequestCtx) {
			firstAt.CompareAndSwap(0, time.Now().UnixNano())
			if time.Since(time.Unix(0, firstAt.Load())) < 300*time.Millisecond { // cold: slow at first
				time.Sleep(100 * time.Millisecond)
			}
		})
		cfg := testConfig(srv.base)
		cfg.Scenario, cfg.Rate, cfg.Duration, cfg.Interval = ScenarioCold, 200, 1200*time.Millisecond, 400*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Intervals) != 3 {
			t.Fatalf("%d windows, want 3: %+v", len(res.Intervals), res.Intervals)
		}
		var n uint64
		for _, in := range res.Intervals {
			n += in.Count
		}
		first, last := res.Intervals[0], res.Intervals[2]
		if n != res.Total.Count || first.FromS != 0 || last.ToS != 1.2 {
			t.Fatalf("windows %+v: want the %d requests in 0-1.2 s", res.Intervals, res.Total.Count)
		}
		if first.Latency.P50 < 50 || last.Latency.P50 > 20 {
			t.Fatalf("first window %+v, last %+v: want the slow start in the first only", first.Latency, last.Latency)
		}
		if !strings.Contains(res.Table(), "time series") {
			t.Fatalf("the table lacks the time series:\n%s", res.Table())
		}
	})
}

// shopStub serves a home page of the items in stock among a fixed list,
// and applies stock updates, in order, lag after they were posted.
func shopStub(t *testing.T, lag time.Duration) (*stubServer, func(id string) int) {
	type update struct {
		at     time.Time
		itemID string
		stock  int
	}
	var mu sync.Mutex
	var pending []update
	stock := map[string]int{}
	ids := []string{"D-000003", "D-000001", "D-000002"}
	for _, id := range ids {
		stock[id] = 10
	}
	// current applies the updates that are due; mu must be held.
	current := func() map[string]int {
		for len(pending) > 0 && time.Now().After(pending[0].at) {
			stock[pending[0].itemID] = pending[0].stock
			pending = pending[1:]
		}
		return stock
	}
	srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		defer mu.Unlock()
		switch string(ctx.Path()) {
		case "/v1/stock":
			var ups []struct {
				ItemID string `json:"item_id"`
				Stock  int    `json:"stock"`
			}
			if err := json.Unmarshal(ctx.PostBody(), &ups); err != nil {
				ctx.SetStatusCode(400)
				return
			}
			for _, u := range ups {
				pending = append(pending, update{time.Now().Add(lag), u.ItemID, u.Stock})
			}
		case "/v1/recommendations/home":
			var b strings.Builder
			b.WriteString(`{"modules":[{"id":"for_you","items":[`)
			n := 0
			for _, id := range ids {
				if current()[id] > 0 {
					if n > 0 {
						b.WriteByte(',')
					}
					n++
					b.WriteString(`{"item_id":"` + id + `"}`)
				}
			}
			b.WriteString(`]}]}`)
			ctx.SetBodyString(b.String())
		}
	})
	return srv, func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return current()[id]
	}
}

// runStockStorm runs the stock-storm scenario against shopStub(lag).
func runStockStorm(t *testing.T, lag, duration, timeout time.Duration) (*Result, func(string) int) {
	t.Helper()
	srv, stock := shopStub(t, lag)
	cfg := testConfig(srv.base)
	cfg.Catalog = DemoItemIDs(3)
	cfg.Scenario, cfg.Rate, cfg.Duration, cfg.Timeout = ScenarioStockStorm, 100, duration, timeout
	cfg.StockBatch, cfg.StockProbeEvery = 3, 500*time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res, stock
}

func TestStockProbeMeasuresHowSoonRecommendationsReflectStock(t *testing.T) {
	t.Parallel()
	res, stock := runStockStorm(t, 100*time.Millisecond, 3*time.Second, time.Second)
	p := res.StockProbe
	if p == nil || p.ItemID != "D-000003" || p.Probes < 3 || p.Failures != 0 {
		t.Fatalf("probe %+v: want several probes of D-000003 without failures", p)
	}
	// The stub's lag starts when it reads the update, the probe's clock at
	// the acknowledgement, which reaches the client a moment later (98.1
	// ms measured in one CI run): hence a little under 100 ms at least.
	if p.OutOfStock.Min < 80 || p.OutOfStock.Max > 250 || p.Restock.Max < 80 { // the first restock finds it in stock
		t.Fatalf("probe %+v: want lags of about the stub's 100 ms", p)
	}
	time.Sleep(150 * time.Millisecond) // the stub's lag
	if stock("D-000003") == 0 {
		t.Fatal("the probe left its item out of stock")
	}
	if err := res.Check(Thresholds{MaxErrorRate: -1, MaxStockLag: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := res.Check(Thresholds{MaxErrorRate: -1, MaxStockLag: 50 * time.Millisecond}); err == nil {
		t.Fatal("a lag above the limit passed Check")
	}
}

func TestStockProbeFailsWhenStockIsNeverReflected(t *testing.T) {
	t.Parallel()
	res, _ := runStockStorm(t, time.Hour, 2*time.Second, 300*time.Millisecond)
	if p := res.StockProbe; p == nil || p.Failures == 0 {
		t.Fatalf("probe %+v: want failures", p)
	}
	if err := res.Check(Thresholds{MaxErrorRate: -1, MaxStockLag: time.Second}); err == nil || !strings.Contains(err.Error(), "stock") {
		t.Fatalf("Check: %v, want a stock probe failure", err)
	}
}

// A run at a low rate wakes up seldom; the latency of an answer must still
// end when it arrived, not when the generator got to it.
func TestLatencyEndsWhenTheAnswerArrives(t *testing.T) {
	t.Parallel()
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, func(*fasthttp.RequestCtx) { time.Sleep(20 * time.Millisecond) })
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration = 4, 2*time.Second // a request every 250 ms
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if l := res.Total.Latency; res.Total.OK != 8 || l.Min < 20 || l.P50 > 100 {
			t.Fatalf("%d ok, latency %+v: want 8 answers after about 20 ms", res.Total.OK, l)
		}
	})
}

// Answers framed by length, chunks or the end of the connection, and
// answers after which the server closes the connection, all count as
// answers.
func TestAnswersOfEveryFramingAreRead(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 100_000) // more than a read
	bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
		srv := startStub(t, func(ctx *fasthttp.RequestCtx) {
			switch string(ctx.Path()) {
			case "/v1/recommendations/pdp": // chunked
				ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
					for range 3 {
						w.WriteString(`{"modules":[]}`)
						w.Flush()
					}
				})
			case "/v1/recommendations/home":
				ctx.SetBodyString(big)
			case "/v1/events":
				ctx.SetStatusCode(fasthttp.StatusAccepted)
				ctx.SetConnectionClose()
			case "/v1/rank":
				ctx.SetStatusCode(fasthttp.StatusNoContent)
			}
		})
		cfg := testConfig(srv.base)
		cfg.Rate, cfg.Duration = 100, time.Second
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total.OK != 100 || res.Total.Errors != nil {
			t.Fatalf("ok %d, errors %v: want 100 answers", res.Total.OK, res.Total.Errors)
		}
	})
}

// startRawStub answers every request with answer and then closes the
// connection; it returns the base URL.
func startRawStub(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestBrokenAnswersAreErrorsOfTheirKind(t *testing.T) {
	t.Parallel()
	f := func(answer, kind string) {
		bothTransports(t, true, func(t *testing.T, testConfig func(string) Config) {
			cfg := testConfig(startRawStub(t, answer))
			cfg.Rate, cfg.Duration = 50, 200*time.Millisecond
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total.Count != 10 || res.Total.Errors[kind] != 10 {
				t.Fatalf("%q: count %d, errors %v: want 10 of kind %s", answer, res.Total.Count, res.Total.Errors, kind)
			}
		})
	}
	f("SSH-2.0-OpenSSH_9.6\r\n\r\n", ErrKindOther)
	f("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"modules\"", ErrKindConnection) // cut short
}

// The event loop notices a server closing idle connections, and opens a
// new one instead of sending on a closed one (fasthttp relies on its
// shorter idle timeout instead).
func TestIdleConnectionsTheServerClosedAreNotUsed(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:     func(*fasthttp.RequestCtx) {},
		IdleTimeout: 20 * time.Millisecond,
		ConnState: func(_ net.Conn, s fasthttp.ConnState) {
			if s == fasthttp.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	cfg := testConfig("http://" + ln.Addr().String())
	cfg.Rate, cfg.Duration = 5, 2*time.Second // a request every 200 ms
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.OK != 10 || res.Total.Errors != nil || conns.Load() < 5 {
		t.Fatalf("ok %d, errors %v, %d connections: want 10 answers on new connections", res.Total.OK, res.Total.Errors, conns.Load())
	}
}
