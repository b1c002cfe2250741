package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: values are nanoseconds. Below 2*subCount every value
// has its own bucket; above, each power of two is split into subCount
// equal buckets, so a bucket is at most 1/subCount (0.78 %) of its lower
// bound wide and its midpoint is within 0.4 % of any value in it.
const (
	subBits  = 7
	subCount = 1 << subBits // buckets per power of two
	// HistogramMax is the largest latency told apart; larger values are
	// counted in the last bucket (the true maximum is still kept).
	HistogramMax = 60 * time.Second
)

var numBuckets = bucketIndex(uint64(HistogramMax)) + 1

func bucketIndex(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subCount, 2*subCount)
	return 2*subCount + (e-1)*subCount + int(v>>e) - subCount
}

// bucketBounds returns the lowest and highest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i)
	}
	e := (i-2*subCount)/subCount + 1
	m := uint64((i-2*subCount)%subCount + subCount)
	return m << e, (m+1)<<e - 1
}

// Histogram is an HDR-style log-linear latency histogram from 1 ns to
// HistogramMax with at most 1 % relative error. Record is lock-free and
// allocation-free, so every worker records into the same histogram.
type Histogram struct {
	counts []atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; overflows only after 584 years
	min    atomic.Uint64 // stored as ^min so the zero value means "none"
	max    atomic.Uint64
}

// NewHistogram returns an empty histogram (about 30 KiB).
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, numBuckets)}
}

// Record adds one latency; negative values count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	i := bucketIndex(min(v, uint64(HistogramMax)))
	h.counts[i].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		old := h.max.Load()
		if v <= old || h.max.CompareAndSwap(old, v) {
			break
		}
	}
	for {
		old := h.min.Load()
		if ^v <= old || h.min.CompareAndSwap(old, ^v) {
			break
		}
	}
}

// Merge adds the counts of o to h. It is not atomic with respect to
// concurrent Records into o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n.Load() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	for {
		old, v := h.max.Load(), o.max.Load()
		if v <= old || h.max.CompareAndSwap(old, v) {
			break
		}
	}
	for {
		old, v := h.min.Load(), o.min.Load()
		if v <= old || h.min.CompareAndSwap(old, v) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Min is the smallest recorded value, exactly; 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.n.Load() == 0 {
		return 0
	}
	return time.Duration(^h.min.Load())
}

// Mean is the exact arithmetic mean; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value below or at which a share q (0..1) of the
// recorded values lie, within 1 %; 0 when empty. Quantile(1) is Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketBounds(i)
			v := time.Duration(lo + (hi-lo)/2)
			return min(max(v, h.Min()), h.Max())
		}
	}
	return h.Max()
}
