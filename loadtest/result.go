package loadtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. It marshals to JSON with latencies in
// milliseconds; only the measured phase (after Warmup) is counted.
type Result struct {
	RunID     string             `json:"run_id"`
	Scenario  string             `json:"scenario"`
	Target    string             `json:"target"`
	StartedAt time.Time          `json:"started_at"`
	Rate      float64            `json:"rate"` // target arrival rate, req/s
	DurationS float64            `json:"duration_s"`
	WarmupS   float64            `json:"warmup_s"`
	Seed      uint64             `json:"seed"`
	Mix       map[string]float64 `json:"mix"` // normalised weights
	// Sent counts requests sent, warm-up included.
	Sent int64 `json:"sent"`
	// Interrupted is set when the run was cancelled before its end.
	Interrupted bool `json:"interrupted,omitempty"`
	// GeneratorCPUSeconds is the CPU time of this process during the run
	// (user + system); it includes the server only when the server runs in
	// the same process, as in tests.
	GeneratorCPUSeconds float64 `json:"generator_cpu_s"`
	// GeneratorCPUMsPer1k is GeneratorCPUSeconds in ms per 1000 requests sent.
	GeneratorCPUMsPer1k float64          `json:"generator_cpu_ms_per_1k"`
	Total               Stats            `json:"total"`
	Endpoints           map[string]Stats `json:"endpoints"`
	// Intervals is the time series of the measured phase, by scheduled
	// send time, when Config.Interval is set.
	Intervals []Interval `json:"intervals,omitempty"`
	// StockProbe is what the stock-storm scenario's probe measured.
	StockProbe *StockProbe `json:"stock_probe,omitempty"`
}

// Interval is one window of the time series: the requests due from FromS
// to ToS seconds after the start of the measured phase, all endpoints.
type Interval struct {
	FromS   float64 `json:"from_s"`
	ToS     float64 `json:"to_s"`
	Count   uint64  `json:"count"`
	Errors  uint64  `json:"errors"`
	Latency Latency `json:"latency_ms"`
}

// Stats are the outcomes of one endpoint, or of all.
type Stats struct {
	// Count is the number of measured requests: OK plus errors.
	Count uint64 `json:"count"`
	OK    uint64 `json:"ok"`
	// Errors counts failures by kind: "status_<code>" for answers other
	// than 2xx, ErrKindTimeout, ErrKindConnection, ErrKindDropped, ErrKindOther.
	Errors    map[string]uint64 `json:"errors,omitempty"`
	ErrorRate float64           `json:"error_rate"`
	// Late counts requests that found every connection busy when they were due
	// and waited in the backlog; their wait is part of their latency.
	Late uint64 `json:"late"`
	// Throughput is the achieved rate: answers (errors included) that
	// arrived between the end of the warm-up and the last request's due
	// time, per second of that window.
	Throughput float64 `json:"throughput_rps"`
	// Latency is from the scheduled send time to the end of the answer.
	Latency Latency `json:"latency_ms"`
	// SendLag is from the scheduled to the actual send time: the share of
	// Latency spent in the generator (timer jitter, waiting for a connection).
	SendLag Latency `json:"send_lag_ms"`
}

// Latency summarises a latency distribution, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyOf(h *Histogram) Latency {
	return Latency{
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()), Min: ms(h.Min()),
	}
}

