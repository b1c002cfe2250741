// Package postgres is the PostgreSQL + pgvector store: the production
// store for catalogue, events, users and everything a build derives. It
// satisfies the contract in package storetest.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
)

// Config says where the database is and how to use it.
type Config struct {
	// URL is a libpq connection string or postgres:// URL.
	URL string
	// Schema holds recs' tables (default "recs"), so recs can share a
	// database with the shop's own tables.
	Schema string
	// MaxConns and MinIdleConns size the pool; idle connections keep the
	// first queries after a quiet spell off the connect path (tail latency).
	MaxConns     int32
	MinIdleConns int32
	// WriteConns sizes a second pool for writes (events, stock, items,
	// users, vectors); default 4. Apart from the reads' pool, a burst of
	// writes never leaves the reads without a connection, and the event
	// writer never queues behind reads.
	WriteConns int32
	// SearchConns is the size of a third pool, for nearest-vector
	// searches only; default 2. A backend's first touch of a page of the
	// shared buffers maps it into its process (about 60 us a page on the
	// README's VM, PostgreSQL without huge pages), and an HNSW search
	// touches hundreds of pages: spread over the read pool's 32 backends,
	// searches kept landing on one that had not mapped them. At 1,000,000
	// items a search on one connection took 14 ms the first time and about
	// 3 ms after 100 others, against a mean of 21.8 ms over the read pool
	// during a cold start. The request path bounds its searches in flight
	// to the same number (recommend.Config.VectorSearches).
	SearchConns int32
	// EFSearch is pgvector's hnsw.ef_search for nearest-item queries: the
	// candidate list size, traded for recall. It is raised to k when a
	// query asks for more.
	EFSearch int
}

func (c Config) schema() string {
	if c.Schema == "" {
		return "recs"
	}
	return c.Schema
}

func (c Config) connConfig() (*pgx.ConnConfig, error) {
	pc, err := pgx.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	pc.RuntimeParams["search_path"] = c.schema() + ",public"
	pc.RuntimeParams["application_name"] = "recs"
	return pc, nil
}

// Store holds the connections to one database schema: a pool for reads
// and builds, a smaller one for writes, and one for nearest-vector
// searches.
type Store struct {
	pool     *pgxpool.Pool
	writes   *pgxpool.Pool
	searches *pgxpool.Pool
	efSearch int
}

// Open connects to the database and checks it answers. The schema must
// already be migrated (see Migrate): the pool registers pgvector's types on
// every new connection.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cc, err := cfg.connConfig()
	if err != nil {
		return nil, err
	}
	pool, err := openPool(ctx, cc, cfg.MaxConns, cfg.MinIdleConns)
	if err != nil {
		return nil, err
	}
	writeConns := cfg.WriteConns
	if writeConns <= 0 {
		writeConns = 4
	}
	// The writes are a few statements run again and again with arrays of
	// rows as parameters. With plan_cache_mode auto, PostgreSQL re-planned
	// the event insert at every run (a custom plan for the arrays' actual
	// lengths looked cheaper than the generic one): in a profile of the
	// backends under mixed load, planning was 38 % of their CPU. The
	// generic plan is the same plan (index probes per row).
	wc := cc.Copy()
	wc.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	writes, err := openPool(ctx, wc, writeConns, min(writeConns, cfg.MinIdleConns))
	if err != nil {
		pool.Close()
		return nil, err
	}
	searchConns := cfg.SearchConns
	if searchConns <= 0 {
		searchConns = 2
	}
	searches, err := openPool(ctx, cc, searchConns, searchConns)
	if err != nil {
		pool.Close()
		writes.Close()
		return nil, err
	}
	ef := cfg.EFSearch
	if ef <= 0 {
		ef = 100
	}
	return &Store{pool: pool, writes: writes, searches: searches, efSearch: ef}, nil
}

