package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// StockStore is the store's stock write: it returns the ids of the batch
// that are not in the catalogue.
type StockStore interface {
	UpdateStock(ctx context.Context, updates []catalog.StockUpdate) (unknown []string, err error)
}

// StockCache is the item cache the stock writer keeps in step with the
// store.
type StockCache interface {
	// StockChanged applies levels the store has stored, in order.
	StockChanged(updates []catalog.StockUpdate)
	// ItemsChanged drops items, so the next read loads what is stored.
	ItemsChanged(ids ...string)
}

// StockWrite is what one group write did for one actor (an API key), for
// the audit log: requests and updates written, and how many of those
// named an item not in the catalogue.
type StockWrite struct {
	Actor                      string
	Requests, Updates, Unknown int
}

// StockWriter applies stock updates with group writes: posts that arrive
// while a write is in flight go together into the next one, in arrival
// order. One writer, so the cache applies levels in the order the store
// stored them (two posts with the same item can never leave the older
// level cached). A write per post, each behind a lock, could not keep up
// with a feed of 100 posts a second when the database slowed for a moment
// (at a start, under a warm-up): posts queued on the lock until every one
// timed out, and each failure dropped its items from the cache, which
// sent reads to the database too.
type StockWriter struct {
	store      StockStore
	cache      StockCache
	audit      func(ctx context.Context, w StockWrite)
	maxUpdates int
	queue      *intake[*stockRequest, catalog.StockUpdate]
	done       chan struct{}

	writes, updates, failures *metrics.Counter
	writeSize                 *metrics.Histogram
	writeTime                 *metrics.Histogram
}

type stockRequest struct {
	actor   string
	updates []catalog.StockUpdate
	done    chan stockResult
}

type stockResult struct {
	unknown int
	err     error
}

// NewStockWriter starts a writer that stores at most maxUpdates updates
// per write (a larger post is written alone). audit, if not nil, is called
// after each successful write once per actor in it.
func NewStockWriter(store StockStore, cache StockCache, maxUpdates int, audit func(context.Context, StockWrite), set *metrics.Set) *StockWriter {
	w := &StockWriter{
		store: store, cache: cache, audit: audit, maxUpdates: maxUpdates,
		queue:     newIntake(func(r *stockRequest) []catalog.StockUpdate { return r.updates }),
		done:      make(chan struct{}),
		writes:    set.GetOrCreateCounter(`recs_stock_writes_total`),
		updates:   set.GetOrCreateCounter(`recs_stock_updates_total`),
		failures:  set.GetOrCreateCounter(`recs_stock_write_failures_total`),
		writeSize: set.GetOrCreateHistogram(`recs_stock_write_updates`),
		writeTime: set.GetOrCreateHistogram(`recs_stock_write_duration_seconds`),
	}
	go w.loop()
	return w
}

// Submit stores stock levels and applies them to the cache, and returns
// how many of the updates named an item not in the catalogue (ignored).
// On an error the levels may or may not be stored; the cache then drops
// the items, so reads load what is stored.
func (w *StockWriter) Submit(ctx context.Context, actor string, updates []catalog.StockUpdate) (unknown int, err error) {
	r := &stockRequest{actor: actor, updates: updates, done: make(chan stockResult, 1)}
	if err := w.queue.put(ctx, r); err != nil {
		return 0, err
	}
	select {
	case res := <-r.done:
		return res.unknown, res.err
	case <-ctx.Done():
		// The write may still land; setting a level again is harmless.
		return 0, ctx.Err()
	}
}

func (w *StockWriter) loop() {
	defer close(w.done)
	w.queue.serve(w.maxUpdates, w.write)
}

// write stores one group and answers its requests.
func (w *StockWriter) write(waiting []*stockRequest, batch []catalog.StockUpdate) {
	// A write is not tied to one request's deadline: it serves them all.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	start := time.Now()
	unknownIDs, err := w.store.UpdateStock(ctx, batch)
	w.writeTime.UpdateDuration(start)
	w.writes.Inc()
	w.writeSize.Update(float64(len(batch)))
	if err != nil {
		w.failures.Inc()
		ids := make([]string, len(batch))
		for i := range batch {
			ids[i] = batch[i].ItemID
		}
		w.cache.ItemsChanged(ids...)
		err = fmt.Errorf("store stock levels: %w", err)
		for _, r := range waiting {
			r.done <- stockResult{err: err}
		}
		return
	}
	w.cache.StockChanged(batch)
	w.updates.Add(len(batch))
	unknown := make(map[string]bool, len(unknownIDs))
	for _, id := range unknownIDs {
		unknown[id] = true
	}
	counts := make([]int, len(waiting))
	var byActor []StockWrite
	for i, r := range waiting {
		if len(unknown) > 0 {
			for j := range r.updates {
				if unknown[r.updates[j].ItemID] {
					counts[i]++
				}
			}
		}
		byActor = addWrite(byActor, StockWrite{Actor: r.actor, Requests: 1, Updates: len(r.updates), Unknown: counts[i]})
	}
	// Audited before acknowledged: an acknowledged post is in the log.
	if w.audit != nil {
		for _, a := range byActor {
			w.audit(ctx, a)
		}
	}
	for i, r := range waiting {
		r.done <- stockResult{unknown: counts[i]}
	}
}

// addWrite adds one request's counts to its actor's (a group has one or
// a few actors).
func addWrite(ws []StockWrite, r StockWrite) []StockWrite {
	for i := range ws {
		if ws[i].Actor == r.Actor {
			ws[i].Requests += r.Requests
			ws[i].Updates += r.Updates
			ws[i].Unknown += r.Unknown
			return ws
		}
	}
	return append(ws, r)
}

// Close stops accepting posts and returns once every submitted one has
// been written (or has failed).
func (w *StockWriter) Close() {
	w.queue.close()
	<-w.done
}
