package ratelimit

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func TestBurstThenRateThenRefill(t *testing.T) {
	l := New[string](10, 5, 1000) // 10/s, bursts of 5
	for i := range 5 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("a", t0)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("6th at once: %v, retry after %v; want refused, 100ms", ok, wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Fatal("another key is limited by a's use")
	}
	if ok, _ := l.Allow("a", t0.Add(100*time.Millisecond)); !ok {
		t.Fatal("a token should have come back after 100ms")
	}
	if ok, _ := l.Allow("a", t0.Add(100*time.Millisecond)); ok {
		t.Fatal("only one token came back")
	}
	// An idle key refills to the burst, not beyond.
	n := 0
	for range 20 {
		if ok, _ := l.Allow("a", t0.Add(time.Hour)); ok {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("after an hour idle %d requests passed at once, want the burst of 5", n)
	}
}

func TestZeroRateAllowsAll(t *testing.T) {
	l := New[string](0, 0, 10)
	for range 1000 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
	if l.Enabled() || l.Len() != 0 {
		t.Fatal("a disabled limiter keeps state")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	l := New[int](1, 1, 64*10)
	for i := range 100_000 {
		l.Allow(i, t0.Add(time.Duration(i)*time.Microsecond))
	}
	if n := l.Len(); n > 64*10 {
		t.Fatalf("%d buckets held, bound 640", n)
	}
	// A key that is still throttled survives a sweep of refilled ones.
	l = New[int](1, 1, 64)
	for i := range 64 * 4 {
		l.Allow(i, t0)
	}
	l.Allow(-1, t0.Add(10*time.Second))
	l.Allow(-1, t0.Add(10*time.Second))
	if ok, _ := l.Allow(-1, t0.Add(10*time.Second)); ok {
		t.Fatal("the throttled key was reset")
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New[int](1e9, 1e9, 1<<20)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(i&1023, now)
			i++
		}
	})
}
