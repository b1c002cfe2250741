package loadtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hard limits: a run always ends by itself and cannot be turned into a
// flood by a typo.
const (
	MaxRate          = 100_000          // requests per second
	MaxTotalDuration = time.Hour        // warm-up plus measured phase
	MaxRequestsLimit = 50_000_000       // requests per run
	MaxInFlightLimit = 16_384           // concurrent requests (= connections)
	maxBacklog       = 1 << 18          // scheduled requests waiting for a connection
	maxRunIDLen      = 32               // keeps event ids under catalog.MaxIDLen
	maxTimeout       = HistogramMax / 2 // so a timed-out request still fits the histogram
	maxIntervals     = 720              // windows of the time series (30 KiB each)
	maxEventsBatch   = 1000             // the server's default limit per request
	// maxIdleConn closes connections idle this long: below servers' idle
	// timeouts, so that no request goes out on a connection the server is
	// closing.
	maxIdleConn = 10 * time.Second
)

// Scenario names. A scenario chooses the default traffic mix; the server
// side of a scenario (warm or cold caches, catalogue size) is set up by
// whoever starts the server.
const (
	// ScenarioMixed is storefront traffic: PDP 50 %, home 20 %, cart 15 %,
	// events 10 %, rank 5 %.
	ScenarioMixed = "mixed"
	// ScenarioEvents is 100 % POST /v1/events, each with a session's views
	// not yet reported (1-4 events).
	ScenarioEvents = "events"
	// ScenarioIngestBurst is 100 % POST /v1/events in batches of
	// Config.EventsBatch events (default 50), as a backend forwarding a
	// burst would send them.
	ScenarioIngestBurst = "ingest-burst"
	// ScenarioStockStorm is the mixed reads plus POST /v1/stock batches at
	// Config.StockRate requests per second (default 10 % of Rate), and a
	// probe that measures how soon recommendations reflect a stock update
	// (Config.StockProbeEvery).
	ScenarioStockStorm = "stock-storm"
	// ScenarioCold is the mixed traffic measured from the very first
	// request, without warm-up, as a time series (Config.Interval, default
	// 10 s): run it against a server started just before, whose caches
	// are empty.
	ScenarioCold = "cold"
)

// Scenarios lists the known scenario names.
var Scenarios = []string{ScenarioMixed, ScenarioEvents, ScenarioIngestBurst, ScenarioStockStorm, ScenarioCold}

