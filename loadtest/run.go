package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Error kinds besides "status_<code>".
const (
	ErrKindTimeout    = "timeout"    // no answer within Config.Timeout
	ErrKindConnection = "connection" // refused, reset or closed connection
	ErrKindDropped    = "dropped"    // never sent: no worker was free within Config.Timeout
	ErrKindOther      = "other"
)

// counters are the live counts of one endpoint, updated by every worker.
type counters struct {
	lat     *Histogram // from the scheduled send time to the answer
	lag     *Histogram // from the scheduled to the actual send time
	status  [600]atomic.Uint64
	timeout atomic.Uint64
	conn    atomic.Uint64
	dropped atomic.Uint64
	other   atomic.Uint64
	late    atomic.Uint64
	// inWindow counts answers that arrived before the last request was
	// due: the achieved throughput.
	inWindow atomic.Uint64
}

// runner is one run in progress.
type runner struct {
	cfg    Config
	base   string
	mix    map[string]float64 // normalised weights by endpoint name
	eps    []*endpoint
	rend   *renderer
	client *fasthttp.HostClient
	counts []*counters // parallel to eps
	// windows and windowErrs are the time series (Config.Interval): all
	// endpoints' latencies and errors by scheduled send time.
	windows    []*Histogram
	windowErrs []atomic.Uint64
	// started is closed once start is set.
	started chan struct{}
	start   time.Time
	busy    atomic.Int64
	stop    atomic.Bool
	sent    atomic.Int64
	// windowEnd is when the last request is due, ns from the start.
	windowEnd time.Duration
}

// Run sends the configured traffic at a constant arrival rate and returns
// what it measured. Requests are scheduled at fixed intervals from the
// start and sent whether or not earlier ones were answered, by up to
// MaxInFlight workers; every latency is measured from the scheduled send
// time, so a stalled server shows in the latencies of all the requests
// that were due during the stall (no coordinated omission). A request
// that finds no free worker waits in a bounded backlog and is counted as
// late; one that waited longer than Timeout, or found the backlog full, is
// dropped: counted as an error and recorded with a latency of at least
// Timeout.
//
// Run stops by itself after Warmup+Duration or MaxRequests. When ctx ends
// first, it returns the partial result with Interrupted set, and ctx's
// error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	r, p, err := newRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.client.CloseIdleConnections()
	cfg = r.cfg // with the defaults filled in

	cpu0 := processCPU()
	var probe *stockProbe
	probeDone := make(chan struct{})
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	if cfg.Scenario == ScenarioStockStorm && cfg.StockProbeEvery > 0 && r.mix["stock"] > 0 {
		probe = newStockProbe(r)
		go func() { defer close(probeDone); probe.run(probeCtx) }()
	}
	res := r.run(ctx, p)
	if probe != nil {
		stopProbe() // a probe still waiting when the traffic ends is not counted
		<-probeDone
		res.StockProbe = probe.result()
	}
	res.GeneratorCPUSeconds = (processCPU() - cpu0).Seconds()
	if n := r.sent.Load(); n > 0 {
		res.GeneratorCPUMsPer1k = res.GeneratorCPUSeconds * 1e3 / float64(n) * 1e3
	}
	res.Mix = r.mix
	if err := ctx.Err(); err != nil {
		res.Interrupted = true
		return res, fmt.Errorf("load test interrupted: %w", err)
	}
	return res, nil
}

// newRunner validates cfg and returns the runner and the planner of the
// run; nothing is sent yet.
func newRunner(ctx context.Context, cfg Config) (*runner, *planner, error) {
	cfg, tg, err := cfg.withDefaults(ctx)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]Endpoint{}
	for _, e := range DefaultEndpoints() {
		byName[e.Name] = e
	}
	for _, e := range cfg.Endpoints {
		byName[e.Name] = e
	}
	mix, err := cfg.mix(byName)
	if err != nil {
		return nil, nil, err
	}
	r := &runner{cfg: cfg, base: tg.base, mix: mix, rend: newRenderer(&cfg), started: make(chan struct{})}
	if cfg.Interval > 0 {
		n := int((cfg.Duration + cfg.Interval - 1) / cfg.Interval)
		r.windowErrs = make([]atomic.Uint64, n)
		for range n {
			r.windows = append(r.windows, NewHistogram())
		}
	}
	names := slices.Sorted(maps.Keys(mix))
	if len(names) > math.MaxUint8 {
		return nil, nil, fmt.Errorf("the mix has %d endpoints, the limit is %d", len(names), math.MaxUint8)
	}
	weights := make([]float64, len(names))
	for i, name := range names {
		e, err := compileEndpoint(byName[name])
		if err != nil {
			return nil, nil, err
		}
		r.eps = append(r.eps, e)
		r.counts = append(r.counts, &counters{lat: NewHistogram(), lag: NewHistogram()})
		weights[i] = mix[name]
	}
	r.client = &fasthttp.HostClient{
		Addr:                          tg.dial,
		Name:                          "recs-loadtest",
		MaxConns:                      cfg.MaxInFlight,
		ReadTimeout:                   cfg.Timeout,
		WriteTimeout:                  cfg.Timeout,
		MaxIdleConnDuration:           10 * time.Second, // below servers' idle timeouts: no reuse of a closing connection
		MaxIdemponentCallAttempts:     1,                // a retry would hide an error
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	return r, newPlanner(&r.cfg, r.eps, weights), nil
}

