package apikey

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func keysFile(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func TestKeysAreFoundByTheirHashOnly(t *testing.T) {
	pub, adm := "recs_public-secret", "recs_admin-secret"
	kr, err := Parse(keysFile(
		"# role hash label origins",
		"",
		"public "+Hash(pub)+" shop-web https://shop.example http://127.0.0.1:8080",
		"  admin "+Hash(adm)+" ops-2026  ",
	))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := kr.Lookup([]byte(pub))
	if !ok || k.Role != RolePublic || k.Label != "shop-web" || !k.AllowsOrigin([]byte("https://shop.example")) || k.AllowsOrigin([]byte("https://evil.example")) {
		t.Fatalf("public key: %+v %v", k, ok)
	}
	if k, ok := kr.Lookup([]byte(adm)); !ok || k.Role != RoleAdmin || k.Label != "ops-2026" {
		t.Fatalf("admin key: %+v %v", k, ok)
	}
	for _, bad := range []string{"", "recs_public-secre", "recs_public-secrets", Hash(pub)} {
		if _, ok := kr.Lookup([]byte(bad)); ok {
			t.Fatalf("%q was accepted", bad)
		}
	}
	if kr.Len() != 2 || kr.Count(RolePublic) != 1 || kr.Count(RoleAdmin) != 1 {
		t.Fatalf("counts %d %d %d", kr.Len(), kr.Count(RolePublic), kr.Count(RoleAdmin))
	}
}

func TestBadKeysFilesAreRefusedWithTheLine(t *testing.T) {
	h := Hash("k")
	f := func(content, fragment string) {
		t.Helper()
		_, err := Parse([]byte(content))
		if err == nil || !strings.Contains(err.Error(), fragment) {
			t.Fatalf("%q: error %v, want it to mention %q", content, err, fragment)
		}
	}
	f("public "+h, "line 1: want `role sha256hex label")
	f("\nroot "+h+" x", "line 2: role \"root\" is unknown")
	f("public abc x", "64 hex digits")
	f("public "+h[:63]+"g x", "64 hex digits")
	f("public "+h+" bad/label", "may hold only letters")
	f("public "+h+" "+strings.Repeat("l", 65), "the limit is 64")
	f("admin "+h+" ops https://shop.example", "never be used from a browser")
	f("public "+h+" web shop.example", "must be scheme://host")
	f("public "+h+" web https://shop.example/path", "must be scheme://host")
	f("public "+h+" a\npublic "+Hash("j")+" a", "label \"a\" is already used on line 1")
	f("public "+h+" a "+strings.Repeat("x", 9000), "limited to 8192 bytes")
}

func TestNewKeysAreRandomAndLong(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New()
	if a == b || !strings.HasPrefix(a, "recs_") || len(a) != 5+43 {
		t.Fatalf("keys %q %q", a, b)
	}
}

// Rotation: the file changes under a running server; the new keyring is
// in force at the next look, a broken edit keeps the old one.
func TestKeysFileReloadsOnChangeAndKeepsKeysOnABadEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	write := func(content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(keysFile("admin " + Hash("old") + " ops-old"))
	loads := 0
	f, err := Open(path, slog.New(slog.NewTextHandler(io.Discard, nil)), func(*Keyring) { loads++ })
	if err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.Watch(ctx, time.Hour, reload); close(done) }()
	has := func(key string) bool { _, ok := f.Keyring().Lookup([]byte(key)); return ok }
	// Both keys overlap while clients move to the new one.
	write(keysFile("admin "+Hash("old")+" ops-old", "admin "+Hash("new")+" ops-new"))
	reload <- struct{}{}
	reload <- struct{}{} // the first reload has finished once the second is taken
	if !has("old") || !has("new") {
		t.Fatal("overlap: both keys must work")
	}
	write(keysFile("admin " + Hash("new") + " ops-new"))
	reload <- struct{}{}
	reload <- struct{}{}
	if has("old") || !has("new") {
		t.Fatal("the old key still works after its removal")
	}
	write([]byte("admin nothex ops"))
	reload <- struct{}{}
	reload <- struct{}{}
	if !has("new") {
		t.Fatal("a broken edit dropped the keys in force")
	}
	cancel()
	<-done
	if loads != 3 {
		t.Fatalf("%d keyrings put in force, want 3", loads)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), nil, nil); err == nil {
		t.Fatal("a missing keys file was accepted")
	}
}
