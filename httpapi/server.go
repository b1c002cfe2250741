// Package httpapi is recs' HTTP layer: routing, request parsing and
// validation, response encoding, errors and per-endpoint metrics, on
// fasthttp. Business logic lives in the packages it calls.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ingest"
	"github.com/recs-server/recs/pseudonym"
	"github.com/recs-server/recs/ratelimit"
	"github.com/recs-server/recs/recommend"
	"github.com/recs-server/recs/widget"
)

// Store is what the HTTP layer needs from a store.
type Store interface {
	Ping(ctx context.Context) error
	Items(ctx context.Context, ids []string) ([]catalog.Item, error)
	UpsertItems(ctx context.Context, items []catalog.Item) error
	UpdateStock(ctx context.Context, updates []catalog.StockUpdate) ([]string, error)
	AppendEvents(ctx context.Context, events []catalog.Event) (int, error)
	EraseUser(ctx context.Context, userID string, at time.Time) (catalog.Erasure, error)
	EraseSession(ctx context.Context, sessionID string, at time.Time) (catalog.Erasure, error)
	AppendAudit(ctx context.Context, e catalog.AuditEntry) error
	AuditLog(ctx context.Context, limit int) ([]catalog.AuditEntry, error)
}

// Config holds the server's limits and timeouts. Zero values mean the
// documented defaults (see withDefaults).
type Config struct {
	MaxBodyBytes  int           // default 4 MiB
	MaxBatch      int           // items, events or stock updates per request; default 1000
	MaxLimit      int           // largest `limit` a client may ask; default 100
	DefaultLimit  int           // default 10
	ReadTimeout   time.Duration // default 10 s
	WriteTimeout  time.Duration // default 10 s
	IdleTimeout   time.Duration // default 60 s
	Concurrency   int           // most requests served at once; default 4096
	ReadDeadline  time.Duration // budget of a read (recommendation) request; default 50 ms
	WriteDeadline time.Duration // budget of a write (ingest) request; default 5 s
	RefreshEvery  time.Duration // how often to look for a new build; default 2 s
	// AllowedOrigins are the storefront origins (e.g.
	// "https://shop.example") whose browsers may call the API; "*" allows
	// any. None: no CORS headers, so browsers on other origins are refused.
	AllowedOrigins []string

	// Keys are the API keys in force; nil leaves the API open (no key
	// asked for anything). See accessOf for which endpoint needs which.
	Keys Keys
	// MetricsOpen serves /metrics without a key (a scraper inside the
	// network); otherwise it needs an admin key.
	MetricsOpen bool
	// IDs pseudonymises visitor ids (events, reads, erasure); nil keeps
	// them as sent.
	IDs *pseudonym.Hasher
	// Rate limits of the public endpoints: requests a second and burst per
	// client address and per API key; 0 turns a limit off. Clients in
	// RateExempt (e.g. the shop's own servers) are not limited per
	// address. Behind proxies in TrustedProxies the client address is
	// taken from X-Forwarded-For.
	RatePerIP, RatePerKey   float64
	BurstPerIP, BurstPerKey int
	RateExempt              []netip.Prefix
	TrustedProxies          []netip.Prefix
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBodyBytes, 4<<20)
	def(&c.MaxBatch, 1000)
	def(&c.MaxLimit, 100)
	def(&c.DefaultLimit, 10)
	def(&c.Concurrency, 4096)
	defDur(&c.ReadTimeout, 10*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.IdleTimeout, 60*time.Second)
	defDur(&c.ReadDeadline, 50*time.Millisecond)
	defDur(&c.WriteDeadline, 5*time.Second)
	defDur(&c.RefreshEvery, 2*time.Second)
	return c
}

// Server serves the recs API.
type Server struct {
	cfg     Config
	store   Store
	engine  *recommend.Engine
	events  *ingest.Batcher
	stock   *ingest.StockWriter
	log     *slog.Logger
	metrics *metrics.Set
	srv     *fasthttp.Server
	ids     *pseudonym.Hasher
	perIP   *ratelimit.Limiter[netip.Addr]
	perKey  *ratelimit.Limiter[string]
	assets  *widget.Assets // widget.js and the demo shop page
	// lingering counts refused connections draining before they close.
	lingering atomic.Int32
	// base is cancelled on shutdown; every request context derives from it.
	base   context.Context
	cancel context.CancelFunc
}

