package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"

	"github.com/recs-server/recs/catalog"
)

// The bulk reads of the server's cache warm-up (see recommend.WarmStore):
// one query per call, however many ids, so a freshly started server loads
// what its first minute will read in a few round trips instead of one per
// request.

// CountItems returns how many items the catalogue holds.
func (s *Store) CountItems(ctx context.Context) (int, error) {
	var n int
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n)
	})
	if err != nil {
		// Not n: after a timeout the detached query may still write it.
		return 0, fmt.Errorf("count items: %w", err)
	}
	return n, nil
}

// NeighborLists returns up to k neighbours of each of ids that has any in
// one table, in the order of ids; ids without neighbours are left out.
func (s *Store) NeighborLists(ctx context.Context, kind catalog.NeighborKind, ids []string, k int) ([]catalog.NeighborList, error) {
	type row struct {
		ItemID string
		IDs    []string
		Scores []float64
	}
	rows, err := queryRows[row](ctx, s, `SELECT item_id, neighbor_ids, scores FROM item_neighbors
		WHERE kind = $1 AND item_id = ANY($2)`, string(kind), ids)
	if err != nil {
		return nil, fmt.Errorf("read neighbour lists: %w", err)
	}
	byID := make(map[string]catalog.NeighborList, len(rows))
	for _, r := range rows {
		if l := joinScored(r.IDs, r.Scores, k); len(l) > 0 {
			byID[r.ItemID] = catalog.NeighborList{ItemID: r.ItemID, Neighbors: l}
		}
	}
	return inOrder(ids, byID), nil
}

// queryRows runs one query and collects its rows into Ts by position.
func queryRows[T any](ctx context.Context, s *Store, sql string, args ...any) ([]T, error) {
	var out []T
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[T])
		return err
	})
	if err != nil {
		// Not out: after a timeout the detached query may still write it.
		return nil, err
	}
	return out, nil
}

// inOrder returns the values of byID in the order of ids.
func inOrder[V any](ids []string, byID map[string]V) []V {
	out := make([]V, 0, len(byID))
	for _, id := range ids {
		if v, ok := byID[id]; ok {
			out = append(out, v)
			delete(byID, id) // an id asked twice comes back once
		}
	}
	return out
}

// PopularLists returns up to k items of every popularity scope, in scope
// order.
func (s *Store) PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error) {
	type row struct {
		Scope  string
		IDs    []string
		Scores []float64
	}
	rows, err := queryRows[row](ctx, s, `SELECT scope, item_ids, scores FROM popularity ORDER BY scope`)
	if err != nil {
		return nil, fmt.Errorf("read popularity lists: %w", err)
	}
	out := make([]catalog.PopularityList, len(rows))
	for i, r := range rows {
		out[i] = catalog.PopularityList{Scope: r.Scope, Items: joinScored(r.IDs, r.Scores, k)}
	}
	return out, nil
}