func (r *runner) run(ctx context.Context, p *planner) *Result {
	cfg := &r.cfg
	jobs := make(chan job, cfg.Backlog)
	var wg sync.WaitGroup
	for range cfg.MaxInFlight {
		wg.Go(func() { r.worker(jobs) })
	}
	interval := float64(time.Second) / cfg.Rate
	end := cfg.Warmup + cfg.Duration
	r.windowEnd = min(end, time.Duration(float64(cfg.MaxRequests)*interval))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	r.start = time.Now()
	close(r.started)
	startedAt := time.Now().UTC().Round(0)
	var seq int64
	var lastAt time.Duration
schedule:
	for seq < cfg.MaxRequests {
		now := time.Since(r.start)
		for ; seq < cfg.MaxRequests; seq++ {
			at := time.Duration(float64(seq) * interval)
			if at >= end {
				break schedule
			}
			if at > now {
				break
			}
			j := job{at: at, seq: uint64(seq)}
			p.plan(&j)
			j.late = r.busy.Load()+int64(len(jobs)) >= int64(cfg.MaxInFlight)
			select {
			case jobs <- j:
			default: // the backlog is full: the generator cannot keep up
				r.drop(&j, cfg.Timeout)
			}
			lastAt = at
		}
		if seq >= cfg.MaxRequests {
			break
		}
		wait := time.Duration(float64(seq)*interval) - time.Since(r.start)
		if wait > 2*time.Millisecond {
			// A timer for the long part of the wait, nanosleep for the last
			// millisecond or two, which a timer would overshoot.
			timer.Reset(wait - 1500*time.Microsecond)
			select {
			case <-ctx.Done():
				r.stop.Store(true)
				break schedule
			case <-timer.C:
			}
			continue
		}
		if ctx.Err() != nil {
			r.stop.Store(true)
			break
		}
		if wait > 0 {
			shortSleep(wait)
		}
	}
	close(jobs)
	wg.Wait()

	res := &Result{
		RunID:     cfg.RunID,
		Scenario:  cfg.Scenario,
		Target:    r.base,
		StartedAt: startedAt,
		Rate:      cfg.Rate,
		DurationS: cfg.Duration.Seconds(),
		WarmupS:   cfg.Warmup.Seconds(),
		Seed:      cfg.Seed,
		Sent:      r.sent.Load(),
		Endpoints: make(map[string]Stats, len(r.eps)),
	}
	// Throughput counts the answers that arrived while requests were due:
	// from the end of the warm-up to the last request's slot.
	window := min(r.windowEnd, lastAt+time.Duration(interval)) - cfg.Warmup
	total := &counters{lat: NewHistogram(), lag: NewHistogram()}
	for i, e := range r.eps {
		c := r.counts[i]
		res.Endpoints[e.Name] = c.stats(window)
		total.add(c)
	}
	res.Total = total.stats(window)
	for i, h := range r.windows {
		from := time.Duration(i) * cfg.Interval
		res.Intervals = append(res.Intervals, Interval{
			FromS: from.Seconds(), ToS: min(from+cfg.Interval, cfg.Duration).Seconds(),
			Count: h.Count(), Errors: r.windowErrs[i].Load(), Latency: latencyOf(h),
		})
	}
	return res
}

// recordWindow adds a measured request to the time series.
func (r *runner) recordWindow(j *job, lat time.Duration, failed bool) {
	if r.windows == nil {
		return
	}
	i := min(int((j.at-r.cfg.Warmup)/r.cfg.Interval), len(r.windows)-1)
	r.windows[i].Record(lat)
	if failed {
		r.windowErrs[i].Add(1)
	}
}