// New returns a server over st that recommends with engine. Metrics go to
// set (exported at /metrics).
func New(cfg Config, st Store, engine *recommend.Engine, log *slog.Logger, set *metrics.Set) *Server {
	s := &Server{cfg: cfg.withDefaults(), store: st, engine: engine, log: log, metrics: set, ids: cfg.IDs}
	s.perIP = ratelimit.New[netip.Addr](s.cfg.RatePerIP, s.cfg.BurstPerIP, maxRateClients)
	s.perKey = ratelimit.New[string](s.cfg.RatePerKey, s.cfg.BurstPerKey, apikeyBuckets)
	s.events = ingest.New(st, groupCommitMax, set)
	s.stock = ingest.NewStockWriter(st, engine, stockWriteMax, s.auditStock, set)
	s.assets = widget.New()
	s.base, s.cancel = context.WithCancel(context.Background())
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "recs",
		ReadTimeout:           s.cfg.ReadTimeout,
		WriteTimeout:          s.cfg.WriteTimeout,
		IdleTimeout:           s.cfg.IdleTimeout,
		MaxRequestBodySize:    s.cfg.MaxBodyBytes,
		Concurrency:           s.cfg.Concurrency,
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		Logger:                fasthttpLogger{log},
		ReadBufferSize:        maxHeaderBytes,
		WriteBufferSize:       writeBufferBytes,
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			// fasthttp's own parse errors, e.g. a body over the limit.
			// fasthttp quotes the request in some messages: never echo it
			// (it may hold a key or a visitor id).
			var small *fasthttp.ErrSmallBuffer
			status, msg := fasthttp.StatusBadRequest, "malformed HTTP request: "+withoutContents(err.Error())
			switch {
			case errors.Is(err, fasthttp.ErrBodyTooLarge):
				status = fasthttp.StatusRequestEntityTooLarge
				msg = fmt.Sprintf("request body is larger than the limit of %d bytes", s.cfg.MaxBodyBytes)
			case errors.As(err, &small):
				status = fasthttp.StatusRequestHeaderFieldsTooLarge
				msg = fmt.Sprintf("the request line and headers are larger than the limit of %d bytes", maxHeaderBytes)
			}
			writeError(ctx, status, msg)
			lingerOnClose(ctx.Conn())
		},
	}
	return s
}

// Serve serves on ln until Shutdown. In the background it watches for new
// builds every refresh interval and swaps to them without dropping a
// request.
func (s *Server) Serve(ln net.Listener) error {
	if _, err := s.engine.Refresh(s.base); err != nil {
		s.log.Error("reading the latest build failed; serving fallbacks until it works", "err", err)
	}
	go s.watchBuilds()
	return s.srv.Serve(lingerListener{Listener: ln, lingering: &s.lingering})
}

func (s *Server) watchBuilds() {
	t := time.NewTicker(s.cfg.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case <-t.C:
			c, cancel := context.WithTimeout(s.base, 5*time.Second)
			changed, err := s.engine.Refresh(c)
			cancel()
			if err != nil {
				s.log.Error("checking for a new build failed", "err", err)
			} else if changed {
				s.log.Info("serving new build", "version", s.engine.ModelVersion())
			}
		}
	}
}

// maxRateClients bounds the client addresses whose request rates are
// tracked (about 100 bytes each); apikeyBuckets those of keys.
const (
	maxRateClients = 1 << 18
	apikeyBuckets  = 1 << 12
)

// maxHeaderBytes bounds a request's line and headers (431 beyond).
const maxHeaderBytes = 8 << 10

// writeBufferBytes is each connection's response buffer. fasthttp's
// default of 4 KiB is less than a page of 10 recommendations (about 5
// KB), so most responses went out in two write system calls, and
// reached the client as two segments, instead of one. An open
// connection keeps both buffers (24 KiB with the read buffer): at most
// 96 MB at the default limit of 4,096 connections.
const writeBufferBytes = 16 << 10

// withoutContents cuts the request bytes fasthttp appends to some parse
// errors.
func withoutContents(msg string) string {
	for _, marker := range []string{"; contents:", ", contents:", " contents:", ": buffer size="} {
		if i := strings.Index(msg, marker); i >= 0 {
			msg = msg[:i]
		}
	}
	return msg
}

// groupCommitMax bounds the events written in one group commit;
// stockWriteMax the stock updates in one group write (10 posts of 1,000).
const (
	groupCommitMax = 5000
	stockWriteMax  = 10_000
)

// Shutdown stops accepting connections, waits for in-flight requests until
// ctx ends, then writes the events still queued.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	s.events.Close()
	s.stock.Close()
	s.cancel()
	return err
}

// apiError is an error with the status the client gets. Only 5xx are
// logged: 4xx are the client's to fix and the body says how.
type apiError struct {
	status int
	msg    string
	// retryAfter, if set, is sent as Retry-After.
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.msg }

