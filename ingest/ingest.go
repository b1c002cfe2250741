// Package ingest stores events and stock levels with group writes:
// requests that arrive while the writers are busy are written together in
// the next write, so a burst of small posts costs a few transactions, not
// one each, and every request is still answered only once what it sent is
// stored.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// Appender is the store's event write.
type Appender interface {
	AppendEvents(ctx context.Context, events []catalog.Event) (int, error)
}

// ErrClosed is returned for events submitted after Close.
var ErrClosed = errors.New("ingest: shutting down")

type request struct {
	events []catalog.Event
	done   chan error
}

// Writers is how many group writes a Batcher has in flight at most: the
// size of the store's write pool (postgres.Config.WriteConns). With one,
// every event waited behind the write in flight, and a write slowed by a
// busy machine held up all events for its whole length.
const Writers = 4

// Batcher writes submitted events in group commits.
type Batcher struct {
	store    Appender
	maxBatch int
	queue    *intake[*request, catalog.Event]
	writers  sync.WaitGroup

	batches, events, failures *metrics.Counter
	batchSize                 *metrics.Histogram
	writeTime                 *metrics.Histogram
}

// New starts a batcher that writes at most maxBatch events per
// transaction (a request larger than that is written alone), with up to
// Writers writes at a time.
func New(store Appender, maxBatch int, set *metrics.Set) *Batcher {
	b := &Batcher{
		store: store, maxBatch: maxBatch,
		queue:     newIntake(func(r *request) []catalog.Event { return r.events }),
		batches:   set.GetOrCreateCounter(`recs_ingest_batches_total`),
		events:    set.GetOrCreateCounter(`recs_ingest_events_total`),
		failures:  set.GetOrCreateCounter(`recs_ingest_failures_total`),
		batchSize: set.GetOrCreateHistogram(`recs_ingest_batch_events`),
		writeTime: set.GetOrCreateHistogram(`recs_ingest_write_duration_seconds`),
	}
	for range Writers {
		b.writers.Go(b.loop)
	}
	return b
}

// Submit stores events and returns once they are durable (new or already
// stored), or with the error that kept them from being stored: then none
// of the request's events may be assumed stored, and the client retries.
func (b *Batcher) Submit(ctx context.Context, events []catalog.Event) error {
	r := &request{events: events, done: make(chan error, 1)}
	if err := b.queue.put(ctx, r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The write may still land; a retry is harmless (event ids).
		return ctx.Err()
	}
}

// loop is one writer: it takes the next request and whatever else is
// queued behind it, and writes them together.
func (b *Batcher) loop() { b.queue.serve(b.maxBatch, b.write) }

// write stores one group of events and answers its requests.
func (b *Batcher) write(waiting []*request, batch []catalog.Event) {
	// A write is not tied to one request's deadline: it serves them all.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	_, err := b.store.AppendEvents(ctx, batch)
	cancel()
	b.writeTime.UpdateDuration(start)
	b.batches.Inc()
	b.batchSize.Update(float64(len(batch)))
	if err != nil {
		b.failures.Inc()
		err = fmt.Errorf("store events: %w", err)
	} else {
		b.events.Add(len(batch))
	}
	for _, w := range waiting {
		w.done <- err
	}
}

// Close stops accepting events and returns once every submitted event has
// been written (or has failed).
func (b *Batcher) Close() {
	b.queue.close()
	b.writers.Wait()
}

// writeTimeout bounds one group write.
const writeTimeout = 10 * time.Second
