package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// detachedQueryTimeout bounds a read that its caller stopped waiting for.
const detachedQueryTimeout = 5 * time.Second

// read runs query on a pooled connection and returns when it is done or
// when ctx is, whichever comes first; query must leave its results only
// where the caller looks after a nil error: after an error the caller must
// not read (or return) what query writes, which may still be running.
//
// The query itself is not interrupted when ctx ends. pgx interrupts a
// query by closing its connection, and the serving path gives each source
// a budget of a few tens of milliseconds: under load every late lookup
// cost a connection, and the next query waited for a new backend to start
// cold (its catalogue caches empty, pgvector's types looked up again),
// which made more lookups late. Letting a point lookup finish in the
// background is far cheaper. Waiting for a connection does follow ctx.
func (s *Store) read(ctx context.Context, query func(ctx context.Context, conn *pgxpool.Conn) error) error {
	return readOn(ctx, s.pool, query)
}

// search is read on the search pool (see Config.SearchConns).
func (s *Store) search(ctx context.Context, query func(ctx context.Context, conn *pgxpool.Conn) error) error {
	return readOn(ctx, s.searches, query)
}

func readOn(ctx context.Context, pool *pgxpool.Pool, query func(ctx context.Context, conn *pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	if ctx.Done() == nil { // nothing to return early for
		defer conn.Release()
		return query(ctx, conn)
	}
	done := make(chan error, 1)
	go func() {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedQueryTimeout)
		err := query(qctx, conn)
		cancel()
		conn.Release()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
