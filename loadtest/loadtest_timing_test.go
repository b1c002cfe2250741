package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// trivialServerEnv makes the test binary serve trivially instead of
// testing: the generator's benchmarks run the server in a child process,
// so the CPU they report is the generator's alone.
const trivialServerEnv = "LOADTEST_TRIVIAL_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(trivialServerEnv) == "1" {
		serveTrivial()
		return
	}
	os.Exit(m.Run())
}

// serveTrivial answers every request with a small JSON body on a loopback
// port it prints, until stdin closes.
func serveTrivial() {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body := []byte(`{"request_id":"0","model_version":"none","modules":[]}`)
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBody(body)
		},
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		Concurrency: 8192, NoDefaultDate: true, NoDefaultServerHeader: true,
	}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startTrivialChild starts the trivial server in a child process.
func startTrivialChild(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), trivialServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + strings.TrimSpace(addr)
}

// BenchmarkGeneratorAgainstTrivialServer runs the mixed scenario for 3 s
// per rate against a trivial server in another process and reports the
// generator's own CPU per 1000 requests, the achieved rate and the
// latencies it saw. Rates: LOADTEST_BENCH_RATES, e.g. "1000,5000,10000".
//
//	go test -run '^$' -bench GeneratorAgainstTrivial -benchtime 1x ./loadtest/
func BenchmarkGeneratorAgainstTrivialServer(b *testing.B) {
	base := startTrivialChild(b)
	rates := []float64{1000, 2000, 5000, 10000}
	if s := os.Getenv("LOADTEST_BENCH_RATES"); s != "" {
		rates = rates[:0]
		for _, f := range strings.Split(s, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				b.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	for _, rate := range rates {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			var res *Result
			for b.Loop() {
				var err error
				res, err = Run(context.Background(), Config{
					Target: base, Rate: rate, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond,
					Catalog: DemoItemIDs(3000), Seed: 1,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(res.GeneratorCPUMsPer1k, "cpu-ms/1k-req")
			b.ReportMetric(res.Total.Throughput, "achieved-req/s")
			b.ReportMetric(res.Total.Latency.P99, "p99-ms")
			b.ReportMetric(res.Total.SendLag.P99, "send-lag-p99-ms")
			b.ReportMetric(res.Total.ErrorRate, "error-rate")
		})
	}
}

func benchJob(b *testing.B, scenario, name string) (*renderer, *endpoint, job) {
	cfg := Config{Target: "http://127.0.0.1:1", Rate: 1, Duration: time.Second, Catalog: DemoItemIDs(3000), Seed: 1, Scenario: scenario}
	cfg, _, err := cfg.withDefaults(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range DefaultEndpoints() {
		if e.Name != name {
			continue
		}
		ep, err := compileEndpoint(e)
		if err != nil {
			b.Fatal(err)
		}
		p := newPlanner(&cfg, []*endpoint{ep}, []float64{1})
		var j job
		for range 10 { // a few views, so events have several to report
			p.plan(&j)
		}
		return newRenderer(&cfg), ep, j
	}
	b.Fatalf("no endpoint %s", name)
	return nil, nil, job{}
}

func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"pdp", "cart", "events", "rank", "stock"} {
		b.Run(name, func(b *testing.B) {
			r, e, j := benchJob(b, ScenarioStockStorm, name)
			var uri, body []byte
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				uri = r.render(uri[:0], &e.path, &j, now)
				body = r.render(body[:0], &e.body, &j, now)
			}
			b.SetBytes(int64(len(uri) + len(body)))
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	cfg := Config{Target: "http://127.0.0.1:1", Rate: 1, Duration: time.Second, Catalog: DemoItemIDs(100_000), Seed: 1}
	cfg, _, err := cfg.withDefaults(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var eps []*endpoint
	var weights []float64
	for _, e := range DefaultEndpoints() {
		ep, err := compileEndpoint(e)
		if err != nil {
			b.Fatal(err)
		}
		eps = append(eps, ep)
		weights = append(weights, 1)
	}
	p := newPlanner(&cfg, eps, weights)
	var j job
	b.ReportAllocs()
	for b.Loop() {
		p.plan(&j)
	}
}

// BenchmarkNextRequest is the generator's own work per request of the
// mixed scenario, without the network: plan it, write it (as the event
// loop does, or into a fasthttp request as the workers do), record its
// answer.
func BenchmarkNextRequest(b *testing.B) {
	setup := func(b *testing.B) (*runner, *planner) {
		r, p, err := newRunner(context.Background(), Config{
			Target: "http://127.0.0.1:1", Rate: 2000, Duration: time.Hour, Catalog: DemoItemIDs(3000), Seed: 1,
		})
		if err != nil {
			b.Fatal(err)
		}
		r.windowEnd = r.cfg.Duration
		return r, p
	}
	// plan returns request seq; answer records an answer to it.
	plan := func(p *planner, seq uint64) job {
		j := job{at: time.Duration(seq) * 500 * time.Microsecond, seq: seq}
		p.plan(&j)
		return j
	}
	answer := func(r *runner, j *job) {
		r.record(j, 100*time.Microsecond, j.at+time.Millisecond+time.Duration(j.seq%1000)*time.Microsecond, 200, "")
	}
	now := time.Now()
	b.Run("eventloop", func(b *testing.B) {
		r, p := setup(b)
		var req, body []byte
		b.ReportAllocs()
		for seq := uint64(0); b.Loop(); seq++ {
			j := plan(p, seq)
			req, body = r.rend.appendRequest(req[:0], body, r.eps[j.ep], &j, r.host, now)
			answer(r, &j)
		}
	})
	b.Run("workers", func(b *testing.B) {
		r, p := setup(b)
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		var uri, body []byte
		b.ReportAllocs()
		for seq := uint64(0); b.Loop(); seq++ {
			j := plan(p, seq)
			uri, body = r.prepare(req, &j, now, uri, body)
			answer(r, &j)
		}
	})
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(1234)
		for pb.Next() {
			h.Record(d)
			d = d*7%(100*time.Millisecond) + time.Microsecond
		}
	})
}

func TestRenderingARequestDoesNotAllocate(t *testing.T) {
	cfg := Config{Target: "http://127.0.0.1:1", Rate: 1, Duration: time.Second, Catalog: DemoItemIDs(300), Seed: 1, Scenario: ScenarioStockStorm}
	cfg, _, err := cfg.withDefaults(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := newRenderer(&cfg)
	now := time.Now()
	for _, e := range DefaultEndpoints() {
		ep, err := compileEndpoint(e)
		if err != nil {
			t.Fatal(err)
		}
		p := newPlanner(&cfg, []*endpoint{ep}, []float64{1})
		var j job
		p.plan(&j)
		uri := make([]byte, 0, 1<<10)
		body := make([]byte, 0, 64<<10)
		req := make([]byte, 0, 64<<10)
		if n := testing.AllocsPerRun(100, func() {
			p.plan(&j)
			uri = r.render(uri[:0], &ep.path, &j, now)
			body = r.render(body[:0], &ep.body, &j, now)
			req, body = r.appendRequest(req[:0], body, ep, &j, "127.0.0.1:1", now)
		}); n != 0 {
			t.Errorf("%s: %g allocations per request", e.Name, n)
		}
	}
}