// ItemVectors returns the served vectors of those of ids that have one, in
// the order of ids.
func (s *Store) ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error) {
	type row struct {
		ItemID string
		Vector pgvector.Vector
	}
	rows, err := queryRows[row](ctx, s, `SELECT item_id, embedding FROM item_vectors WHERE item_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read item vectors: %w", err)
	}
	byID := make(map[string]catalog.ItemVector, len(rows))
	for _, r := range rows {
		byID[r.ItemID] = catalog.ItemVector{ItemID: r.ItemID, Vector: r.Vector.Slice()}
	}
	return inOrder(ids, byID), nil
}

// NearestToItems returns, for each of ids that has a vector, in the order
// of ids, what NearestItems returns for that vector: the k nearest items,
// the item itself included. It is NearestItems' query once per item, in
// one statement (a lateral join): the planner picks the HNSW index or an
// exact scan for both alike, with the same index settings.
func (s *Store) NearestToItems(ctx context.Context, ids []string, k int) ([]catalog.NeighborList, error) {
	if k <= 0 || len(ids) == 0 {
		return nil, nil
	}
	type row struct {
		ItemID, Neighbor string
		Score            float64
	}
	var rows []row
	err := s.search(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		b := &pgx.Batch{}
		queueIndexSettings(b, s.efSearch, k)
		b.Queue(`SELECT q.item_id, n.item_id, 1 - n.distance `+nearestPerItem("item_vectors")+`
			ORDER BY q.item_id, n.distance, n.item_id`, ids, k).
			Query(func(r pgx.Rows) error {
				var err error
				rows, err = pgx.CollectRows(r, pgx.RowToStructByPos[row])
				return err
			})
		return conn.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("nearest to items: %w", err)
	}
	byID := make(map[string]catalog.NeighborList)
	for _, r := range rows {
		l := byID[r.ItemID]
		l.ItemID = r.ItemID
		l.Neighbors = append(l.Neighbors, catalog.Scored{ItemID: r.Neighbor, Score: r.Score})
		byID[r.ItemID] = l
	}
	return inOrder(ids, byID), nil
}

// nearestPerItem is the FROM and WHERE of NearestToItems' lateral join
// over the vectors of table (item_vectors, or a build's staged vectors):
// for each item q of the ids in $1 with a vector, its $2 nearest items n
// (n.item_id, n.distance), the item itself included. The build's content
// lists use it too, so that they equal what the request path would
// search.
func nearestPerItem(table string) string {
	return `FROM ` + table + ` q CROSS JOIN LATERAL (
			SELECT v.item_id, v.embedding <=> q.embedding AS distance FROM ` + table + ` v ORDER BY distance LIMIT $2) n
		WHERE q.item_id = ANY($1)`
}

// contentBatch and contentWorkers pace a build's content neighbours: ids
// per statement, and statements at once (each on a connection of its
// own, as the server's warm-up runs its searches).
const (
	contentBatch   = 200
	contentWorkers = 2
)

// stagedContent holds a build's content neighbours until the build is
// published.
const stagedContent = "item_content_next"

// stageContentNeighbors computes the content neighbours a build asks for
// (Build.ContentNeighborsOf) over its staged vectors, before they are
// served: NearestToItems' query on the staged table and its HNSW index,
// written by PostgreSQL into a table of their own (100,000 lists of 100
// read into Go took a gigabyte of the build's memory).
func (s *Store) stageContentNeighbors(ctx context.Context, ids []string, k int) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for _, q := range []string{`DROP TABLE IF EXISTS ` + stagedContent,
		`CREATE TABLE ` + stagedContent + ` (item_id text PRIMARY KEY, neighbor_ids text[] NOT NULL, scores double precision[] NOT NULL)`} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("stage content neighbours: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range contentWorkers {
		wg.Go(func() {
			err := func() error {
				conn, err := s.pool.Acquire(ctx)
				if err != nil {
					return err
				}
				defer conn.Release()
				for {
					lo := int(next.Add(contentBatch)) - contentBatch
					if lo >= len(ids) {
						return nil
					}
					b := &pgx.Batch{}
					queueIndexSettings(b, s.efSearch, k)
					b.Queue(`INSERT INTO `+stagedContent+` (item_id, neighbor_ids, scores)
						SELECT q.item_id, array_agg(n.item_id ORDER BY n.distance, n.item_id), array_agg(1 - n.distance ORDER BY n.distance, n.item_id)
						`+nearestPerItem(stagedVectors)+`
						GROUP BY q.item_id`, ids[lo:min(lo+contentBatch, len(ids))], k)
					if err := conn.SendBatch(ctx, b).Close(); err != nil {
						return err
					}
				}
			}()
			if err != nil {
				cancel() // the other workers stop at their next statement
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("content neighbours: %w", err)
	}
	return nil
}

// WarmConns opens the read and search pools' connections up to their
// maxima and runs on each the reads the request path makes of the store
// itself, uncached: on a read connection a signed-in visitor's history,
// on a search connection the given number of nearest-vector searches (at
// least one). The pools otherwise open connections as bursts need them,
// and at a restart under load the first requests waited for them: a new
// backend is forked, registers pgvector's types, and plans its first
// queries with empty catalogue caches (several milliseconds each). Idle
// connections are kept (pgxpool closes those above MinIdleConns after 30
// idle minutes). It holds every connection of a pool until all are done,
// and returns how many the two pools hold.
//
// More than one search is for a cost of each backend process: its first
// touch of a page of PostgreSQL's shared buffers maps the page into the
// process, and an HNSW search touches some 300 pages it has not touched
// before. On the 2-core VM of the README's figures such a first search
// took 15-35 ms against 1.3 ms repeated (about 60 us a page fault;
// PostgreSQL without huge pages); at 1,000,000 items a search on one
// connection took 14 ms the first time and about 3 ms after 100 others.
// The searches start from the vectors of sampled items (see warmProbes).
func (s *Store) WarmConns(ctx context.Context, searches int) (int, error) {
	probes, err := s.warmProbes(ctx, max(searches, 1))
	if err != nil {
		return 0, err
	}
	err = warmPool(ctx, s.pool, func(c *pgxpool.Conn) error {
		_, err := userEventsOn(ctx, c, "recs-warm-up", maxRecentEvents)
		return err
	})
	if err == nil {
		err = warmPool(ctx, s.searches, func(c *pgxpool.Conn) error {
			for _, q := range probes {
				if _, err := s.nearestOn(ctx, c, q, warmNearestK); err != nil {
					return err
				}
			}
			return nil
		})
	}
	n := int(s.pool.Stat().TotalConns() + s.searches.Stat().TotalConns())
	if err != nil {
		return n, fmt.Errorf("warm connections: %w", err)
	}
	return n, nil
}

// warmPool runs prepare on every connection of pool at once, each held
// until all are done so that each is a connection of its own.
func warmPool(ctx context.Context, pool *pgxpool.Pool, prepare func(*pgxpool.Conn) error) error {
	n := int(pool.Config().MaxConns)
	conns := make(chan *pgxpool.Conn, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c, err := pool.Acquire(ctx)
			if err == nil {
				err = prepare(c)
			}
			conns <- c
			errs <- err
		}()
	}
	var firstErr error
	for range n {
		if c := <-conns; c != nil {
			defer c.Release()
		}
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// warmProbes returns up to n unit vectors to search with on each
// connection: those of a sample of the served items, spread over the
// table's pages (an index search from each lands in a different part of
// the graph), or one fixed vector when there are none.
func (s *Store) warmProbes(ctx context.Context, n int) ([]pgvector.Vector, error) {
	// TABLESAMPLE reads about 40 pages a probe of n (a whole small table),
	// not the table: a random sample of 1M rows would read 550 MB.
	rows, err := queryRows[struct{ Vector pgvector.Vector }](ctx, s, `SELECT embedding FROM item_vectors
		TABLESAMPLE SYSTEM (least(100, 4000.0 * $1 / greatest((SELECT reltuples FROM pg_class WHERE oid = 'item_vectors'::regclass), 1)))
		ORDER BY random() LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("sample vectors: %w", err)
	}
	var probes []pgvector.Vector
	for _, r := range rows {
		if q, err := unitVector(r.Vector.Slice()); err == nil {
			probes = append(probes, q)
		}
	}
	if len(probes) == 0 {
		v := make([]float32, catalog.EmbeddingDims)
		v[0] = 1
		q, err := unitVector(v)
		if err != nil {
			return nil, err
		}
		probes = append(probes, q)
	}
	return probes, nil
}

// The sizes WarmConns asks for, as the server does (the statement's
// plan does not depend on them).
const (
	maxRecentEvents = 20
	warmNearestK    = 100
)
