package httpapi

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/apikey"
)

// Keys is the source of the API keys in force (a keys file that may be
// rotated while the server runs).
type Keys interface {
	Keyring() *apikey.Keyring
}

// access is what an endpoint asks of its caller.
type access uint8

const (
	accessOpen   access = iota // health, readiness, the widget's script and demo page
	accessPublic               // recommendations and events: a public or admin key
	accessAdmin                // everything else: an admin key
)

// accessOf decides by path, so an endpoint nobody listed here needs an
// admin key: new endpoints are closed until opened on purpose.
func (s *Server) accessOf(method, path []byte) access {
	switch string(path) {
	case "/healthz", "/readyz", "/widget.js", "/demo":
		return accessOpen
	case "/metrics":
		if s.cfg.MetricsOpen {
			return accessOpen
		}
		return accessAdmin
	case "/v1/rank", "/v1/events":
		return accessPublic
	}
	switch {
	case bytes.HasPrefix(path, []byte("/demo/")):
		return accessOpen
	case bytes.HasPrefix(path, []byte("/v1/recommendations/")):
		return accessPublic
	case bytes.HasPrefix(path, []byte("/v1/items/")) && string(method) == "GET":
		return accessPublic // the widget shows the item on screen
	}
	return accessAdmin
}

// Names of the key's carriers: a header for most clients, a query
// argument for navigator.sendBeacon, which cannot set headers.
const (
	keyHeader = "X-Api-Key"
	keyArg    = "api_key"
)

// userKey is where admit leaves the caller's key for the handlers (audit).
const userKey = "recs.key"

func unauthorized(format string, args ...any) error {
	return apiErr(fasthttp.StatusUnauthorized, format, args...)
}

func forbidden(format string, args ...any) error {
	return apiErr(fasthttp.StatusForbidden, format, args...)
}

func tooManyRequests(wait time.Duration, who string) error {
	e := apiErr(fasthttp.StatusTooManyRequests, "too many requests from this %s; retry after %s", who, retryAfterSeconds(wait))
	e.retryAfter = wait
	return e
}

// retryAfterSeconds is a wait as Retry-After wants it: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// admit applies the endpoint's access rule to a request: the per-IP rate
// limit, the API key (role, and for browsers the origin), then the
// per-key rate limit. It returns the error to answer with, if any.
func (s *Server) admit(ctx *fasthttp.RequestCtx) error {
	acc := s.accessOf(ctx.Method(), ctx.Path())
	if acc == accessOpen {
		return nil
	}
	now := time.Now()
	if acc == accessPublic && s.perIP.Enabled() {
		if ip := s.clientIP(ctx); !s.exempt(ip) {
			if ok, wait := s.perIP.Allow(rateKey(ip), now); !ok {
				s.metrics.GetOrCreateCounter(`recs_http_rate_limited_total{by="ip"}`).Inc()
				return tooManyRequests(wait, "address")
			}
		}
	}
	if s.cfg.Keys == nil {
		return nil // no keys configured: the API is open (a warning was logged at start)
	}
	presented := ctx.Request.Header.Peek(keyHeader)
	inQuery := false
	if len(presented) == 0 {
		presented, inQuery = ctx.QueryArgs().Peek(keyArg), true
	}
	if len(presented) == 0 {
		s.metrics.GetOrCreateCounter(`recs_http_auth_failures_total{reason="missing"}`).Inc()
		return unauthorized("this endpoint needs an API key: send it in the %s header", keyHeader)
	}
	k, ok := s.cfg.Keys.Keyring().Lookup(presented)
	if !ok {
		s.metrics.GetOrCreateCounter(`recs_http_auth_failures_total{reason="unknown"}`).Inc()
		return unauthorized("the API key is not valid (mistyped, or revoked)")
	}
	origin := ctx.Request.Header.Peek("Origin")
	switch {
	case k.Role == apikey.RoleAdmin && (inQuery || len(origin) > 0):
		s.metrics.GetOrCreateCounter(`recs_http_auth_failures_total{reason="admin_exposed"}`).Inc()
		return forbidden("admin keys are accepted only from servers, in the %s header: never in a URL or from a browser", keyHeader)
	case len(origin) > 0 && !k.AllowsOrigin(origin):
		s.metrics.GetOrCreateCounter(`recs_http_auth_failures_total{reason="origin"}`).Inc()
		return forbidden("the API key %q may not be used from origin %q: add the origin to its line in the keys file", k.Label, origin)
	case acc == accessAdmin && k.Role != apikey.RoleAdmin:
		s.metrics.GetOrCreateCounter(`recs_http_auth_failures_total{reason="role"}`).Inc()
		return forbidden("this endpoint needs an admin key")
	}
	if ok, wait := s.perKey.Allow(k.Label, now); !ok {
		s.metrics.GetOrCreateCounter(`recs_http_rate_limited_total{by="key"}`).Inc()
		return tooManyRequests(wait, "API key")
	}
	ctx.SetUserValue(userKey, k)
	return nil
}

// actor names the caller in the audit log: the key's label, never the key.
func actor(ctx *fasthttp.RequestCtx) string {
	if k, ok := ctx.UserValue(userKey).(*apikey.Key); ok {
		return "key:" + k.Label
	}
	return "no-key (API open)"
}

// rateKey is the address a client is limited by: an IPv6 client by its
// /64, the block one host or home network usually holds, so a client
// cannot dodge the limit (or fill the limiter) by changing addresses in it.
func rateKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (s *Server) exempt(ip netip.Addr) bool {
	for _, p := range s.cfg.RateExempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the peer's address or, when the peer is a trusted proxy,
// the nearest untrusted address in X-Forwarded-For.
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	var peer netip.Addr
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(a.IP)
		peer = peer.Unmap()
	}
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	return forwardedClient(ctx.Request.Header.Peek("X-Forwarded-For"), peer, s.trusted)
}

// forwardedClient walks an X-Forwarded-For list from the right (the hops
// nearest this server) past trusted proxies and returns the first address
// that is not one; a malformed entry ends the walk at the last good hop,
// since anything left of it may be forged.
func forwardedClient(xff []byte, peer netip.Addr, trusted func(netip.Addr) bool) netip.Addr {
	client := peer
	for len(xff) > 0 {
		var hop []byte
		if i := bytes.LastIndexByte(xff, ','); i >= 0 {
			hop, xff = xff[i+1:], xff[:i]
		} else {
			hop, xff = xff, nil
		}
		a, err := netip.ParseAddr(string(bytes.TrimSpace(hop)))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !trusted(client) {
			return client
		}
	}
	return client
}
