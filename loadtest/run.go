package loadtest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Error kinds besides "status_<code>".
const (
	ErrKindTimeout    = "timeout"    // no answer within Config.Timeout
	ErrKindConnection = "connection" // refused, reset or closed connection
	ErrKindDropped    = "dropped"    // never sent: no connection was free within Config.Timeout
	ErrKindOther      = "other"
)

// counters are the live counts of one endpoint, updated by every worker
// (or by the event loop).
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
	dial   string      // the server's resolved ip:port
	host   string      // the Host header
	counts []*counters // parallel to eps
	// windows and windowErrs are the time series (Config.Interval): all
	// endpoints' latencies and errors by scheduled send time.
	windows    []*Histogram
	windowErrs []atomic.Uint64
	// started is closed once start is set.
	started   chan struct{}
	start     time.Time
	startedAt time.Time // wall clock, for the result
	sent      atomic.Int64
	// windowEnd is when the last request is due, ns from the start.
	windowEnd time.Duration
}

// Run sends the configured traffic at a constant arrival rate and returns
// what it measured. Requests are scheduled at fixed intervals from the
// start and sent whether or not earlier ones were answered, over up to
// MaxInFlight connections; every latency is measured from the scheduled
// send time to the arrival of the answer, so a stalled server shows in
// the latencies of all the requests that were due during the stall (no
// coordinated omission). A request that finds every connection busy waits
// in a bounded backlog and is counted as late; one that waited longer than
// Timeout, or found the backlog full, is dropped: counted as an error and
// recorded with a latency of at least Timeout.
//
// On 64-bit Linux one goroutine sends and reads everything (the event
// loop, see loop_linux.go), elsewhere MaxInFlight goroutines with fasthttp
// (see workers.go); they send the same bytes and count the same way.
//
// Run stops by itself after Warmup+Duration or MaxRequests. When ctx ends
// first, it returns the partial result with Interrupted set, and ctx's
// error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	r, p, err := newRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
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
	r := &runner{
		cfg: cfg, base: tg.base, dial: tg.dial, host: tg.host, mix: mix,
		rend: newRenderer(&cfg), started: make(chan struct{}),
	}
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
	return r, newPlanner(&r.cfg, r.eps, weights), nil
}

// run sends the traffic of p with the event loop where the system has
// it, else with the workers, and returns what they measured.
func (r *runner) run(ctx context.Context, p *planner) *Result {
	s := r.begin(p)
	if r.cfg.workers || !r.runEventLoop(ctx, s) {
		r.runWorkers(ctx, s)
	}
	return r.result(s)
}

// begin starts the clock of the run and returns its schedule.
func (r *runner) begin(p *planner) *schedule {
	cfg := &r.cfg
	s := &schedule{p: p, interval: float64(time.Second) / cfg.Rate, end: cfg.Warmup + cfg.Duration, max: cfg.MaxRequests}
	r.windowEnd = min(s.end, time.Duration(float64(cfg.MaxRequests)*s.interval))
	r.start = time.Now()
	r.startedAt = r.start.UTC().Round(0)
	close(r.started)
	return s
}

// schedule hands out the requests of a run in the order they are due:
// at fixed intervals from the start, planned by p.
type schedule struct {
	p        *planner
	interval float64 // ns
	end      time.Duration
	max      int64
	seq      int64
	lastAt   time.Duration // when the last request handed out was due
}

// nextAt returns when the next request is due; false when there is none.
func (s *schedule) nextAt() (time.Duration, bool) {
	at := time.Duration(float64(s.seq) * s.interval)
	return at, s.seq < s.max && at < s.end
}

// next plans the next request into j if it is due at now.
func (s *schedule) next(now time.Duration, j *job) bool {
	at, ok := s.nextAt()
	if !ok || at > now {
		return false
	}
	*j = job{at: at, seq: uint64(s.seq)}
	s.p.plan(j)
	s.seq++
	s.lastAt = at
	return true
}

// result summarises the counts of a finished run.
func (r *runner) result(s *schedule) *Result {
	cfg := &r.cfg
	res := &Result{
		RunID:     cfg.RunID,
		Scenario:  cfg.Scenario,
		Target:    r.base,
		StartedAt: r.startedAt,
		Rate:      cfg.Rate,
		DurationS: cfg.Duration.Seconds(),
		WarmupS:   cfg.Warmup.Seconds(),
		Seed:      cfg.Seed,
		Sent:      r.sent.Load(),
		Endpoints: make(map[string]Stats, len(r.eps)),
	}
	// Throughput counts the answers that arrived while requests were due:
	// from the end of the warm-up to the last request's slot.
	window := min(r.windowEnd, s.lastAt+time.Duration(s.interval)) - cfg.Warmup
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

// record counts the outcome of j, sent lag after it was due and
// answered done after the start: with status code, or failed with an
// error of kind (ErrKindTimeout, ErrKindConnection, ErrKindOther).
func (r *runner) record(j *job, lag, done time.Duration, code int, kind string) {
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
	r.recordWindow(j, done-j.at, kind != "" || code < 200 || code > 299)
	switch kind {
	case "":
		c.status[min(max(code, 0), len(c.status)-1)].Add(1)
	case ErrKindTimeout:
		c.timeout.Add(1)
	case ErrKindConnection:
		c.conn.Add(1)
	default:
		c.other.Add(1)
	}
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