// openPool opens a pool of at most maxConns connections (0: pgxpool's
// default) and checks that the database answers.
func openPool(ctx context.Context, cc *pgx.ConnConfig, maxConns, minIdle int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pc.ConnConfig = cc.Copy()
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	if minIdle > 0 {
		pc.MinIdleConns = min(minIdle, pc.MaxConns)
	}
	// pgxpool pings a connection idle for over a second before handing it
	// out, within the acquiring caller's deadline, and closes it when the
	// ping is late: under load, with budgets of tens of milliseconds, that
	// closed connections by the dozen and added a round trip to many
	// reads. A connection idle for a minute is still checked, and the
	// pool's health check runs every minute.
	pc.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > time.Minute }
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if err := pgxvec.RegisterTypes(ctx, conn); err != nil {
			return fmt.Errorf("register pgvector types (is the schema migrated? run `recs migrate`): %w", err)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Close closes both pools, waiting for connections in use.
func (s *Store) Close() {
	s.pool.Close()
	s.writes.Close()
	s.searches.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Stat reports the read pool's statistics for metrics.
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }

// WriteStat reports the write pool's statistics for metrics.
func (s *Store) WriteStat() *pgxpool.Stat { return s.writes.Stat() }

// SearchStat reports the search pool's statistics for metrics.
func (s *Store) SearchStat() *pgxpool.Stat { return s.searches.Stat() }

const itemColumns = `id, title, description, category, brand, price, cost, currency, stock,
	attributes, incompatible_with, consumable, url, image_url, active, synthetic, created_at, updated_at`

var itemColumnNames = []string{"id", "title", "description", "category", "brand", "price", "cost", "currency", "stock",
	"attributes", "incompatible_with", "consumable", "url", "image_url", "active", "synthetic", "created_at", "updated_at"}

func itemRow(it *catalog.Item) []any {
	var attrs any
	if it.Attributes != nil {
		attrs = it.Attributes
	}
	return []any{it.ID, it.Title, it.Description, it.Category, it.Brand, it.Price, it.Cost, it.Currency, it.Stock,
		attrs, it.IncompatibleWith, it.Consumable, it.URL, it.ImageURL, it.Active, it.Synthetic, it.CreatedAt, it.UpdatedAt}
}

func scanItem(row pgx.Row) (catalog.Item, error) {
	var it catalog.Item
	err := row.Scan(&it.ID, &it.Title, &it.Description, &it.Category, &it.Brand, &it.Price, &it.Cost, &it.Currency, &it.Stock,
		&it.Attributes, &it.IncompatibleWith, &it.Consumable, &it.URL, &it.ImageURL, &it.Active, &it.Synthetic, &it.CreatedAt, &it.UpdatedAt)
	it.CreatedAt = it.CreatedAt.UTC()
	it.UpdatedAt = it.UpdatedAt.UTC()
	return it, err
}

// UpsertItems inserts or replaces items by id in one transaction (bulk
// copy into a staging table, then one upsert); CreatedAt of an existing item
// is kept. Within one call the last item with an id wins.
func (s *Store) UpsertItems(ctx context.Context, items []catalog.Item) error {
	if len(items) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	last := make(map[string]int, len(items))
	for i := range items {
		last[items[i].ID] = i
	}
	rows := make([][]any, 0, len(last))
	for i := range items {
		if last[items[i].ID] != i {
			continue
		}
		it := items[i]
		if it.CreatedAt.IsZero() {
			it.CreatedAt = now
		}
		if it.UpdatedAt.IsZero() {
			it.UpdatedAt = now
		}
		rows = append(rows, itemRow(&it))
	}
	return pgx.BeginFunc(ctx, s.writes, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE items_stage (LIKE items INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"items_stage"}, itemColumnNames, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy items: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO items (`+itemColumns+`) SELECT `+itemColumns+` FROM items_stage
			ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
			category = EXCLUDED.category, brand = EXCLUDED.brand, price = EXCLUDED.price, cost = EXCLUDED.cost,
			currency = EXCLUDED.currency, stock = EXCLUDED.stock, attributes = EXCLUDED.attributes,
			incompatible_with = EXCLUDED.incompatible_with, consumable = EXCLUDED.consumable, url = EXCLUDED.url,
			image_url = EXCLUDED.image_url, active = EXCLUDED.active, synthetic = EXCLUDED.synthetic,
			updated_at = EXCLUDED.updated_at`)
		if err != nil {
			return fmt.Errorf("upsert items: %w", err)
		}
		return nil
	})
}

// Items returns the items that exist among ids, in the order asked.
func (s *Store) Items(ctx context.Context, ids []string) ([]catalog.Item, error) {
	var found []catalog.Item
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		rows, err := conn.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		found, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Item, error) { return scanItem(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read items: %w", err)
	}
	byID := make(map[string]int, len(found))
	for i := range found {
		byID[found[i].ID] = i
	}
	out := make([]catalog.Item, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
		}
	}
	return out, nil
}

// ScanItems calls fn for every item in id order, streaming the rows.
func (s *Store) ScanItems(ctx context.Context, fn func(*catalog.Item) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+itemColumns+` FROM items ORDER BY id`)
	if err != nil {
		return fmt.Errorf("query items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return fmt.Errorf("read item: %w", err)
		}
		if err := fn(&it); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UpdateStock sets stock levels in one statement and returns the ids of
// the batch that are not in the catalogue (each once), which are ignored.
func (s *Store) UpdateStock(ctx context.Context, updates []catalog.StockUpdate) ([]string, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	// The last update of an id in a batch wins, as if applied in order.
	idx := make(map[string]int, len(updates))
	ids := make([]string, 0, len(updates))
	stocks := make([]int32, 0, len(updates))
	for _, u := range updates {
		if i, ok := idx[u.ItemID]; ok {
			stocks[i] = int32(u.Stock)
			continue
		}
		idx[u.ItemID] = len(ids)
		ids = append(ids, u.ItemID)
		stocks = append(stocks, int32(u.Stock))
	}
	// Only the unknown ids come back: usually none.
	rows, err := s.writes.Query(ctx, `WITH updated AS (
		UPDATE items SET stock = u.stock, updated_at = now()
		FROM unnest($1::text[], $2::int[]) AS u(id, stock) WHERE items.id = u.id RETURNING items.id)
		SELECT u.id FROM unnest($1::text[]) AS u(id) WHERE u.id NOT IN (SELECT id FROM updated)`, ids, stocks)
	if err != nil {
		return nil, fmt.Errorf("update stock: %w", err)
	}
	unknown, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("update stock: %w", err)
	}
	return unknown, nil
}

// insertEvents stores event lines passed as one array per column, in one
// statement (so one round trip and an implicit transaction). A staging
// table per write cost five round trips, and creating and dropping a table
// writes the system catalogues and makes every other backend reload its
// caches: under load that was most of the events' latency. Lines whose
// event id is already stored are skipped, so a resent event is dropped
// whole; line 0 counts the events.
const insertEvents = `WITH ins AS (
	INSERT INTO events (event_id, line, type, ts, session_id, user_id, item_id, quantity, price,
		order_id, query, channel, device, request_id)
	SELECT * FROM unnest($1::text[], $2::int2[], $3::int2[], $4::timestamptz[], $5::text[], $6::text[],
		$7::text[], $8::int4[], $9::float8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
		AS s(event_id, line, type, ts, session_id, user_id, item_id, quantity, price, order_id, query, channel, device, request_id)
	WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id)
	AND ` + erasedFilter + `
	ON CONFLICT DO NOTHING RETURNING line)
SELECT count(*) FROM ins WHERE line = 0`

// eventColumns holds event lines column by column, the parameters of
// insertEvents.
type eventColumns struct {
	ids, sessions, users, items, orders, queries, channels, devices, requests []string
	lines, types                                                              []int16
	times                                                                     []time.Time
	quantities                                                                []int32
	prices                                                                    []float64
}

func (c *eventColumns) add(e *catalog.Event, line int, ts time.Time, itemID string, qty int, price float64) {
	c.ids = append(c.ids, e.ID)
	c.lines = append(c.lines, int16(line))
	c.types = append(c.types, int16(e.Type))
	c.times = append(c.times, ts)
	c.sessions = append(c.sessions, e.SessionID)
	c.users = append(c.users, e.UserID)
	c.items = append(c.items, itemID)
	c.quantities = append(c.quantities, int32(qty))
	c.prices = append(c.prices, price)
	c.orders = append(c.orders, e.OrderID)
	c.queries = append(c.queries, e.Query)
	c.channels = append(c.channels, e.Channel)
	c.devices = append(c.devices, e.Device)
	c.requests = append(c.requests, e.RequestID)
}

// AppendEvents stores the events whose id is new, atomically, and returns
// how many. A resent event (same id) is dropped whole, even if its content
// changed: the first version stands. So is an event of an erased visitor
// stamped at or before the erasure (see EraseUser).
func (s *Store) AppendEvents(ctx context.Context, events []catalog.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	seen := make(map[string]struct{}, len(events))
	var cols eventColumns
	for i := range events {
		e := &events[i]
		if _, dup := seen[e.ID]; dup {
			continue
		}
		seen[e.ID] = struct{}{}
		ts := e.Time.UTC().Truncate(time.Microsecond)
		if len(e.Items) == 0 {
			cols.add(e, 0, ts, "", 0, 0)
		}
		for l, li := range e.Items {
			cols.add(e, l, ts, li.ItemID, li.Quantity, li.Price)
		}
	}
	// One round trip: the batch runs as one implicit transaction, which
	// holds the lock until it commits. As BEGIN, lock, insert and COMMIT
	// it took four, and on a busy machine each wait for the other process
	// added to every event post's latency.
	//
	// Appends share this lock; an erasure takes it exclusively, so it sees
	// every append that committed before it, and every later append sees
	// its tombstone (erasedFilter).
	var inserted int
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, erasureLockID)
	b.Queue(insertEvents, cols.ids, cols.lines, cols.types, cols.times, cols.sessions,
		cols.users, cols.items, cols.quantities, cols.prices, cols.orders, cols.queries, cols.channels, cols.devices, cols.requests).
		QueryRow(func(row pgx.Row) error { return row.Scan(&inserted) })
	if err := s.writes.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	return inserted, nil
}

// ScanEvents calls fn for every event with from <= Time < to, in time order
// (then event id), streaming rows and assembling each event's lines.
func (s *Store) ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error {
	rows, err := s.pool.Query(ctx, `SELECT event_id, line, type, ts, session_id, user_id, item_id, quantity, price,
		order_id, query, channel, device, request_id FROM events WHERE ts >= $1 AND ts < $2 ORDER BY ts, event_id, line`, from, to)
	if err != nil {
		return fmt.Errorf("query events: %w", err)
	}
	return collectEvents(rows, fn)
}

// collectEvents assembles event lines, ordered by event, into events and
// calls fn for each.
func collectEvents(rows pgx.Rows, fn func(*catalog.Event) error) error {
	defer rows.Close()
	var cur catalog.Event
	have := false
	for rows.Next() {
		var (
			r      catalog.Event
			line   int16
			typ    int16
			itemID string
			qty    int32
			price  float64
		)
		if err := rows.Scan(&r.ID, &line, &typ, &r.Time, &r.SessionID, &r.UserID, &itemID, &qty, &price,
			&r.OrderID, &r.Query, &r.Channel, &r.Device, &r.RequestID); err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		if !have || r.ID != cur.ID {
			if have {
				if err := fn(&cur); err != nil {
					return err
				}
			}
			r.Type = catalog.EventType(typ)
			r.Time = r.Time.UTC()
			cur, have = r, true
		}
		if itemID != "" {
			cur.Items = append(cur.Items, catalog.EventItem{ItemID: itemID, Quantity: int(qty), Price: price})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	if have {
		return fn(&cur)
	}
	return nil
}

// UpsertUser inserts or replaces a user.
func (s *Store) UpsertUser(ctx context.Context, u catalog.User) error {
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = time.Now()
	}
	_, err := s.writes.Exec(ctx, `INSERT INTO users (id, anonymous_ids, personalization, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET anonymous_ids = EXCLUDED.anonymous_ids,
		personalization = EXCLUDED.personalization, updated_at = EXCLUDED.updated_at`,
		u.ID, u.AnonymousIDs, u.Personalization, u.UpdatedAt.UTC().Truncate(time.Microsecond))
	if err != nil {
		return fmt.Errorf("upsert user: %w", err)
	}
	return nil
}

// User returns the user with the id or catalog.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (catalog.User, error) {
	u := catalog.User{ID: id}
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT anonymous_ids, personalization, updated_at FROM users WHERE id = $1`, id).
			Scan(&u.AnonymousIDs, &u.Personalization, &u.UpdatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.User{}, fmt.Errorf("user %q: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return catalog.User{}, fmt.Errorf("read user: %w", err)
	}
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u, nil
}

func unitVector(v []float32) (pgvector.Vector, error) {
	if len(v) != catalog.EmbeddingDims {
		return pgvector.Vector{}, fmt.Errorf("vector has %d dimensions, want %d", len(v), catalog.EmbeddingDims)
	}
	c := slices.Clone(v)
	embeddings.Normalize(c)
	return pgvector.NewVector(c), nil
}

func vectorRows(vecs []catalog.ItemVector, now time.Time) ([][]any, error) {
	rows := make([][]any, 0, len(vecs))
	for _, v := range vecs {
		pv, err := unitVector(v.Vector)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", v.ItemID, err)
		}
		rows = append(rows, []any{v.ItemID, pv, now})
	}
	return rows, nil
}

// PutItemVectors sets the served vectors of some items.
func (s *Store) PutItemVectors(ctx context.Context, vecs []catalog.ItemVector) error {
	if len(vecs) == 0 {
		return nil
	}
	ids := make([]string, len(vecs))
	pvs := make([]pgvector.Vector, len(vecs))
	for i, v := range vecs {
		pv, err := unitVector(v.Vector)
		if err != nil {
			return fmt.Errorf("item %q: %w", v.ItemID, err)
		}
		ids[i], pvs[i] = v.ItemID, pv
	}
	// The items' content lists were computed from their old vectors: they
	// go, in the same transaction, and serving searches from the new ones.
	err := pgx.BeginFunc(ctx, s.writes, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO item_vectors (item_id, embedding, updated_at)
		SELECT * FROM unnest($1::text[], $2::vector[]) AS v(id, e), now()
		ON CONFLICT (item_id) DO UPDATE SET embedding = EXCLUDED.embedding, updated_at = EXCLUDED.updated_at`, ids, pvs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM item_neighbors WHERE kind = $1 AND item_id = ANY($2)`, string(catalog.Content), ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("put item vectors: %w", err)
	}
	return nil
}

// NearestItems returns the k items whose vectors are most cosine-similar to
// vec, best first, through the HNSW index (approximate). The index settings
// are local to the query's transaction, so the pooled connection keeps its
// defaults: ef_search = max(EFSearch, k) gives a mean recall@200 against
// exact search of about 0.995 on 20k and 0.96-0.985 on 100k content vectors
// (vector_recall_test.go), and the iterative scan (pgvector >= 0.8) keeps
// searching when rows the graph found are not visible (dead rows of
// vectors replaced by PutItemVectors until vacuum removes them); without it
// a query after a delete-and-copy build returned about k/2 rows.
func (s *Store) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	q, err := unitVector(vec)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	var out []catalog.Scored
	err = s.search(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		out, err = s.nearestOn(ctx, conn, q, k)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nearest items: %w", err)
	}
	return out, nil
}

// nearestOn runs NearestItems' search for the unit vector q on conn.
func (s *Store) nearestOn(ctx context.Context, conn *pgxpool.Conn, q pgvector.Vector, k int) ([]catalog.Scored, error) {
	// One round trip: a batch runs as one implicit transaction, which
	// bounds the local settings. Relaxed order finds more true neighbours
	// than strict; the outer ORDER BY puts them back in order.
	var out []catalog.Scored
	b := &pgx.Batch{}
	queueIndexSettings(b, s.efSearch, k)
	b.Queue(`WITH nearest AS MATERIALIZED (
			SELECT item_id, embedding <=> $1 AS distance FROM item_vectors ORDER BY distance LIMIT $2)
		SELECT item_id, 1 - distance FROM nearest ORDER BY distance, item_id`, q, k).
		Query(func(rows pgx.Rows) error {
			var err error
			out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[catalog.Scored])
			return err
		})
	err := conn.SendBatch(ctx, b).Close()
	return out, err
}

