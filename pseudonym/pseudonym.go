// Package pseudonym replaces visitor identifiers (user, session and order
// ids) by keyed hashes before anything stores or remembers them, so the
// events recs holds cannot be linked back to a shopper without the key,
// which lives in configuration, never in the database. The same raw id
// always maps to the same pseudonym, so profiles, look-ups and erasure
// work on pseudonyms alone.
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sync"

	"github.com/recs-server/recs/catalog"
)

// MinKeyLen is the shortest key accepted: 16 bytes (128 bits) of secret.
const MinKeyLen = 16

// Size is the length of a pseudonym: 32 hex digits (128 bits of the
// HMAC-SHA256), well inside catalog.MaxIDLen; collisions are as unlikely
// as guessing a 128-bit key.
const Size = 32

// Hasher maps raw identifiers to pseudonyms with HMAC-SHA256. The zero
// value and a Hasher made without a key leave ids unchanged (pseudonymi-
// sation off); Enabled tells which.
type Hasher struct {
	key  []byte
	pool sync.Pool // of *mac: one per goroutine at a time
}

// mac is an HMAC with the key and scratch space, so hashing allocates
// nothing on the request path.
type mac struct {
	h   hash.Hash
	in  []byte
	sum []byte
}

// New returns a Hasher with the key; an empty key turns pseudonymisation
// off. A key shorter than MinKeyLen is an error.
func New(key []byte) (*Hasher, error) {
	h := &Hasher{}
	if len(key) == 0 {
		return h, nil
	}
	if len(key) < MinKeyLen {
		return nil, errors.New("pseudonymisation key is too short: give at least 16 bytes (e.g. 32 random bytes, hex-encoded)")
	}
	h.key = append([]byte(nil), key...)
	h.pool.New = func() any { return &mac{h: hmac.New(sha256.New, h.key), sum: make([]byte, 0, sha256.Size)} }
	return h, nil
}

// Enabled reports whether ids are hashed.
func (h *Hasher) Enabled() bool { return h != nil && len(h.key) > 0 }

// ID returns the pseudonym of a raw id; "" stays "".
func (h *Hasher) ID(raw string) string {
	if raw == "" || !h.Enabled() {
		return raw
	}
	var buf [Size]byte
	return string(h.Append(buf[:0], raw))
}

// Append appends the pseudonym of raw (non-empty) to dst.
func (h *Hasher) Append(dst []byte, raw string) []byte {
	if !h.Enabled() {
		return append(dst, raw...)
	}
	m := h.pool.Get().(*mac)
	m.h.Reset()
	m.in = append(m.in[:0], raw...)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	dst = hex.AppendEncode(dst, m.sum[:Size/2])
	if cap(m.in) <= 4*catalog.MaxIDLen { // keep no giant buffer alive
		h.pool.Put(m)
	}
	return dst
}

// Event makes an event fit to store: ids dropped when it was sent without
// consent (catalog.Event.ApplyConsent), the rest replaced by pseudonyms.
// Order ids are pseudonymised too: they lead to the shop's order system,
// which knows the shopper; equal orders keep equal pseudonyms, so
// co-purchases and refunds still match up.
func (h *Hasher) Event(e *catalog.Event) {
	e.ApplyConsent()
	e.SessionID = h.ID(e.SessionID)
	e.UserID = h.ID(e.UserID)
	e.OrderID = h.ID(e.OrderID)
}

// Fingerprint names the key without revealing it, so a store can record
// which key pseudonymised its ids and refuse another: "none" when
// pseudonymisation is off.
func (h *Hasher) Fingerprint() string {
	if !h.Enabled() {
		return "none"
	}
	return "hmac-sha256:" + h.ID("recs id-key fingerprint v1")
}
