// Package session keeps each visitor's recent interactions in memory, so
// the next request reflects an event the moment it is stored. It is
// bounded in the number of visitors.
package session

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recs-server/recs/catalog"
)

// MaxRecent is how many interactions are kept per visitor: the last 5-20
// actions carry the session's intent.
const MaxRecent = 20

// Interaction is one thing a visitor did with an item.
type Interaction struct {
	ItemID string
	Type   catalog.EventType
	Time   time.Time
	// Number is the item's number when Numbered (see Store.NumberItems),
	// looked up when the interaction was recorded: every request of the
	// visitor reads it, and a lookup by id is a probe of a map as large
	// as the catalogue.
	Number   uint32
	Numbered bool
}

// state is one visitor's recent interactions, newest last.
type state struct {
	mu     sync.Mutex
	recent []Interaction
}

// Store maps visitor keys (session ids and user ids) to their recent
// interactions, in shards so concurrent requests rarely share a lock. A
// full shard evicts a random visitor: cheap, and fair enough when the bound
// is sized for the visitors of the last hours.
type Store struct {
	shards   [shardCount]shard
	perShard int
	// anyErased skips the erasure check while nobody was erased.
	anyErased atomic.Bool
	numberOf  func(id string) (uint32, bool)
}

const shardCount = 64

type shard struct {
	mu sync.Mutex
	m  map[string]*state
	// erased holds the visitors erased while this process runs, with the
	// erasure's time: their interactions stamped at or before it are not
	// taken again (an event that raced the erasure, a late retry). Bounded
	// like m; the store's tombstones are the lasting guard.
	erased map[string]time.Time
}

// New returns a store of about maxVisitors visitors at most.
func New(maxVisitors int) (*Store, error) {
	if maxVisitors < shardCount {
		return nil, fmt.Errorf("session store: max visitors %d is below the minimum %d", maxVisitors, shardCount)
	}
	s := &Store{perShard: maxVisitors / shardCount}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*state)
		s.shards[i].erased = make(map[string]time.Time)
	}
	return s, nil
}

// NumberItems makes the store give interactions the item numbers numberOf
// knows when they are recorded. Call it before the store is used.
func (s *Store) NumberItems(numberOf func(id string) (uint32, bool)) { s.numberOf = numberOf }

// numbered sets the item numbers of xs.
func (s *Store) numbered(xs []Interaction) {
	if s.numberOf == nil {
		return
	}
	for i := range xs {
		xs[i].Number, xs[i].Numbered = s.numberOf(xs[i].ItemID)
	}
}

// Keys of a visitor: a session and a signed-in user are tracked apart, so
// a user's history follows them across sessions.
func SessionKey(id string) string { return "s:" + id }
func UserKey(id string) string    { return "u:" + id }

func (s *Store) shard(key string) *shard {
	// FNV-1a: keys are short, and this runs on every request.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &s.shards[h%shardCount]
}

func (s *Store) get(key string, create bool) *state {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[key]
	if st != nil || !create {
		return st
	}
	if len(sh.m) >= s.perShard {
		for k := range sh.m { // map order is random: a random victim
			delete(sh.m, k)
			break
		}
	}
	st = &state{}
	sh.m[key] = st
	return st
}

// Record adds an event's items to the session's and the user's recent
// interactions. Searches carry no items and are ignored.
func (s *Store) Record(e *catalog.Event) {
	if len(e.Items) == 0 || s.erased(e) {
		return
	}
	xs := make([]Interaction, len(e.Items))
	for i, li := range e.Items {
		xs[i] = Interaction{ItemID: li.ItemID, Type: e.Type, Time: e.Time}
	}
	s.numbered(xs)
	for _, key := range [2]string{sessionKeyOf(e), userKeyOf(e)} {
		if key == "" {
			continue
		}
		st := s.get(key, true)
		st.mu.Lock()
		st.recent = append(st.recent, xs...)
		slices.SortStableFunc(st.recent, func(a, b Interaction) int { return a.Time.Compare(b.Time) })
		if n := len(st.recent); n > MaxRecent {
			st.recent = slices.Delete(st.recent, 0, n-MaxRecent)
		}
		st.mu.Unlock()
	}
}

func sessionKeyOf(e *catalog.Event) string {
	if e.SessionID == "" {
		return ""
	}
	return SessionKey(e.SessionID)
}

func userKeyOf(e *catalog.Event) string {
	if e.UserID == "" {
		return ""
	}
	return UserKey(e.UserID)
}

// Recent appends to dst the recent interactions of the session and the
// user (either may be empty), newest first, without repeats of an item.
func (s *Store) Recent(sessionID, userID string, dst []Interaction) []Interaction {
	dst, _ = s.RecentAndUser(sessionID, userID, dst)
	return dst
}

