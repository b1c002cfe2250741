package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/pseudonym"
	"github.com/recs-server/recs/ranker"
	"github.com/recs-server/recs/recommend"
)

// store is what serve needs: the API's and the engine's store, plus
// building and closing.
type store interface {
	httpapi.Store
	recommend.Store
	build.Source
	PublishBuild(ctx context.Context, b *catalog.Build) error
	Close()
}

// auditTimeout bounds an audit write made outside a request.
const auditTimeout = 5 * time.Second

func serve(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("serve")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
	db := fs.database("PostgreSQL URL; empty serves from the embedded in-memory store")
	doMigrate := fs.Bool("migrate", false, "apply database migrations before serving")
	maxConns := fs.Int("db-max-conns", 32, "most PostgreSQL connections; each request runs its candidate sources in parallel")
	minConns := fs.Int("db-min-idle-conns", 8, "idle PostgreSQL connections kept open, so bursts do not wait for connects")
	writeConns := fs.Int("db-write-conns", 4, "PostgreSQL connections for writes (events, stock, items), a pool apart from --db-max-conns so writes and reads never wait for each other")
	demoSeed := fs.Int("demo-seed", 1, "seed of the generated demo shop (embedded store only)")
	demoItems := fs.Int("demo-items", 3000, "items in the generated demo shop (embedded store only)")
	demoVisitors := fs.Int("demo-visitors", 6000, "shoppers in the generated demo shop's history (embedded store only)")
	readDeadline := fs.Duration("read-deadline", 50*time.Millisecond, "time budget of one recommendation request")
	maxBody := fs.Int("max-body-bytes", 4<<20, "largest request body accepted")
	maxBatch := fs.Int("max-batch", 1000, "most items or events in one write request")
	shutdownWait := fs.Duration("shutdown-timeout", 15*time.Second, "how long shutdown waits for in-flight requests")
	sourceBudget := fs.Duration("source-budget", 30*time.Millisecond, "time budget of one candidate source; a slower source is skipped")
	vectorSearches := fs.Int("vector-searches", 2, "nearest-vector (pgvector) searches the request path runs at once (a warm-up's batches take slots too), on as many PostgreSQL connections of their own (apart from --db-max-conns); one more waits up to --source-budget for a slot, then its source is skipped until the item's next request")
	itemCache := fs.Int("item-cache", 1_000_000, "items held in the item cache")
	listCache := fs.Int("list-cache", 200_000, "candidate lists of items (neighbours) held in the list cache, and a quarter as many others (popularity, session vectors)")
	maxVisitors := fs.Int("max-visitors", 1_000_000, "visitors whose recent interactions are kept in memory")
	warmItems := fs.Int("warm-items", 10_000, "when a build starts being served, load in bulk the catalogue into the item cache, the content neighbours (a vector search each) of this many most popular items, and the co-view and co-purchase lists and vectors of up to a quarter of --list-cache items; 0: no warm-up")
	warmReadyWait := fs.Duration("warm-ready-wait", 30*time.Second, "how long /readyz answers 503 while the warm-up at start runs; 0: ready at once")
	maxMove := fs.Int("rank-max-move", 10, "most positions /v1/rank may move an item")
	rankDepth := fs.Int("rank-depth", 100, "fused candidates per module the ranker scores (more only when filters leave a module short); fewer cost less CPU per request")
	rankerConfig := fs.String("ranker-config", "", "JSON file of ranking rules: per-placement blends, recent-purchase window, diversity caps, demotions, boosts, pins (see README); empty: the defaults")
	debugListen := fs.String("debug-listen", "", "address for Go's pprof handlers (e.g. 127.0.0.1:6060); empty: off")
	blockRate := fs.Duration("debug-block-rate", 0, "with --debug-listen: sample one blocking event per this much time spent blocked, for /debug/pprof/block (e.g. 10us); 0: off")
	mutexFraction := fs.Int("debug-mutex-fraction", 0, "with --debug-listen: report 1 in this many mutex contention events, for /debug/pprof/mutex (e.g. 10); 0: off")
	cors := fs.String("cors-origins", "", "comma-separated storefront origins allowed to call from browsers (e.g. https://shop.example), or *")
	idKey := fs.idKey()
	access := fs.access()
	if err := fs.parse(args); err != nil {
		return err
	}
	if *vectorSearches < 1 || *vectorSearches > 1000 {
		return usageError{fmt.Sprintf("--vector-searches %d: want 1 to 1000 searches at once", *vectorSearches)}
	}
	if *warmItems < 0 || *warmReadyWait < 0 {
		return usageError{"--warm-items and --warm-ready-wait must not be negative"}
	}
	ids, err := idKey.hasher(log)
	if err != nil {
		return err
	}

	rules, err := loadRankerConfig(*rankerConfig)
	if err != nil {
		return err
	}
	if *rankDepth < ranker.MinDepth || *rankDepth > ranker.MaxDepth {
		return usageError{fmt.Sprintf("--rank-depth %d: want %d to %d candidates per module", *rankDepth, ranker.MinDepth, ranker.MaxDepth)}
	}
	set := metrics.NewSet()
	var st store
	if *db.url == "" {
		ms, err := demoStore(ctx, demo.Options{Seed: int64(*demoSeed), Items: *demoItems, Visitors: *demoVisitors}, ids, log)
		if err != nil {
			return err
		}
		st = ms
	} else {
		cfg := db.config()
		cfg.MaxConns, cfg.MinIdleConns, cfg.WriteConns = int32(*maxConns), int32(*minConns), int32(*writeConns)
		cfg.SearchConns = int32(*vectorSearches)
		if *doMigrate {
			if _, err := postgres.Migrate(ctx, cfg, log); err != nil {
				return err
			}
		}
		ps, err := postgres.Open(ctx, cfg)
		if err != nil {
			return err
		}
		if err := ps.CheckIDKey(ctx, ids.Fingerprint()); err != nil {
			ps.Close()
			return err
		}
		st = ps
		registerPoolMetrics(set, ps)
	}
	defer st.Close()

	engine, err := recommend.New(recommend.Config{
		SourceBudget: *sourceBudget, VectorSearches: *vectorSearches, MaxMove: *maxMove, Ranker: rules, RankDepth: *rankDepth,
		ItemCache: int64(*itemCache), ListCache: int64(*listCache), MaxVisitors: *maxVisitors,
		Warm: recommend.WarmConfig{Items: *warmItems, ReadyWait: *warmReadyWait, Log: log},
	}, st, set)
	if err != nil {
		return err
	}
	defer engine.Close()
	cfg := httpapi.Config{
		ReadDeadline: *readDeadline, MaxBodyBytes: *maxBody, MaxBatch: *maxBatch,
		AllowedOrigins: splitList(*cors), IDs: ids,
	}
	audit := func(e catalog.AuditEntry) {
		c, cancel := context.WithTimeout(ctx, auditTimeout)
		defer cancel()
		if err := st.AppendAudit(c, e); err != nil {
			log.Error("audit entry not written", "action", e.Action, "err", err)
		}
	}
	if err := access.apply(ctx, &cfg, audit, log); err != nil {
		return err
	}
	srv := httpapi.New(cfg, st, engine, log, set)
	if *debugListen != "" {
		// Both profiles cost time on every sampled event: off unless asked.
		runtime.SetBlockProfileRate(int(blockRate.Nanoseconds()))
		runtime.SetMutexProfileFraction(*mutexFraction)
		go servePprof(*debugListen, log)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	log.Info("serving", "addr", ln.Addr().String(), "store", storeName(*db.url), "godebug", os.Getenv("GODEBUG"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func storeName(url string) string {
	if url == "" {
		return "embedded (demo shop)"
	}
	return "postgres"
}

// demoStore fills an embedded store with the generated demo shop and
// builds its models, so a new user sees recommendations within seconds.
func demoStore(ctx context.Context, opt demo.Options, ids *pseudonym.Hasher, log *slog.Logger) (*memstore.Store, error) {
	start := time.Now()
	shop := demo.Generate(opt)
	for i := range shop.Events {
		ids.Event(&shop.Events[i]) // as if they had come through the API
	}
	ms := memstore.New()
	if err := ms.UpsertItems(ctx, shop.Items); err != nil {
		return nil, err
	}
	if _, err := ms.AppendEvents(ctx, shop.Events); err != nil {
		return nil, err
	}
	log.Info("generated demo shop", "items", len(shop.Items), "events", len(shop.Events), "took", time.Since(start).Round(time.Millisecond))
	b, rep, err := build.Run(ctx, ms, build.Options{Seed: uint64(opt.Seed)}, log)
	if err != nil {
		return nil, fmt.Errorf("build demo models: %w", err)
	}
	if err := ms.PublishBuild(ctx, b); err != nil {
		return nil, err
	}
	log.Info("built demo models", "version", b.Version, "report", rep.String())
	if err := ms.AppendAudit(ctx, buildAudit(batchActor("serve, demo build"), b, rep)); err != nil {
		return nil, err
	}
	return ms, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// registerPoolMetrics exports the connection pool's state, the first place
// to look when database latency climbs.
func registerPoolMetrics(set *metrics.Set, ps *postgres.Store) {
	gauge := func(name string, f func() float64) { set.NewGauge(name, f) }
	gauge(`recs_db_pool_connections{state="acquired"}`, func() float64 { return float64(ps.Stat().AcquiredConns()) })
	gauge(`recs_db_pool_connections{state="idle"}`, func() float64 { return float64(ps.Stat().IdleConns()) })
	gauge(`recs_db_pool_connections{state="total"}`, func() float64 { return float64(ps.Stat().TotalConns()) })
	gauge(`recs_db_pool_max_connections`, func() float64 { return float64(ps.Stat().MaxConns()) })
	gauge(`recs_db_pool_empty_acquire_total`, func() float64 { return float64(ps.Stat().EmptyAcquireCount()) })
	// Connections opened since start: a climbing count means connections
	// are being lost (each new one starts a cold backend).
	gauge(`recs_db_pool_new_connections_total`, func() float64 { return float64(ps.Stat().NewConnsCount()) })
	gauge(`recs_db_pool_destroyed_connections_total{reason="idle"}`, func() float64 { return float64(ps.Stat().MaxIdleDestroyCount()) })
	gauge(`recs_db_pool_destroyed_connections_total{reason="lifetime"}`, func() float64 { return float64(ps.Stat().MaxLifetimeDestroyCount()) })
	// The write and search pools, the same four figures each.
	for name, stat := range map[string]func() *pgxpool.Stat{"write": ps.WriteStat, "search": ps.SearchStat} {
		prefix := `recs_db_` + name + `_pool_`
		gauge(prefix+`new_connections_total`, func() float64 { return float64(stat().NewConnsCount()) })
		gauge(prefix+`connections{state="acquired"}`, func() float64 { return float64(stat().AcquiredConns()) })
		gauge(prefix+`connections{state="total"}`, func() float64 { return float64(stat().TotalConns()) })
		gauge(prefix+`empty_acquire_total`, func() float64 { return float64(stat().EmptyAcquireCount()) })
	}
}

// servePprof serves the profiler on its own listener, never on the API's.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof server stopped", "err", err)
	}
}

// loadRankerConfig reads the ranking rules; unknown fields are an error,
// so a misspelt rule is caught at start rather than silently ignored.
func loadRankerConfig(path string) (ranker.Config, error) {
	var c ranker.Config
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("ranker config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("ranker config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("ranker config %s: %w", path, err)
	}
	return c, nil
}
