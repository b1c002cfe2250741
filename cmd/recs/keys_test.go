package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/recs-server/recs/apikey"
)

// stdout runs fn with the standard output captured.
func stdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	err = fn()
	os.Stdout = old
	w.Close()
	out := <-done
	if err != nil {
		t.Fatalf("%v (output %q)", err, out)
	}
	return out
}

// `recs keys new` prints a key and a keys-file line that accepts exactly
// that key, with the role, label and origins asked for.
func TestKeysNewPrintsAKeyAndItsLine(t *testing.T) {
	out := stdout(t, func() error {
		return keysCmd([]string{"new", "--role", "public", "--label", "shop-web", "--origins", "https://shop.example, https://m.shop.example"})
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("output:\n%s", out)
	}
	key, line := strings.TrimSpace(lines[1]), strings.TrimSpace(lines[3])
	kr, err := apikey.Parse([]byte(line))
	if err != nil {
		t.Fatalf("the printed line %q is not a keys-file line: %v", line, err)
	}
	k, ok := kr.Lookup([]byte(key))
	if !ok || k.Role != apikey.RolePublic || k.Label != "shop-web" || !k.AllowsOrigin([]byte("https://m.shop.example")) {
		t.Fatalf("key %q, line %q: %+v %v", key, line, k, ok)
	}
	if strings.Contains(line, key) {
		t.Fatal("the keys-file line holds the key itself")
	}
	for _, bad := range [][]string{
		{"new", "--label", "x", "--role", "root"},
		{"new", "--role", "admin", "--label", "ops", "--origins", "https://shop.example"},
		{"new", "--role", "public"},
		{"rotate"},
		{},
	} {
		var ue usageError
		if err := keysCmd(bad); err == nil || !errors.As(err, &ue) {
			t.Fatalf("recs keys %v: %v, want a usage error", bad, err)
		}
	}
}