// queueIndexSettings sets the HNSW search settings of a nearest-item query
// of k items for the batch's implicit transaction only.
func queueIndexSettings(b *pgx.Batch, efSearch, k int) {
	b.Queue(`SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
		fmt.Sprint(min(max(efSearch, k), 1000)))
}

// PublishBuild writes a build in one transaction, so readers see the
// previous build or this one, never a mix. Parts the build leaves nil
// (Vectors, Neighbors, Popularity) are kept from the previous build.
//
// Vectors are first loaded into a table of their own and indexed after
// the load, while the previous build is still served; the transaction
// then swaps the tables. Copying into the served table updated its HNSW
// graph one row at a time: 100k vectors had not finished after 7 minutes.
func (s *Store) PublishBuild(ctx context.Context, b *catalog.Build) error {
	if err := catalog.CheckID("build version", b.Version); err != nil {
		return err
	}
	if err := b.CheckContentNeighbors(); err != nil {
		return err
	}
	now := time.Now().UTC()
	var staged []string
	if b.Vectors != nil {
		vrows, err := vectorRows(b.Vectors, now)
		if err != nil {
			return err
		}
		if staged, err = s.stageVectors(ctx, vrows); err != nil {
			return err
		}
	}
	if len(b.ContentNeighborsOf) > 0 {
		if err := s.stageContentNeighbors(ctx, b.ContentNeighborsOf, b.ContentListLen); err != nil {
			return err
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO builds (version, created_at, data_from, data_to) VALUES ($1, $2, $3, $4)`,
			b.Version, b.CreatedAt.UTC(), b.DataFrom.UTC(), b.DataTo.UTC())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("build %q is already published", b.Version)
		}
		if err != nil {
			return fmt.Errorf("record build: %w", err)
		}
		if b.Neighbors != nil {
			var rows [][]any
			add := func(kind catalog.NeighborKind, lists []catalog.NeighborList) {
				for _, l := range lists {
					ids, scores := splitScored(l.Neighbors)
					rows = append(rows, []any{string(kind), l.ItemID, ids, scores})
				}
			}
			for kind, lists := range b.Neighbors {
				if kind != catalog.Content || len(b.ContentNeighborsOf) == 0 {
					add(kind, lists)
				}
			}
			if err := replaceTable(ctx, tx, "item_neighbors", []string{"kind", "item_id", "neighbor_ids", "scores"}, rows); err != nil {
				return err
			}
			if len(b.ContentNeighborsOf) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO item_neighbors (kind, item_id, neighbor_ids, scores)
					SELECT $1, item_id, neighbor_ids, scores FROM `+stagedContent, string(catalog.Content)); err != nil {
					return fmt.Errorf("publish content neighbours: %w", err)
				}
				if _, err := tx.Exec(ctx, `DROP TABLE `+stagedContent); err != nil {
					return fmt.Errorf("publish content neighbours: %w", err)
				}
			}
		}
		if b.Popularity != nil {
			rows := make([][]any, 0, len(b.Popularity))
			for _, l := range b.Popularity {
				ids, scores := splitScored(l.Items)
				rows = append(rows, []any{l.Scope, ids, scores})
			}
			if err := replaceTable(ctx, tx, "popularity", []string{"scope", "item_ids", "scores"}, rows); err != nil {
				return err
			}
		}
		for _, m := range b.Models {
			if _, err := tx.Exec(ctx, `INSERT INTO models (version, kind, blob) VALUES ($1, $2, $3)`, b.Version, m.Kind, m.Blob); err != nil {
				return fmt.Errorf("store model %q: %w", m.Kind, err)
			}
		}
		if b.Vectors != nil {
			// Last: from here to the commit, readers of vectors wait.
			return swapInVectors(ctx, tx, staged)
		}
		return nil
	})
}

// stagedVectors is the table a build's vectors are loaded into before
// they are served; its indexes carry the same suffix until the swap.
const stagedVectors = "item_vectors_next"

// stageVectors loads rows into a new table shaped like item_vectors, then
// gives it item_vectors' indexes (the HNSW index as the migrations define
// it) and statistics. It returns the names of the indexes, to rename when
// the table is swapped in. The new table has the privileges of its
// creator, not those granted on item_vectors.
func (s *Store) stageVectors(ctx context.Context, vrows [][]any) ([]string, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'item_vectors' AND indexname <> 'item_vectors_pkey'`)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of item_vectors: %w", err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Def string }])
	if err != nil {
		return nil, fmt.Errorf("read the indexes of item_vectors: %w", err)
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + stagedVectors,
		`CREATE TABLE ` + stagedVectors + ` (LIKE item_vectors INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("stage vectors: %w", err)
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{stagedVectors}, []string{"item_id", "embedding", "updated_at"}, pgx.CopyFromRows(vrows)); err != nil {
		return nil, fmt.Errorf("copy item vectors: %w", err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// An HNSW graph built in memory is built many times faster than
		// one that spills (1M vectors of 128 dimensions take about 1 GB).
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '1GB'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+stagedVectors+` ADD CONSTRAINT `+stagedVectors+`_pkey PRIMARY KEY (item_id)`); err != nil {
			return err
		}
		for _, d := range defs {
			def, ok := stagedIndexDef(d.Name, d.Def)
			if !ok {
				return fmt.Errorf("index %s: cannot rewrite %q for the staged table", d.Name, d.Def)
			}
			if _, err := tx.Exec(ctx, def); err != nil {
				return fmt.Errorf("index %s: %w", d.Name, err)
			}
		}
		_, err := tx.Exec(ctx, `ANALYZE `+stagedVectors)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("index staged vectors: %w", err)
	}
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	return names, nil
}

// stagedIndexDef turns the definition of an index of item_vectors into
// the same index of the staged table, named with its suffix.
func stagedIndexDef(name, def string) (string, bool) {
	from, to := "INDEX "+name+" ON ", "INDEX "+name+"_next ON "
	table, staged := ".item_vectors USING ", "."+stagedVectors+" USING "
	if strings.Count(def, from) != 1 || strings.Count(def, table) != 1 {
		return "", false
	}
	return strings.Replace(strings.Replace(def, from, to, 1), table, staged, 1), true
}

// swapInVectors replaces item_vectors with the staged table and gives its
// indexes their served names.
func swapInVectors(ctx context.Context, tx pgx.Tx, indexes []string) error {
	qs := []string{
		`DROP TABLE item_vectors`,
		`ALTER TABLE ` + stagedVectors + ` RENAME TO item_vectors`,
		`ALTER TABLE item_vectors RENAME CONSTRAINT ` + stagedVectors + `_pkey TO item_vectors_pkey`,
	}
	for _, name := range indexes {
		qs = append(qs, `ALTER INDEX `+pgx.Identifier{name + "_next"}.Sanitize()+` RENAME TO `+pgx.Identifier{name}.Sanitize())
	}
	for _, q := range qs {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("swap in vectors: %w", err)
		}
	}
	return nil
}

func replaceTable(ctx context.Context, tx pgx.Tx, table string, cols []string, rows [][]any) error {
	if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{table}.Sanitize()); err != nil {
		return fmt.Errorf("clear %s: %w", table, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

func splitScored(l []catalog.Scored) ([]string, []float64) {
	ids := make([]string, len(l))
	scores := make([]float64, len(l))
	for i, s := range l {
		ids[i], scores[i] = s.ItemID, s.Score
	}
	return ids, scores
}

func joinScored(ids []string, scores []float64, k int) []catalog.Scored {
	n := min(len(ids), len(scores), k)
	out := make([]catalog.Scored, n)
	for i := range n {
		out[i] = catalog.Scored{ItemID: ids[i], Score: scores[i]}
	}
	return out
}

// LatestBuild describes the newest published build or returns
// catalog.ErrNotFound.
func (s *Store) LatestBuild(ctx context.Context) (catalog.BuildInfo, error) {
	var bi catalog.BuildInfo
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT version, created_at, data_from, data_to FROM builds ORDER BY seq DESC LIMIT 1`).
			Scan(&bi.Version, &bi.CreatedAt, &bi.DataFrom, &bi.DataTo)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.BuildInfo{}, fmt.Errorf("build: %w", catalog.ErrNotFound)
	}
	if err != nil {
		// Not bi: after a timeout the detached query may still write it.
		return catalog.BuildInfo{}, fmt.Errorf("read latest build: %w", err)
	}
	bi.CreatedAt, bi.DataFrom, bi.DataTo = bi.CreatedAt.UTC(), bi.DataFrom.UTC(), bi.DataTo.UTC()
	return bi, nil
}