func (r *runner) worker(jobs <-chan job) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	var uri, body []byte
	for j := range jobs {
		if r.stop.Load() {
			continue // interrupted: drain the backlog without sending
		}
		r.busy.Add(1)
		uri, body = r.do(&j, req, resp, uri, body)
		r.busy.Add(-1)
	}
}

// drop records a request that was never sent, with latency lat.
func (r *runner) drop(j *job, lat time.Duration) {
	if j.at < r.cfg.Warmup {
		return
	}
	c := r.counts[j.ep]
	c.dropped.Add(1)
	c.lat.Record(lat)
	r.recordWindow(j, lat, true)
}

// do sends one request and records its outcome; it returns the buffers
// for reuse.
func (r *runner) do(j *job, req *fasthttp.Request, resp *fasthttp.Response, uri, body []byte) ([]byte, []byte) {
	now := time.Now()
	lag := now.Sub(r.start) - j.at
	if lag >= r.cfg.Timeout {
		r.drop(j, lag)
		return uri, body
	}
	uri, body = r.prepare(req, j, now, uri, body)
	r.sent.Add(1)
	err := r.client.DoDeadline(req, resp, now.Add(r.cfg.Timeout))
	r.record(j, lag, time.Since(r.start), resp.StatusCode(), err)
	return uri, body
}

// prepare fills req for j, sent at now; it returns the buffers for reuse.
func (r *runner) prepare(req *fasthttp.Request, j *job, now time.Time, uri, body []byte) ([]byte, []byte) {
	e := r.eps[j.ep]
	req.Reset()
	req.Header.SetMethod(e.Method)
	uri = append(uri[:0], r.base...)
	uri = r.rend.render(uri, &e.path, j, now)
	req.SetRequestURIBytes(uri)
	if len(e.body.segs) > 0 {
		body = r.rend.render(body[:0], &e.body, j, now)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	return uri, body
}

// record counts the outcome of j, sent lag after it was due and answered
// done after the start with status code or err.
func (r *runner) record(j *job, lag, done time.Duration, code int, err error) {
	if j.at < r.cfg.Warmup {
		return
	}
	c := r.counts[j.ep]
	if done <= r.windowEnd {
		c.inWindow.Add(1)
	}
	c.lat.Record(done - j.at)
	c.lag.Record(lag)
	if j.late {
		c.late.Add(1)
	}
	r.recordWindow(j, done-j.at, err != nil || code < 200 || code > 299)
	if err != nil {
		switch errorKind(err) {
		case ErrKindTimeout:
			c.timeout.Add(1)
		case ErrKindConnection:
			c.conn.Add(1)
		default:
			c.other.Add(1)
		}
		return
	}
	c.status[min(max(code, 0), len(c.status)-1)].Add(1)
}

func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrKindTimeout
	case errors.Is(err, fasthttp.ErrNoFreeConns), errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrKindConnection
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return ErrKindConnection
	}
	return ErrKindOther
}

// add merges the counts of o into c.
func (c *counters) add(o *counters) {
	c.lat.Merge(o.lat)
	c.lag.Merge(o.lag)
	for i := range o.status {
		c.status[i].Add(o.status[i].Load())
	}
	c.timeout.Add(o.timeout.Load())
	c.conn.Add(o.conn.Load())
	c.dropped.Add(o.dropped.Load())
	c.other.Add(o.other.Load())
	c.late.Add(o.late.Load())
	c.inWindow.Add(o.inWindow.Load())
}

func (c *counters) stats(window time.Duration) Stats {
	s := Stats{Late: c.late.Load(), Latency: latencyOf(c.lat), SendLag: latencyOf(c.lag)}
	errs := map[string]uint64{}
	for code := range c.status {
		n := c.status[code].Load()
		switch {
		case n == 0:
		case code >= 200 && code < 300:
			s.OK += n
		default:
			errs[fmt.Sprintf("status_%d", code)] = n
		}
	}
	for kind, n := range map[string]uint64{
		ErrKindTimeout: c.timeout.Load(), ErrKindConnection: c.conn.Load(),
		ErrKindDropped: c.dropped.Load(), ErrKindOther: c.other.Load(),
	} {
		if n > 0 {
			errs[kind] = n
		}
	}
	s.Count = s.OK
	for _, n := range errs {
		s.Count += n
	}
	if len(errs) > 0 {
		s.Errors = errs
		s.ErrorRate = float64(s.Count-s.OK) / float64(s.Count)
	}
	if window > 0 {
		s.Throughput = float64(c.inWindow.Load()) / window.Seconds()
	}
	return s
}
