package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/pseudonym"
	"github.com/recs-server/recs/recommend"
)

func FuzzDecodeStock(f *testing.F) {
	f.Add([]byte(`[{"item_id":"a","stock":3},{"item_id":"b","stock":0}]`))
	f.Add([]byte(`{"item_id":"a","stock":-1}`))
	f.Add([]byte(`{"item_id":"a","stock":1e30}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ups, err := decodeBatch(body, "updates", 20, checkStockUpdate)
		checkDecoded(t, len(ups), err)
		for i := range ups {
			if checkStockUpdate(&ups[i]) != nil {
				t.Fatalf("accepted update %+v", ups[i])
			}
		}
	})
}

// fuzzServer is a server over an empty store, not listening: enough to
// call its parsers.
func fuzzServer(t testing.TB, cfg Config) *Server {
	set := metrics.NewSet()
	st := memstore.New()
	engine, err := recommend.New(recommend.Config{}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, st, engine, slog.New(slog.NewTextHandler(io.Discard, nil)), set)
}

// The GET pages' query parser: any query gives a request within the
// limits, with pseudonymised (or, without consent, no) visitor ids, or a
// 400 that says why.
func FuzzPageArgs(f *testing.F) {
	f.Add("limit=5&session_id=s1&user_id=u1")
	f.Add("consent=false&session_id=s1")
	f.Add("limit=0&consent=maybe")
	f.Add("session_id=%00&user_id=" + strings.Repeat("u", 200))
	ids, _ := pseudonym.New([]byte("fuzz-key-0123456789"))
	s := fuzzServer(f, Config{IDs: ids})
	f.Fuzz(func(t *testing.T, query string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/v1/recommendations/home?" + query)
		r, err := s.pageArgs(&ctx)
		if err != nil {
			checkDecoded(t, 1, err)
			return
		}
		if r.Limit < 1 || r.Limit > s.cfg.MaxLimit {
			t.Fatalf("limit %d accepted", r.Limit)
		}
		for _, id := range []string{r.SessionID, r.UserID} {
			if id != "" && len(id) != pseudonym.Size {
				t.Fatalf("visitor id %q is not a pseudonym", id)
			}
		}
		if string(ctx.QueryArgs().Peek("consent")) == "false" && (r.SessionID != "" || r.UserID != "") {
			t.Fatal("ids kept without consent")
		}
	})
}

// X-Forwarded-For: the client is the peer or an address the header
// names, never a trusted proxy unless every hop is one.
func FuzzForwardedClient(f *testing.F) {
	f.Add([]byte("203.0.113.7, 10.0.0.2"))
	f.Add([]byte("::ffff:1.2.3.4,10.0.0.1 , 10.0.0.2"))
	f.Add([]byte("garbage, 10.0.0.3"))
	f.Add([]byte(",,,"))
	proxies := netip.MustParsePrefix("10.0.0.0/8")
	peer := netip.MustParseAddr("10.0.0.9")
	trusted := func(a netip.Addr) bool { return proxies.Contains(a) }
	f.Fuzz(func(t *testing.T, xff []byte) {
		got := forwardedClient(xff, peer, trusted)
		if got == peer {
			return
		}
		for _, hop := range strings.Split(string(xff), ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && a.Unmap() == got {
				return
			}
		}
		t.Fatalf("client %s is neither the peer nor in %q", got, xff)
	})
}

// Any key, origin and path: admit lets the request through or answers
// 401, 403 or 429 with a message, never anything else.
func FuzzAdmit(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "keys")
	content := "public " + apikey.Hash("pub") + " web https://shop.example\nadmin " + apikey.Hash("adm") + " ops\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		f.Fatal(err)
	}
	keys, err := apikey.Open(path, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	s := fuzzServer(f, Config{Keys: keys, RatePerIP: 1000, BurstPerIP: 1000, RatePerKey: 1000, BurstPerKey: 1000})
	f.Add("GET", "/v1/recommendations/home", "pub", "", "https://shop.example")
	f.Add("PUT", "/v1/items", "adm", "", "")
	f.Add("DELETE", "/v1/users/x", "", "adm", "https://evil.example")
	f.Add("GET", "/metrics", "nope", "pub", "")
	f.Fuzz(func(t *testing.T, method, path, header, arg, origin string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path + "?api_key=" + arg)
		ctx.Request.Header.Set(keyHeader, header)
		ctx.Request.Header.Set("Origin", origin)
		ctx.SetRemoteAddr(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)})
		err := s.admit(&ctx)
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.msg == "" || (ae.status != 401 && ae.status != 403 && ae.status != 429) {
			t.Fatalf("admit: %v", err)
		}
	})
}
