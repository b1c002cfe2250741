package httpapi

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/pseudonym"
)

// BenchmarkAdmitAndPseudonymise is what keys, rate limits and
// pseudonymisation add to a read: the access check with a public key from
// a browser, both rate limits, and hashing a session and a user id.
func BenchmarkAdmitAndPseudonymise(b *testing.B) {
	path := filepath.Join(b.TempDir(), "keys")
	lines := "public " + apikey.Hash("recs_pub") + " web https://shop.example\n"
	for i := range 20 { // a realistic keyring: rotated keys, several shops
		lines += "admin " + apikey.Hash(string(rune('a'+i))) + " ops-" + string(rune('a'+i)) + "\n"
	}
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		b.Fatal(err)
	}
	keys, err := apikey.Open(path, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids, _ := pseudonym.New([]byte("bench-key-0123456789"))
	s := fuzzServer(b, Config{Keys: keys, IDs: ids, RatePerIP: 1e9, BurstPerIP: 1e9, RatePerKey: 1e9, BurstPerKey: 1e9})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/v1/recommendations/home?session_id=s-123456&user_id=u-98765&limit=10")
	ctx.Request.Header.Set(keyHeader, "recs_pub")
	ctx.Request.Header.Set("Origin", "https://shop.example")
	ctx.SetRemoteAddr(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.admit(&ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := s.pageArgs(&ctx); err != nil {
			b.Fatal(err)
		}
	}
}
