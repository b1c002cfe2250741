// Package apikey holds the API keys recs accepts: a keys file of role,
// SHA-256 of the key, label and (for public keys) the storefront origins
// that may use it. Keys are stored only as hashes and compared in
// constant time; the file is re-read when it changes, so keys rotate
// without a restart (add the new key, deploy it, remove the old one).
package apikey

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// Role is what a key may do.
type Role uint8

const (
	// RolePublic reads recommendations and sends events, from browsers of
	// the key's origins or from servers.
	RolePublic Role = iota + 1
	// RoleAdmin also changes the catalogue and stock, erases shoppers,
	// reads metrics and the audit log; never from a browser.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RolePublic:
		return "public"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", r)
}

// Key is one accepted key: its role, a label that names it in logs, the
// audit log and rate limits (never the key itself), and for public keys
// the browser origins allowed to use it ("*": any).
type Key struct {
	Role    Role
	Label   string
	Origins []string
	hash    [sha256.Size]byte
}

// AllowsOrigin reports whether a browser on origin may use the key.
func (k *Key) AllowsOrigin(origin []byte) bool {
	for _, o := range k.Origins {
		if o == "*" || o == string(origin) {
			return true
		}
	}
	return false
}

// Keyring is a parsed keys file. It is immutable: a reload makes a new one.
type Keyring struct {
	keys []Key
}

// Limits of a keys file.
const (
	MaxKeys     = 1000
	MaxLabelLen = 64
	MaxOrigins  = 32
	maxLineLen  = 8192
)

// Parse reads a keys file: one key a line, `role sha256hex label
// [origin ...]`; blank lines and lines starting with # are ignored. Every
// problem is reported with its line number; a file with any problem is
// refused whole, so a typo cannot lock out or open up the API.
func Parse(b []byte) (*Keyring, error) {
	kr := &Keyring{}
	labels := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), maxLineLen)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("keys file line %d: %w", n, err)
		}
		if prev, dup := labels[k.Label]; dup {
			return nil, fmt.Errorf("keys file line %d: label %q is already used on line %d; labels name keys in the audit log, so they must differ", n, k.Label, prev)
		}
		labels[k.Label] = n
		if len(kr.keys) == MaxKeys {
			return nil, fmt.Errorf("keys file line %d: more than %d keys", n, MaxKeys)
		}
		kr.keys = append(kr.keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keys file: %w (lines are limited to %d bytes)", err, maxLineLen)
	}
	return kr, nil
}

func parseLine(line string) (Key, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return Key{}, fmt.Errorf("want `role sha256hex label [origin ...]`, got %d fields", len(f))
	}
	var k Key
	switch f[0] {
	case "public":
		k.Role = RolePublic
	case "admin":
		k.Role = RoleAdmin
	default:
		return Key{}, fmt.Errorf("role %q is unknown: want public or admin", f[0])
	}
	h, err := hex.DecodeString(f[1])
	if err != nil || len(h) != sha256.Size {
		return Key{}, fmt.Errorf("the key hash must be 64 hex digits (the SHA-256 of the key; `recs keys hash` prints it), got %q", truncate(f[1]))
	}
	copy(k.hash[:], h)
	k.Label = f[2]
	if err := checkLabel(k.Label); err != nil {
		return Key{}, err
	}
	origins := f[3:]
	if k.Role == RoleAdmin && len(origins) > 0 {
		return Key{}, fmt.Errorf("admin key %q lists origins: admin keys must never be used from a browser", k.Label)
	}
	if len(origins) > MaxOrigins {
		return Key{}, fmt.Errorf("key %q lists %d origins, the limit is %d", k.Label, len(origins), MaxOrigins)
	}
	for _, o := range origins {
		if err := CheckOrigin(o); err != nil {
			return Key{}, fmt.Errorf("key %q: %w", k.Label, err)
		}
	}
	k.Origins = origins
	return k, nil
}

func checkLabel(l string) error {
	if len(l) > MaxLabelLen {
		return fmt.Errorf("label is %d bytes long, the limit is %d", len(l), MaxLabelLen)
	}
	for _, c := range []byte(l) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("label %q may hold only letters, digits, '-', '_' and '.'", truncate(l))
		}
	}
	return nil
}

// CheckOrigin validates a browser origin as a key or flag lists it:
// scheme://host[:port] with no path, or "*".
func CheckOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("origin %q must be scheme://host[:port] with no path, e.g. https://shop.example", truncate(o))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Len is the number of keys; Count the number with a role.
func (kr *Keyring) Len() int { return len(kr.keys) }

func (kr *Keyring) Count(r Role) int {
	n := 0
	for i := range kr.keys {
		if kr.keys[i].Role == r {
			n++
		}
	}
	return n
}

// AllowsOrigin reports whether some public key may be used from a
// browser on origin, so the server can answer that browser's CORS
// checks without the origin being configured twice.
func (kr *Keyring) AllowsOrigin(origin []byte) bool {
	for i := range kr.keys {
		if kr.keys[i].Role == RolePublic && kr.keys[i].AllowsOrigin(origin) {
			return true
		}
	}
	return false
}

// Lookup returns the key whose hash matches the presented key. Every entry
// is compared, in constant time, whether or not one matched earlier, so
// the time taken tells nothing about which keys exist.
func (kr *Keyring) Lookup(presented []byte) (*Key, bool) {
	if len(presented) == 0 {
		return nil, false
	}
	h := sha256.Sum256(presented)
	found := -1
	for i := range kr.keys {
		if subtle.ConstantTimeCompare(h[:], kr.keys[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, false
	}
	return &kr.keys[found], true
}

// Hash returns the keys-file form of a key: the hex SHA-256.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// New returns a fresh random key: "recs_" and 32 random bytes in
// URL-safe base64 (256 bits).
func New() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "recs_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