func apiErr(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return apiErr(fasthttp.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return apiErr(fasthttp.StatusNotFound, format, args...)
}

type route struct {
	name    string
	method  string
	handler func(*fasthttp.RequestCtx) error
}

func (s *Server) route(path string) (route, bool) {
	switch path {
	case "/healthz":
		return route{"healthz", "GET", s.healthz}, true
	case "/readyz":
		return route{"readyz", "GET", s.readyz}, true
	case "/metrics":
		return route{"metrics", "GET", s.writeMetrics}, true
	case "/v1/items":
		return route{"items_put", "PUT", s.putItems}, true
	case "/v1/stock":
		return route{"stock", "POST", s.postStock}, true
	case "/v1/events":
		return route{"events", "POST", s.postEvents}, true
	case "/v1/recommendations/pdp":
		return route{"pdp", "GET", s.pdp}, true
	case "/v1/recommendations/home":
		return route{"home", "GET", s.home}, true
	case "/v1/recommendations/cart":
		return route{"cart", "POST", s.cart}, true
	case "/v1/rank":
		return route{"rank", "POST", s.rank}, true
	case "/v1/audit":
		return route{"audit", "GET", s.getAudit}, true
	case "/widget.js":
		return route{"widget", "GET", s.assets.Widget}, true
	}
	if strings.HasPrefix(path, "/v1/items/") {
		return route{"item_get", "GET", s.getItem}, true
	}
	if strings.HasPrefix(path, "/v1/users/") {
		return route{"user_delete", "DELETE", s.deleteUser}, true
	}
	if strings.HasPrefix(path, "/v1/sessions/") {
		return route{"session_delete", "DELETE", s.deleteSession}, true
	}
	if path == "/demo" || strings.HasPrefix(path, "/demo/") {
		return route{"demo", "GET", s.assets.Demo}, true
	}
	return route{}, false
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	rt, ok := s.route(string(ctx.Path()))
	if !ok {
		writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("no such endpoint: %s", ctx.Path()))
		s.metrics.GetOrCreateCounter(`recs_http_requests_total{path="unknown",code="404"}`).Inc()
		return
	}
	if origin := ctx.Request.Header.Peek("Origin"); len(origin) > 0 && s.originAllowed(origin) {
		h := &ctx.Response.Header
		h.SetBytesV("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		if string(ctx.Method()) == "OPTIONS" { // preflight
			h.Set("Access-Control-Allow-Methods", rt.method)
			h.Set("Access-Control-Allow-Headers", "Content-Type, "+keyHeader)
			h.Set("Access-Control-Max-Age", "600")
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
	}
	// HEAD is GET without the body (fasthttp leaves it out).
	if m := string(ctx.Method()); m != rt.method && (m != "HEAD" || rt.method != "GET") {
		ctx.Response.Header.Set("Allow", rt.method)
		writeError(ctx, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("%s needs %s, got %s", rt.name, rt.method, ctx.Method()))
	} else if err := s.admit(ctx); err != nil {
		s.writeErr(ctx, rt.name, err)
	} else if err := rt.handler(ctx); err != nil {
		s.writeErr(ctx, rt.name, err)
	}
	code := ctx.Response.StatusCode()
	s.metrics.GetOrCreateHistogram(`recs_http_request_duration_seconds{path="` + rt.name + `"}`).UpdateDuration(start)
	s.metrics.GetOrCreateCounter(`recs_http_requests_total{path="` + rt.name + `",code="` + strconv.Itoa(code) + `"}`).Inc()
}

// writeErr is the one place that turns a handler error into a status.
func (s *Server) writeErr(ctx *fasthttp.RequestCtx, name string, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		if ae.retryAfter > 0 {
			ctx.Response.Header.Set("Retry-After", retryAfterSeconds(ae.retryAfter))
		}
		writeError(ctx, ae.status, ae.msg)
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Error("request timed out", "endpoint", name, "err", err)
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "the request took too long; retry")
	default:
		// Nothing was stored (writes are all or nothing): the client
		// retries, and event ids make the retry harmless.
		s.log.Error("request failed", "endpoint", name, "err", err)
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "the server could not complete the request; retry later")
	}
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(appendJSONError(nil, msg))
}

// fasthttpLogger routes fasthttp's own messages (mostly clients that send
// malformed requests, already answered with a 4xx) to debug level.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}

func (s *Server) originAllowed(origin []byte) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || o == string(origin) {
			return true
		}
	}
	// The origins of the public keys need no second listing.
	return s.cfg.Keys != nil && s.cfg.Keys.Keyring().AllowsOrigin(origin)
}