// Neighbors returns up to k neighbours of an item from one table, best
// first; none (and no error) when the item has none.
func (s *Store) Neighbors(ctx context.Context, kind catalog.NeighborKind, itemID string, k int) ([]catalog.Scored, error) {
	var ids []string
	var scores []float64
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT neighbor_ids, scores FROM item_neighbors WHERE kind = $1 AND item_id = $2`,
			string(kind), itemID).Scan(&ids, &scores)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return []catalog.Scored{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read neighbours: %w", err)
	}
	return joinScored(ids, scores, k), nil
}

// Popular returns up to k items of a popularity scope, best first.
func (s *Store) Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error) {
	var ids []string
	var scores []float64
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT item_ids, scores FROM popularity WHERE scope = $1`, scope).Scan(&ids, &scores)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return []catalog.Scored{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read popularity: %w", err)
	}
	return joinScored(ids, scores, k), nil
}

// Model returns the newest blob of a model kind and the build that made
// it, or catalog.ErrNotFound.
func (s *Store) Model(ctx context.Context, kind string) ([]byte, catalog.BuildInfo, error) {
	var blob []byte
	var bi catalog.BuildInfo
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT m.blob, b.version, b.created_at, b.data_from, b.data_to
			FROM models m JOIN builds b USING (version) WHERE m.kind = $1 ORDER BY b.seq DESC LIMIT 1`, kind).
			Scan(&blob, &bi.Version, &bi.CreatedAt, &bi.DataFrom, &bi.DataTo)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalog.BuildInfo{}, fmt.Errorf("model %q: %w", kind, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, catalog.BuildInfo{}, fmt.Errorf("read model: %w", err)
	}
	bi.CreatedAt, bi.DataFrom, bi.DataTo = bi.CreatedAt.UTC(), bi.DataFrom.UTC(), bi.DataTo.UTC()
	return blob, bi, nil
}

// LatestEventTime returns the time of the newest stored event, or the zero
// time when there are none (an index-only lookup on events_ts_idx).
func (s *Store) LatestEventTime(ctx context.Context) (time.Time, error) {
	var t *time.Time
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT max(ts) FROM events`).Scan(&t)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("latest event time: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// ItemVector returns an item's served vector, or catalog.ErrNotFound.
func (s *Store) ItemVector(ctx context.Context, itemID string) ([]float32, error) {
	var v pgvector.Vector
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, `SELECT embedding FROM item_vectors WHERE item_id = $1`, itemID).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("vector of %q: %w", itemID, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read item vector: %w", err)
	}
	return v.Slice(), nil
}

// UserEvents returns up to limit of a user's newest events, newest first
// (through events_user_idx; the query repeats its predicate, user_id not empty, so a
// cached generic plan can still use the partial index).
func (s *Store) UserEvents(ctx context.Context, userID string, limit int) ([]catalog.Event, error) {
	var out []catalog.Event
	err := s.read(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		out, err = userEventsOn(ctx, conn, userID, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// userEventsOn runs UserEvents' query on conn.
func userEventsOn(ctx context.Context, conn *pgxpool.Conn, userID string, limit int) ([]catalog.Event, error) {
	rows, err := conn.Query(ctx, `SELECT event_id, line, type, ts, session_id, user_id, item_id, quantity, price,
		order_id, query, channel, device, request_id FROM events
		WHERE user_id = $1 AND user_id <> '' AND event_id IN (
			SELECT event_id FROM events WHERE user_id = $1 AND user_id <> '' AND line = 0 ORDER BY ts DESC, event_id DESC LIMIT $2)
		ORDER BY ts DESC, event_id DESC, line`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("query user events: %w", err)
	}
	var out []catalog.Event
	err = collectEvents(rows, func(e *catalog.Event) error {
		out = append(out, *e)
		return nil
	})
	return out, err
}
