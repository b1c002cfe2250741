package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

func TestPseudonymsAreStableKeyedAndValidIDs(t *testing.T) {
	a, err := New([]byte("0123456789abcdef-key-a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New([]byte("0123456789abcdef-key-b"))
	p := a.ID("alice@example.com")
	if p == "alice@example.com" || len(p) != Size || strings.Contains(p, "alice") {
		t.Fatalf("pseudonym %q", p)
	}
	if a.ID("alice@example.com") != p {
		t.Fatal("same id, same key: the pseudonym must not change")
	}
	if b.ID("alice@example.com") == p {
		t.Fatal("another key must give another pseudonym")
	}
	if a.ID("bob") == p {
		t.Fatal("two ids share a pseudonym")
	}
	if err := catalog.CheckID("user_id", p); err != nil {
		t.Fatalf("a pseudonym is not a valid id: %v", err)
	}
	if a.ID("") != "" {
		t.Fatal("an absent id must stay absent")
	}
	// It is HMAC-SHA256 with the key, the first 16 bytes in hex.
	m := hmac.New(sha256.New, []byte("0123456789abcdef-key-a"))
	m.Write([]byte("alice@example.com"))
	if want := hex.EncodeToString(m.Sum(nil)[:16]); p != want {
		t.Fatalf("pseudonym %s, want %s", p, want)
	}
}

func TestNoKeyLeavesIDsAndShortKeysAreRefused(t *testing.T) {
	h, err := New(nil)
	if err != nil || h.Enabled() || h.ID("u1") != "u1" {
		t.Fatalf("no key: %v %v", err, h.ID("u1"))
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestEventIsPseudonymisedAndConsentRespected(t *testing.T) {
	h, _ := New([]byte("0123456789abcdef"))
	e := catalog.Event{ID: "e1", Type: catalog.EventPurchase, Time: time.Now(), SessionID: "s1", UserID: "u1", OrderID: "o1",
		Items: []catalog.EventItem{{ItemID: "a"}}}
	h.Event(&e)
	if e.SessionID != h.ID("s1") || e.UserID != h.ID("u1") || e.OrderID != h.ID("o1") || e.ID != "e1" || e.Items[0].ItemID != "a" {
		t.Fatalf("event %+v", e)
	}
	no := false
	e = catalog.Event{ID: "e2", SessionID: "s1", UserID: "u1", OrderID: "o1", Consent: &no}
	h.Event(&e)
	if e.SessionID != "" || e.UserID != "" || e.OrderID != h.ID("o1") {
		t.Fatalf("event without consent kept its visitor: %+v", e)
	}
}

func TestIDAllocatesOnlyItsResult(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	h, _ := New([]byte("0123456789abcdef"))
	if n := testing.AllocsPerRun(100, func() { _ = h.ID("visitor-123") }); n > 1 {
		t.Fatalf("%v allocations, want at most 1 (the string)", n)
	}
}

func BenchmarkID(b *testing.B) {
	h, _ := New([]byte("0123456789abcdef"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = h.ID("visitor-123")
		}
	})
}

func TestFingerprintNamesTheKeyWithoutRevealingIt(t *testing.T) {
	a, _ := New([]byte("0123456789abcdef-a"))
	b, _ := New([]byte("0123456789abcdef-b"))
	off, _ := New(nil)
	if a.Fingerprint() == b.Fingerprint() || a.Fingerprint() != a.Fingerprint() || off.Fingerprint() != "none" ||
		strings.Contains(a.Fingerprint(), "0123456789abcdef") {
		t.Fatalf("fingerprints %q %q %q", a.Fingerprint(), b.Fingerprint(), off.Fingerprint())
	}
}
