// Package ratelimit is a token-bucket limiter keyed by client (an IP
// address, an API key): each key may make Rate requests a second on
// average and Burst at once. It is bounded in memory: when full, buckets
// that have refilled (as good as new) are dropped first, then random ones.
package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Limiter limits requests per key. The zero Rate allows everything.
type Limiter[K comparable] struct {
	rate, burst float64
	perShard    int
	seed        maphash.Seed
	shards      [shardCount]shard[K]
}

const shardCount = 64

type shard[K comparable] struct {
	mu        sync.Mutex
	m         map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of rate requests a second with bursts of burst
// (at least 1), holding about maxKeys buckets. rate <= 0 disables it.
func New[K comparable](rate float64, burst int, maxKeys int) *Limiter[K] {
	l := &Limiter[K]{rate: rate, burst: math.Max(1, float64(burst)), perShard: max(1, maxKeys/shardCount), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[K]*bucket)
	}
	return l
}

// Enabled reports whether the limiter limits anything.
func (l *Limiter[K]) Enabled() bool { return l != nil && l.rate > 0 }

// Allow takes a token for key at now. When none is left it returns false
// and how long until one will be.
func (l *Limiter[K]) Allow(key K, now time.Time) (bool, time.Duration) {
	if !l.Enabled() {
		return true, 0
	}
	sh := &l.shards[maphash.Comparable(l.seed, key)%shardCount]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		if len(sh.m) >= l.perShard {
			l.evict(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.m[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// evict makes room in a full shard: at most once a second it drops every
// bucket that has refilled; otherwise (or if none had) a random one.
func (l *Limiter[K]) evict(sh *shard[K], now time.Time) {
	if now.Sub(sh.lastSweep) >= time.Second {
		sh.lastSweep = now
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for k, b := range sh.m {
			if now.Sub(b.last) >= full {
				delete(sh.m, k)
			}
		}
	}
	if len(sh.m) >= l.perShard {
		for k := range sh.m { // map order is random
			delete(sh.m, k)
			break
		}
	}
}

// Len is the number of buckets held.
func (l *Limiter[K]) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
