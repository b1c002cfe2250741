package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBucketsCoverEveryValueContiguously(t *testing.T) {
	t.Parallel()
	prevHi := uint64(0)
	for i := range numBuckets {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketIndex(lo) != i || bucketIndex(hi) != i {
			t.Fatalf("bucket %d [%d, %d] maps back to %d and %d", i, lo, hi, bucketIndex(lo), bucketIndex(hi))
		}
		if lo > 0 && float64(hi-lo)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its value", i, lo, hi, subCount)
		}
		prevHi = hi
	}
	if prevHi < uint64(HistogramMax) {
		t.Fatalf("the last bucket ends at %d, below %d", prevHi, HistogramMax)
	}
}

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestHistogramQuantilesAreWithinOnePercent(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	f := func(name string, draw func() time.Duration) {
		t.Helper()
		h := NewHistogram()
		vals := make([]time.Duration, 100_000)
		var sum time.Duration
		for i := range vals {
			vals[i] = draw()
			sum += vals[i]
			h.Record(vals[i])
		}
		slices.Sort(vals)
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
			want, got := exactQuantile(vals, q), h.Quantile(q)
			if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
				t.Errorf("%s: q%g = %s, want %s (error %.2f %%)", name, q, got, want, rel*100)
			}
		}
		if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
			t.Errorf("%s: min %s max %s count %d, want %s %s %d", name, h.Min(), h.Max(), h.Count(), vals[0], vals[len(vals)-1], len(vals))
		}
		if want := sum / time.Duration(len(vals)); h.Mean() != want {
			t.Errorf("%s: mean %s, want %s", name, h.Mean(), want)
		}
	}
	f("uniform 1-100 ms", func() time.Duration { return time.Millisecond + time.Duration(r.Int64N(int64(99*time.Millisecond))) })
	f("exponential mean 2 ms", func() time.Duration { return time.Microsecond + time.Duration(r.ExpFloat64()*2e6) })
	f("log-uniform 1 µs - 60 s", func() time.Duration {
		return time.Duration(math.Exp(math.Log(1e3) + r.Float64()*(math.Log(6e10)-math.Log(1e3))))
	})
	f("bimodal 300 µs and 450 ms", func() time.Duration {
		if r.IntN(100) < 3 {
			return 450*time.Millisecond + time.Duration(r.Int64N(1e6))
		}
		return 300*time.Microsecond + time.Duration(r.Int64N(1e5))
	})
}

func TestHistogramEdgeValues(t *testing.T) {
	t.Parallel()
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Min() != 0 || h.Max() != 0 {
		t.Fatal("an empty histogram must report zeros")
	}
	h.Record(-time.Second) // counts as 0
	h.Record(2 * time.Minute)
	if h.Min() != 0 || h.Max() != 2*time.Minute {
		t.Fatalf("min %s max %s, want 0 and 2m", h.Min(), h.Max())
	}
	if got := h.Quantile(0.99); got < HistogramMax*99/100 {
		t.Fatalf("q0.99 of a value above the range is %s, want about %s", got, HistogramMax)
	}
}

func TestHistogramMergeEqualsRecordingIntoOne(t *testing.T) {
	t.Parallel()
	a, b, both := NewHistogram(), NewHistogram(), NewHistogram()
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		both.Record(d)
	}
	m := NewHistogram()
	m.Merge(a)
	m.Merge(b)
	m.Merge(NewHistogram())
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		if m.Quantile(q) != both.Quantile(q) {
			t.Errorf("q%g: merged %s, direct %s", q, m.Quantile(q), both.Quantile(q))
		}
	}
	if m.Min() != both.Min() || m.Max() != both.Max() || m.Mean() != both.Mean() || m.Count() != both.Count() {
		t.Errorf("merged min/max/mean/count differ: %s %s %s %d vs %s %s %s %d",
			m.Min(), m.Max(), m.Mean(), m.Count(), both.Min(), both.Max(), both.Mean(), both.Count())
	}
}
