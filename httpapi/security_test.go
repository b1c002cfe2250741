package httpapi_test

import (
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
)

// callWith sends a request with headers and returns the reply and its
// headers.
func callWith(t *testing.T, method, url, body string, header ...string) (reply, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b)}, resp.Header
}

const (
	publicKey = "recs_public-test-key"
	adminKey  = "recs_admin-test-key"
	newAdmin  = "recs_admin-rotated-key"
)

// keysFile writes a keys file of lines and opens it.
func keysFile(t *testing.T, lines ...string) (*apikey.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := apikey.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

func TestKeysGuardEndpointsByRoleAndOrigin(t *testing.T) {
	keys, path := keysFile(t,
		"public "+apikey.Hash(publicKey)+" shop-web https://shop.example https://m.shop.example",
		"admin "+apikey.Hash(adminKey)+" ops")
	base := startServerWith(t, memstore.New(), httpapi.Config{Keys: keys}, io.Discard)
	f := func(method, path, body string, status int, fragment string, header ...string) {
		t.Helper()
		r, _ := callWith(t, method, base+path, body, header...)
		if r.status != status || !strings.Contains(r.body, fragment) {
			t.Fatalf("%s %s %v: %d %s, want %d mentioning %q", method, path, header, r.status, r.body, status, fragment)
		}
	}
	pub := []string{"X-Api-Key", publicKey}
	adm := []string{"X-Api-Key", adminKey}
	item := itemJSON("a", 5, "Home", "")
	ev := `{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s1","items":[{"item_id":"a"}]}`
	// Open: health, readiness, CORS preflights (browsers send no key).
	f("GET", "/healthz", "", 200, "ok")
	f("GET", "/readyz", "", 503, "recs build")
	r, h := callWith(t, "OPTIONS", base+"/v1/events", "", "Origin", "https://shop.example")
	if r.status != 204 || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Api-Key") {
		t.Fatalf("preflight: %d %v", r.status, h)
	}
	// A public key's origins may call from browsers without a second
	// listing in AllowedOrigins.
	r, h = callWith(t, "OPTIONS", base+"/v1/events", "", "Origin", "https://m.shop.example")
	_, h2 := callWith(t, "GET", base+"/healthz", "", "Origin", "https://other.example")
	if r.status != 204 || h.Get("Access-Control-Allow-Origin") != "https://m.shop.example" || h2.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS: %v / %v", h, h2)
	}
	// No key, a wrong key.
	f("GET", "/v1/recommendations/home", "", 401, "needs an API key")
	f("GET", "/v1/recommendations/home", "", 401, "not valid", "X-Api-Key", "recs_guess")
	f("PUT", "/v1/items", item, 401, "needs an API key")
	// Public: reads, events, one item; not the catalogue, stock, erasure, metrics, audit.
	f("GET", "/v1/recommendations/home", "", 200, "modules", pub...)
	f("GET", "/v1/recommendations/home?api_key="+publicKey, "", 200, "modules")
	f("POST", "/v1/events", ev, 200, `"accepted":1`, pub...)
	f("PUT", "/v1/items", item, 403, "needs an admin key", pub...)
	f("POST", "/v1/stock", `[{"item_id":"a","stock":1}]`, 403, "needs an admin key", pub...)
	f("DELETE", "/v1/users/u1", "", 403, "needs an admin key", pub...)
	f("DELETE", "/v1/sessions/s1", "", 403, "needs an admin key", pub...)
	f("GET", "/metrics", "", 403, "needs an admin key", pub...)
	f("GET", "/v1/audit", "", 403, "needs an admin key", pub...)
	// Admin: everything, but only from servers, in the header.
	f("PUT", "/v1/items", item, 200, `"accepted":1`, adm...)
	f("GET", "/v1/items/a", "", 200, `"id":"a"`, pub...)
	f("GET", "/metrics", "", 200, "recs_http_requests_total", adm...)
	f("GET", "/v1/recommendations/home", "", 200, "modules", adm...)
	f("GET", "/v1/recommendations/home?api_key="+adminKey, "", 403, "never in a URL")
	f("PUT", "/v1/items", item, 403, "never in a URL or from a browser", "X-Api-Key", adminKey, "Origin", "https://shop.example")
	// Browsers: only the public key's origins.
	f("GET", "/v1/recommendations/home", "", 200, "modules", "X-Api-Key", publicKey, "Origin", "https://shop.example")
	f("GET", "/v1/recommendations/home", "", 403, "may not be used from origin", "X-Api-Key", publicKey, "Origin", "https://evil.example")
	// An audit entry names the key's label, never the key.
	r, _ = callWith(t, "GET", base+"/v1/audit", "", adm...)
	if !strings.Contains(r.body, `"actor":"key:ops","action":"items_put"`) || strings.Contains(r.body, adminKey) {
		t.Fatalf("audit: %s", r.body)
	}
	// Rotation without a restart: the new key works once the file is
	// reloaded, the removed one no longer does.
	if err := os.WriteFile(path, []byte("public "+apikey.Hash(publicKey)+" shop-web https://shop.example\nadmin "+apikey.Hash(newAdmin)+" ops-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	f("GET", "/metrics", "", 401, "not valid", adm...)
	f("GET", "/metrics", "", 200, "recs_", "X-Api-Key", newAdmin)
}

func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	// Per address: loopback is not exempt here.
	base := startServerWith(t, memstore.New(), httpapi.Config{RatePerIP: 0.5, BurstPerIP: 3}, io.Discard)
	for i := range 3 {
		if r, _ := callWith(t, "GET", base+"/v1/recommendations/home", ""); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r, h := callWith(t, "GET", base+"/v1/recommendations/home", "")
	wantError(t, r, 429, "too many requests from this address")
	if h.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q, want 2 (a token every 2 s)", h.Get("Retry-After"))
	}
	if r, _ := callWith(t, "GET", base+"/healthz", ""); r.status != 200 {
		t.Fatal("health checks must not be rate limited")
	}
	// Exempt addresses are not limited per address, but still per key.
	keys, _ := keysFile(t, "public "+apikey.Hash(publicKey)+" shop-web *")
	base = startServerWith(t, memstore.New(), httpapi.Config{Keys: keys, RatePerIP: 0.5, BurstPerIP: 1,
		RatePerKey: 0.5, BurstPerKey: 2, RateExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, io.Discard)
	for i := range 2 {
		if r, _ := callWith(t, "GET", base+"/v1/recommendations/home", "", "X-Api-Key", publicKey); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r, h = callWith(t, "GET", base+"/v1/recommendations/home", "", "X-Api-Key", publicKey)
	wantError(t, r, 429, "too many requests from this API key")
	if h.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// Oversized request lines and headers get a 431 that does not echo them
// (they may hold a key or a visitor id).
func TestOversizedHeadersAreRefusedWithoutEcho(t *testing.T) {
	base := startServer(t, memstore.New())
	r, _ := callWith(t, "GET", base+"/v1/recommendations/home?session_id=secret-visitor"+strings.Repeat("s", 9000), "")
	wantError(t, r, 431, "larger than the limit of 8192 bytes")
	r, _ = callWith(t, "GET", base+"/v1/recommendations/home", "", "X-Api-Key", "recs_secret", "X-Junk", strings.Repeat("j", 9000))
	wantError(t, r, 431, "request line and headers")
	if strings.Contains(r.body, "secret") {
		t.Fatalf("the error echoes the request: %s", r.body)
	}
}

// A client still sending when the server refuses its request (headers or
// a body over the limit) gets the refusal, not a connection reset: the
// server drains the rest for a moment before it closes. Without that, a few
// in a hundred of these failed with "connection reset by peer".
func TestRefusalsReachClientsStillSending(t *testing.T) {
	base := startServer(t, memstore.New())
	for i := range 150 {
		req, err := http.NewRequest("GET", base+"/v1/recommendations/home", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Junk", strings.Repeat("j", 9000+i*400))
		wantRefusal(t, req, 431)
	}
	for i := range 30 {
		body := strings.Repeat(" ", 70<<10+i*4<<10)
		req, err := http.NewRequest("PUT", base+"/v1/items", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		wantRefusal(t, req, 413)
	}
}

func wantRefusal(t *testing.T, req *http.Request, status int) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s with %d header bytes and %d body bytes: %v", req.Method, req.URL.Path,
			len(req.Header.Get("X-Junk")), req.ContentLength, withoutRepeats(err.Error()))
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, reply{resp.StatusCode, string(b)}, status, "larger than the limit")
}

// withoutRepeats shortens an error quoting the request's long URL.
func withoutRepeats(msg string) string {
	if len(msg) > 300 {
		return msg[:150] + " ... " + msg[len(msg)-150:]
	}
	return msg
}