// Config describes one run. Zero values mean the documented defaults.
type Config struct {
	// Target is the server's base URL, e.g. "http://127.0.0.1:8080". Only
	// loopback targets are accepted: an IP in 127.0.0.0/8, ::1, or
	// "localhost" resolving to loopback addresses only.
	Target string
	// Scenario picks the default Mix; default ScenarioMixed.
	Scenario string
	// Rate is the constant arrival rate in requests per second (required).
	Rate float64
	// Duration is the measured phase (required).
	Duration time.Duration
	// Warmup is sent at the same rate before Duration but not recorded.
	Warmup time.Duration
	// MaxRequests stops the run early once this many requests have been
	// scheduled (warm-up included); 0 means Rate*(Warmup+Duration).
	MaxRequests int64
	// MaxInFlight bounds concurrent requests and connections; default 512.
	MaxInFlight int
	// Backlog bounds scheduled requests waiting for a free connection; a
	// request that finds it full is dropped. Default Rate*Timeout, at least
	// MaxInFlight.
	Backlog int
	// Timeout per request from the moment it is sent; default 2 s. A
	// request that waited longer than Timeout for one is dropped.
	Timeout time.Duration
	// Mix maps endpoint names to relative weights (any scale: 50 or 0.5).
	// Nil means the scenario's mix. Names must be in Endpoints.
	Mix map[string]float64
	// Exclude removes endpoints from the mix, e.g. ones the server does
	// not serve yet.
	Exclude []string
	// Endpoints adds endpoints or replaces the defaults of the same name
	// (see DefaultEndpoints).
	Endpoints []Endpoint
	// Catalog holds the item ids in popularity order: Catalog[0] is drawn
	// most often (Zipf). Required; see DemoItemIDs.
	Catalog []string
	// ZipfS is the popularity skew exponent; default 1.0.
	ZipfS float64
	// Seed makes the request sequence reproducible; 0 picks one.
	Seed uint64
	// Sessions is the number of concurrently active virtual sessions;
	// default 1000.
	Sessions int
	// Limit is the {{limit}} of recommendation requests; default 10.
	Limit int
	// RankItems is the number of ids in a {{page}} (a category listing to
	// rank); default 24.
	RankItems int
	// StockBatch is the number of updates in a {{stock}} body; default 100.
	StockBatch int
	// StockRate is the stock-storm scenario's POST /v1/stock rate in
	// requests per second; default 10 % of Rate.
	StockRate float64
	// RunID prefixes session, user and event ids ("lt-<RunID>-..."); default
	// random. Letters, digits, '-' and '_' only.
	RunID string
	// Interval splits the measured phase into windows of this length,
	// reported as a time series (Result.Intervals) by scheduled send time;
	// 0: none (the cold scenario's default is 10 s). At most 720 windows.
	Interval time.Duration
	// EventsBatch is the number of events in every {{events}} body; 0
	// sends the session's views not yet reported (1-4). Default 50 in the
	// ingest-burst scenario; at most 1000.
	EventsBatch int
	// StockProbeEvery is how often the stock-storm scenario's probe takes
	// an item shown in recommendations out of stock and measures how long
	// until the recommendations leave it out (Result.StockProbe); default
	// 2 s, negative: no probe.
	StockProbeEvery time.Duration

	// workers makes the run use the portable workers even where the event
	// loop works, so that tests cover both.
	workers bool
}

// DemoItemIDs returns the ids of the demo shop, "D-000001" up to n,
// zero-padded to 6 digits (more if n needs them). The server's default
// demo shop has 3000 items.
func DemoItemIDs(n int) []string {
	width := max(6, len(strconv.Itoa(n)))
	ids := make([]string, n)
	buf := make([]byte, 0, 2+width)
	for i := range ids {
		buf = append(buf[:0], "D-"...)
		s := strconv.Itoa(i + 1)
		for range width - len(s) {
			buf = append(buf, '0')
		}
		ids[i] = string(append(buf, s...))
	}
	return ids
}