// RecentAndUser is Recent, and whether the store holds the user (as
// HasUser, without a second lookup: a request asks both).
func (s *Store) RecentAndUser(sessionID, userID string, dst []Interaction) ([]Interaction, bool) {
	start := len(dst)
	userKnown := false
	for i, key := range [2]string{keyOr(SessionKey, sessionID), keyOr(UserKey, userID)} {
		if key == "" {
			continue
		}
		st := s.get(key, false)
		if st == nil {
			continue
		}
		userKnown = userKnown || i == 1
		st.mu.Lock()
		dst = appendNewestFirst(slices.Grow(dst, len(st.recent)), st.recent)
		st.mu.Unlock()
	}
	got := dst[start:]
	// Each list is in order now, so this only merges the session's and
	// the user's: sorting the lists oldest first was 1 % of the server's
	// CPU under load (an insertion sort of reversed input).
	slices.SortStableFunc(got, func(a, b Interaction) int { return b.Time.Compare(a.Time) })
	// Keep each item's newest interaction only.
	out := got[:0]
	for i, x := range got {
		if !slices.ContainsFunc(got[:i], func(y Interaction) bool { return sameItem(x, y) }) {
			out = append(out, x)
		}
	}
	return dst[:start+len(out)], userKnown
}

// appendNewestFirst appends l (oldest first) to dst newest first,
// interactions of one time in their order in l: as a stable sort of l by
// time, newest first, orders them.
func appendNewestFirst(dst, l []Interaction) []Interaction {
	for end := len(l); end > 0; {
		start := end - 1
		for start > 0 && l[start-1].Time.Compare(l[end-1].Time) == 0 {
			start--
		}
		dst = append(dst, l[start:end]...)
		end = start
	}
	return dst
}

// sameItem reports whether two interactions name one item: by number when
// both have one (a number stands for one id), else by id.
func sameItem(x, y Interaction) bool {
	if x.Numbered && y.Numbered {
		return x.Number == y.Number
	}
	return x.ItemID == y.ItemID
}

func keyOr(f func(string) string, id string) string {
	if id == "" {
		return ""
	}
	return f(id)
}

// Forget drops a visitor's state (erasure, consent withdrawn).
func (s *Store) Forget(sessionID, userID string) {
	for _, key := range [2]string{keyOr(SessionKey, sessionID), keyOr(UserKey, userID)} {
		if key == "" {
			continue
		}
		sh := s.shard(key)
		sh.mu.Lock()
		delete(sh.m, key)
		sh.mu.Unlock()
	}
}

// Erase drops an erased shopper's state: the user's and the linked
// sessions'. Until the process ends (or the bound evicts the mark), an
// interaction of theirs stamped at or before at is not taken again, the
// same rule the stores apply (an event of a user is judged by the user, an
// event without one by its session).
func (s *Store) Erase(userID string, sessionIDs []string, at time.Time) {
	keys := make([]string, 0, len(sessionIDs)+1)
	if userID != "" {
		keys = append(keys, UserKey(userID))
	}
	for _, id := range sessionIDs {
		keys = append(keys, SessionKey(id))
	}
	s.anyErased.Store(true)
	for _, key := range keys {
		sh := s.shard(key)
		sh.mu.Lock()
		delete(sh.m, key)
		if old, ok := sh.erased[key]; !ok || old.Before(at) {
			if len(sh.erased) >= s.perShard {
				for k := range sh.erased {
					delete(sh.erased, k)
					break
				}
			}
			sh.erased[key] = at
		}
		sh.mu.Unlock()
	}
}

// erasedAt returns the erasure time of a visitor key, if erased.
func (s *Store) erasedAt(key string) (time.Time, bool) {
	if !s.anyErased.Load() {
		return time.Time{}, false
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	at, ok := sh.erased[key]
	return at, ok
}

// erased reports whether an event belongs to an erased visitor and is
// stamped at or before the erasure.
func (s *Store) erased(e *catalog.Event) bool {
	if !s.anyErased.Load() {
		return false
	}
	key := userKeyOf(e)
	if key == "" {
		key = sessionKeyOf(e)
	}
	if key == "" {
		return false
	}
	at, ok := s.erasedAt(key)
	return ok && !e.Time.After(at)
}

// HasUser reports whether a user's state is in memory (possibly empty).
func (s *Store) HasUser(userID string) bool { return s.get(UserKey(userID), false) != nil }

// SeedUser adds a user's history loaded from the store (after a restart,
// or when the user was evicted) to whatever arrived meanwhile.
func (s *Store) SeedUser(userID string, history []Interaction) {
	history = slices.Clone(history) // numbered below, and maybe cut
	if at, ok := s.erasedAt(UserKey(userID)); ok {
		// Loaded before an erasure that ran meanwhile.
		history = slices.DeleteFunc(history, func(x Interaction) bool { return !x.Time.After(at) })
	}
	s.numbered(history)
	st := s.get(UserKey(userID), true)
	st.mu.Lock()
	st.recent = append(st.recent, history...)
	slices.SortStableFunc(st.recent, func(a, b Interaction) int { return a.Time.Compare(b.Time) })
	if n := len(st.recent); n > MaxRecent {
		st.recent = slices.Delete(st.recent, 0, n-MaxRecent)
	}
	st.mu.Unlock()
}
