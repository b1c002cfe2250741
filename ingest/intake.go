package ingest

import (
	"context"
	"sync"
)

// intake is the queue of a group writer: requests (R) wait in it while a
// write is in flight, and the next write takes all that are queued, and
// their parts (T: events, stock updates) as one batch.
type intake[R, T any] struct {
	in     chan R
	parts  func(R) []T
	mu     sync.RWMutex // guards closed against put racing close
	closed bool
}

func newIntake[R, T any](parts func(R) []T) *intake[R, T] {
	return &intake[R, T]{in: make(chan R, 1024), parts: parts}
}

// put queues r, unless the intake is closed or ctx ends first.
func (q *intake[R, T]) put(ctx context.Context, r R) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.in <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next waits for a request and takes whatever else is queued behind it
// while the batch has fewer than max parts, reusing group and batch. It
// returns false once the intake is closed and empty.
func (q *intake[R, T]) next(group []R, batch []T, max int) ([]R, []T, bool) {
	r, ok := <-q.in
	if !ok {
		return group, batch, false
	}
	group = append(group[:0], r)
	batch = append(batch[:0], q.parts(r)...)
	for len(batch) < max {
		select {
		case r, ok := <-q.in:
			if !ok {
				return group, batch, true
			}
			group = append(group, r)
			batch = append(batch, q.parts(r)...)
		default:
			return group, batch, true
		}
	}
	return group, batch, true
}

// serve runs a writer until the intake is closed and empty: it writes
// each group of queued requests, with their parts, at most max parts at a
// time (a larger request is written alone).
func (q *intake[R, T]) serve(max int, write func(group []R, batch []T)) {
	var group []R
	var batch []T
	for {
		var ok bool
		if group, batch, ok = q.next(group, batch, max); !ok {
			return
		}
		write(group, batch)
	}
}

// close refuses new requests; the queued ones are still taken.
func (q *intake[R, T]) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.in)
	}
}