// DefaultMix returns the traffic mix of a scenario in percent, before
// Config.StockRate is applied.
func DefaultMix(scenario string) (map[string]float64, error) {
	switch scenario {
	case ScenarioMixed, ScenarioCold, "":
		return map[string]float64{"pdp": 50, "home": 20, "cart": 15, "events": 10, "rank": 5}, nil
	case ScenarioEvents, ScenarioIngestBurst:
		return map[string]float64{"events": 100}, nil
	case ScenarioStockStorm:
		return map[string]float64{"pdp": 50, "home": 20, "cart": 15, "rank": 5, "stock": 10}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (want one of %s)", scenario, strings.Join(Scenarios, ", "))
}

// target is a validated loopback target.
type target struct {
	base string // scheme://host[:port] as given, for the URIs
	host string // host[:port] as given, for the Host header
	dial string // resolved ip:port the client connects to
}

// withDefaults validates c and fills the defaults. It resolves the target.
func (c Config) withDefaults(ctx context.Context) (Config, target, error) {
	var tg target
	var err error
	if tg, err = checkTarget(ctx, c.Target); err != nil {
		return c, tg, err
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioMixed
	}
	if !slices.Contains(Scenarios, c.Scenario) {
		return c, tg, fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	switch {
	case math.IsNaN(c.Rate) || c.Rate <= 0:
		return c, tg, fmt.Errorf("rate must be positive, got %g", c.Rate)
	case c.Rate > MaxRate:
		return c, tg, fmt.Errorf("rate %g req/s is above the limit of %d", c.Rate, MaxRate)
	case c.Duration <= 0:
		return c, tg, fmt.Errorf("duration must be positive, got %s", c.Duration)
	case c.Warmup < 0:
		return c, tg, fmt.Errorf("warm-up must not be negative, got %s", c.Warmup)
	case c.Warmup+c.Duration > MaxTotalDuration:
		return c, tg, fmt.Errorf("warm-up plus duration is %s, the limit is %s", c.Warmup+c.Duration, MaxTotalDuration)
	case c.MaxRequests < 0:
		return c, tg, fmt.Errorf("max requests must not be negative, got %d", c.MaxRequests)
	case c.MaxInFlight < 0 || c.MaxInFlight > MaxInFlightLimit:
		return c, tg, fmt.Errorf("max in-flight must be 1..%d, got %d", MaxInFlightLimit, c.MaxInFlight)
	case c.Timeout < 0 || c.Timeout > maxTimeout:
		return c, tg, fmt.Errorf("timeout must be up to %s, got %s", maxTimeout, c.Timeout)
	case len(c.Catalog) == 0:
		return c, tg, errors.New("the catalogue is empty: set Catalog, e.g. to DemoItemIDs(3000)")
	case c.ZipfS < 0 || math.IsNaN(c.ZipfS):
		return c, tg, fmt.Errorf("zipf exponent must not be negative, got %g", c.ZipfS)
	case c.Sessions < 0 || c.Limit < 0 || c.RankItems < 0 || c.StockBatch < 0 || c.Backlog < 0:
		return c, tg, errors.New("sessions, limit, rank items, stock batch and backlog must not be negative")
	case c.StockRate < 0 || c.StockRate >= c.Rate:
		return c, tg, fmt.Errorf("stock rate must be 0..rate (%g), got %g", c.Rate, c.StockRate)
	case c.Scenario == ScenarioCold && c.Warmup > 0:
		return c, tg, errors.New("the cold scenario measures from the first request: leave the warm-up at 0 and start the server just before")
	case c.Interval < 0:
		return c, tg, fmt.Errorf("interval must not be negative, got %s", c.Interval)
	case c.Interval > 0 && (c.Duration+c.Interval-1)/c.Interval > maxIntervals:
		return c, tg, fmt.Errorf("an interval of %s splits %s into more than %d windows: make it longer", c.Interval, c.Duration, maxIntervals)
	case c.EventsBatch < 0 || c.EventsBatch > maxEventsBatch:
		return c, tg, fmt.Errorf("events batch must be 0..%d, got %d", maxEventsBatch, c.EventsBatch)
	}
	if c.Scenario == ScenarioCold && c.Interval == 0 {
		c.Interval = 10 * time.Second
	}
	if c.Scenario == ScenarioIngestBurst && c.EventsBatch == 0 {
		c.EventsBatch = 50
	}
	if c.StockProbeEvery == 0 {
		c.StockProbeEvery = 2 * time.Second
	}
	expected := c.Rate * (c.Warmup + c.Duration).Seconds()
	if c.MaxRequests == 0 {
		c.MaxRequests = int64(math.Ceil(expected))
	}
	if c.MaxRequests > MaxRequestsLimit {
		return c, tg, fmt.Errorf("the run would send %d requests, the limit is %d: lower the rate or the duration", c.MaxRequests, MaxRequestsLimit)
	}
	for i, id := range c.Catalog {
		if id == "" {
			return c, tg, fmt.Errorf("catalog[%d] is empty", i)
		}
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 512
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Backlog == 0 {
		c.Backlog = int(min(c.Rate*c.Timeout.Seconds(), maxBacklog))
	}
	c.Backlog = min(max(c.Backlog, c.MaxInFlight), maxBacklog)
	if c.ZipfS == 0 {
		c.ZipfS = 1
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Sessions, 1000)
	def(&c.Limit, 10)
	def(&c.RankItems, 24)
	def(&c.StockBatch, 100)
	c.RankItems = min(c.RankItems, len(c.Catalog))
	c.StockBatch = min(c.StockBatch, len(c.Catalog))
	if c.Seed == 0 {
		c.Seed = randomSeed()
	}
	if c.RunID == "" {
		c.RunID = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if len(c.RunID) > maxRunIDLen || strings.Trim(c.RunID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return c, tg, fmt.Errorf("run id %q must be 1..%d letters, digits, '-' or '_'", c.RunID, maxRunIDLen)
	}
	return c, tg, nil
}

// mix returns the normalised weights of the endpoints to send.
func (c *Config) mix(eps map[string]Endpoint) (map[string]float64, error) {
	mix := c.Mix
	if mix == nil {
		mix, _ = DefaultMix(c.Scenario)
		if c.Scenario == ScenarioStockStorm && c.StockRate > 0 {
			share := c.StockRate / c.Rate
			reads := 0.0
			for name, w := range mix {
				if name != "stock" {
					reads += w
				}
			}
			for name, w := range mix {
				mix[name] = w / reads * (1 - share)
			}
			mix["stock"] = share
		}
	}
	out := make(map[string]float64, len(mix))
	var sum float64
	for name, w := range mix {
		if _, ok := eps[name]; !ok {
			return nil, fmt.Errorf("the mix names endpoint %q, which is not defined (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(eps)), ", "))
		}
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("the weight of %q must be a non-negative number, got %g", name, w)
		}
		if slices.Contains(c.Exclude, name) || w == 0 {
			continue
		}
		out[name] = w
		sum += w
	}
	for _, name := range c.Exclude {
		if _, ok := eps[name]; !ok {
			return nil, fmt.Errorf("cannot exclude endpoint %q, which is not defined", name)
		}
	}
	if sum == 0 {
		return nil, errors.New("the traffic mix is empty: every endpoint is excluded or has weight 0")
	}
	for name := range out {
		out[name] /= sum
	}
	return out, nil
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var s uint64
	for _, x := range b {
		s = s<<8 | uint64(x)
	}
	return max(s, 1)
}

// ErrNotLoopback is returned for targets other than this machine.
var ErrNotLoopback = errors.New("the load generator only targets loopback addresses (127.0.0.0/8, ::1, localhost)")

// checkTarget accepts http URLs whose host is a loopback IP, or localhost
// resolving to loopback addresses only. It returns the address to dial, so
// that a name cannot resolve differently later.
func checkTarget(ctx context.Context, raw string) (target, error) {
	var tg target
	u, err := url.Parse(raw)
	if err != nil {
		return tg, fmt.Errorf("target %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" {
		return tg, fmt.Errorf("target %q: only http:// is supported", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return tg, fmt.Errorf("target %q must be a base URL such as http://127.0.0.1:8080, without user, path or query", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	var ip netip.Addr
	switch {
	case strings.EqualFold(host, "localhost"):
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return tg, fmt.Errorf("target %q: resolve localhost: %w", raw, err)
		}
		for _, a := range addrs {
			if !a.Unmap().IsLoopback() {
				return tg, fmt.Errorf("target %q: localhost resolves to %s: %w", raw, a, ErrNotLoopback)
			}
		}
		if len(addrs) == 0 {
			return tg, fmt.Errorf("target %q: localhost resolves to nothing", raw)
		}
		ip = addrs[0].Unmap()
		for _, a := range addrs { // prefer IPv4: servers often listen on 127.0.0.1 only
			if a.Unmap().Is4() {
				ip = a.Unmap()
				break
			}
		}
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil {
			return tg, fmt.Errorf("target %q: host %q is neither a loopback IP nor localhost: %w", raw, host, ErrNotLoopback)
		}
		if ip.Zone() != "" || !ip.Unmap().IsLoopback() {
			return tg, fmt.Errorf("target %q: %w", raw, ErrNotLoopback)
		}
		ip = ip.Unmap()
	}
	tg.base = u.Scheme + "://" + u.Host
	tg.host = u.Host
	tg.dial = net.JoinHostPort(ip.String(), port)
	return tg, nil
}