// Table renders the result for humans: one row per endpoint and a total.
func (r *Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: scenario %s, %s, %g req/s for %gs (warm-up %gs), seed %d\n",
		r.RunID, r.Scenario, r.Target, r.Rate, r.DurationS, r.WarmupS, r.Seed)
	if r.Interrupted {
		b.WriteString("INTERRUPTED: the figures cover part of the run\n")
	}
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "endpoint\tshare\tcount\tok\terrors\tlate\treq/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tmean ms\t")
	row := func(name string, share float64, s Stats) {
		fmt.Fprintf(w, "%s\t%.1f%%\t%d\t%d\t%.2f%%\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			name, share*100, s.Count, s.OK, s.ErrorRate*100, s.Late, s.Throughput,
			s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.P999, s.Latency.Max, s.Latency.Mean)
	}
	names := slices.Sorted(maps.Keys(r.Endpoints))
	for _, name := range names {
		row(name, r.Mix[name], r.Endpoints[name])
	}
	row("total", 1, r.Total)
	w.Flush()
	for _, name := range names {
		if errs := r.Endpoints[name].Errors; len(errs) > 0 {
			fmt.Fprintf(&b, "errors %s:", name)
			for _, kind := range slices.Sorted(maps.Keys(errs)) {
				fmt.Fprintf(&b, " %s=%d", kind, errs[kind])
			}
			b.WriteByte('\n')
		}
	}
	if len(r.Intervals) > 0 {
		b.WriteString("time series (requests by scheduled send time):\n")
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "from s\tto s\tcount\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
		for _, in := range r.Intervals {
			fmt.Fprintf(w, "%g\t%g\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", in.FromS, in.ToS, in.Count, in.Errors,
				in.Latency.P50, in.Latency.P90, in.Latency.P99, in.Latency.Max)
		}
		w.Flush()
	}
	if p := r.StockProbe; p != nil {
		fmt.Fprintf(&b, "stock probe (item %s): %d out-of-stock updates, %d failed; acknowledged to left out of recommendations ms: p50 %.2f, max %.2f; restock to shown again ms: p50 %.2f, max %.2f\n",
			p.ItemID, p.Probes, p.Failures, p.OutOfStock.P50, p.OutOfStock.Max, p.Restock.P50, p.Restock.Max)
		for _, e := range p.Errors {
			fmt.Fprintf(&b, "  stock probe: %s\n", e)
		}
	}
	l := r.Total.SendLag
	fmt.Fprintf(&b, "send lag (scheduled to sent) ms: p50 %.3f, p99 %.3f, max %.3f\n", l.P50, l.P99, l.Max)
	fmt.Fprintf(&b, "generator: %d requests sent, %.2f s CPU, %.1f ms CPU per 1k requests\n",
		r.Sent, r.GeneratorCPUSeconds, r.GeneratorCPUMsPer1k)
	return b.String()
}

// Thresholds are the limits a CI run must stay within.
type Thresholds struct {
	// MaxP99 is the highest allowed overall p99 latency; 0 means no limit.
	MaxP99 time.Duration
	// MaxErrorRate is the highest allowed share of failed requests
	// (0.001 = 0.1 %); 0 allows none, a negative value any.
	MaxErrorRate float64
	// MaxStockLag is the longest allowed time from an acknowledged stock
	// update to recommendations that reflect it (stock-storm probe); 0
	// means no limit. A run with the limit set fails when the probe
	// measured nothing or any probe failed.
	MaxStockLag time.Duration
}

// ErrThreshold is wrapped by every error Check returns.
var ErrThreshold = errors.New("threshold exceeded")

// Check returns an error naming every threshold the run exceeded, or nil.
// A run that measured nothing or was interrupted fails.
func (r *Result) Check(t Thresholds) error {
	var errs []error
	if r.Total.Count == 0 {
		errs = append(errs, fmt.Errorf("%w: no requests were measured", ErrThreshold))
	}
	if r.Interrupted {
		errs = append(errs, fmt.Errorf("%w: the run was interrupted", ErrThreshold))
	}
	if t.MaxP99 > 0 && r.Total.Latency.P99 > ms(t.MaxP99) {
		errs = append(errs, fmt.Errorf("%w: p99 latency is %.2f ms, the limit is %.2f ms", ErrThreshold, r.Total.Latency.P99, ms(t.MaxP99)))
	}
	if t.MaxErrorRate >= 0 && r.Total.ErrorRate > t.MaxErrorRate {
		var kinds []string
		for _, name := range slices.Sorted(maps.Keys(r.Endpoints)) {
			errs := r.Endpoints[name].Errors
			for _, kind := range slices.Sorted(maps.Keys(errs)) {
				kinds = append(kinds, fmt.Sprintf("%s %s=%d", name, kind, errs[kind]))
			}
		}
		errs = append(errs, fmt.Errorf("%w: error rate is %.4f%%, the limit is %.4f%% (%s)",
			ErrThreshold, r.Total.ErrorRate*100, t.MaxErrorRate*100, strings.Join(kinds, ", ")))
	}
	if t.MaxStockLag > 0 {
		switch p := r.StockProbe; {
		case p == nil || p.Probes == 0:
			errs = append(errs, fmt.Errorf("%w: a stock lag limit is set but the stock probe measured nothing", ErrThreshold))
		case p.Failures > 0:
			errs = append(errs, fmt.Errorf("%w: %d of %d stock probes failed (%s)", ErrThreshold, p.Failures, p.Probes+p.Failures, strings.Join(p.Errors, "; ")))
		case p.OutOfStock.Max > ms(t.MaxStockLag):
			errs = append(errs, fmt.Errorf("%w: recommendations reflected a stock update after %.2f ms, the limit is %.2f ms", ErrThreshold, p.OutOfStock.Max, ms(t.MaxStockLag)))
		}
	}
	return errors.Join(errs...)
}
