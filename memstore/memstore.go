// Package memstore is the embedded, in-process store: the default when no
// database is configured, and the fast store for unit tests. It satisfies
// the same contract as the PostgreSQL store (see package storetest).
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
)

// Store keeps everything in memory behind one RWMutex: reads are cheap and
// parallel, writes are rare or batched.
type Store struct {
	mu       sync.RWMutex
	items    map[string]*catalog.Item
	events   []catalog.Event // sorted by (Time, ID)
	eventIDs map[string]struct{}
	// byUser keeps each user's newest events (at most maxUserEvents),
	// newest last, for profile lookups without a scan.
	byUser map[string][]catalog.Event
	users  map[string]catalog.User
	// erased are the tombstones of erased visitors (see EraseUser), by
	// the SHA-256 of their id; audit is the audit log, oldest first.
	erasedUsers, erasedSessions map[[32]byte]time.Time
	audit                       []catalog.AuditEntry

	vectors   map[string][]float32
	neighbors map[catalog.NeighborKind]map[string][]catalog.Scored
	// contentOf is the items whose content neighbours the build published
	// (catalog.Content lists), contentLen their length. Computed when
	// read, from the vectors: an exact scan, as NearestItems, and the
	// build's whole set at publication took N² dot products (seconds for
	// a few thousand items, minutes under the race detector).
	contentOf  map[string]bool
	contentLen int
	popularity map[string][]catalog.Scored
	builds     []catalog.BuildInfo // in publish order
	models     map[string]modelRecord
}

type modelRecord struct {
	blob []byte
	info catalog.BuildInfo
}

// New returns an empty store.
func New() *Store {
	return &Store{
		items:          make(map[string]*catalog.Item),
		eventIDs:       make(map[string]struct{}),
		byUser:         make(map[string][]catalog.Event),
		users:          make(map[string]catalog.User),
		erasedUsers:    make(map[[32]byte]time.Time),
		erasedSessions: make(map[[32]byte]time.Time),
		vectors:        make(map[string][]float32),
		neighbors:      make(map[catalog.NeighborKind]map[string][]catalog.Scored),
		popularity:     make(map[string][]catalog.Scored),
		models:         make(map[string]modelRecord),
	}
}

// Close does nothing; it exists so both stores can be closed alike.
func (s *Store) Close() {}

// Ping always succeeds: memory is always there.
func (s *Store) Ping(context.Context) error { return nil }

func cloneItem(it *catalog.Item) catalog.Item {
	c := *it
	c.Category = slices.Clone(it.Category)
	c.IncompatibleWith = slices.Clone(it.IncompatibleWith)
	c.Synthetic = slices.Clone(it.Synthetic)
	if it.Attributes != nil {
		c.Attributes = make(map[string]string, len(it.Attributes))
		for k, v := range it.Attributes {
			c.Attributes[k] = v
		}
	}
	return c
}

// UpsertItems inserts or replaces items by id; CreatedAt of an existing
// item is kept.
func (s *Store) UpsertItems(ctx context.Context, items []catalog.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range items {
		c := cloneItem(&items[i])
		if old, ok := s.items[c.ID]; ok {
			c.CreatedAt = old.CreatedAt
		} else if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = now
		}
		c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
		c.UpdatedAt = c.UpdatedAt.UTC().Truncate(time.Microsecond)
		s.items[c.ID] = &c
	}
	return nil
}

// Items returns the items that exist among ids, in the order asked.
func (s *Store) Items(ctx context.Context, ids []string) ([]catalog.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]catalog.Item, 0, len(ids))
	for _, id := range ids {
		if it, ok := s.items[id]; ok {
			out = append(out, cloneItem(it))
		}
	}
	return out, nil
}

// ScanItems calls fn for every item in id order.
func (s *Store) ScanItems(ctx context.Context, fn func(*catalog.Item) error) error {
	s.mu.RLock()
	ids := make([]string, 0, len(s.items))
	for id := range s.items {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	sort.Strings(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.RLock()
		it, ok := s.items[id]
		var c catalog.Item
		if ok {
			c = cloneItem(it)
		}
		s.mu.RUnlock()
		if !ok {
			continue
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

// UpdateStock sets stock levels and returns the ids not in the catalogue
// (each once), which are ignored.
func (s *Store) UpdateStock(ctx context.Context, updates []catalog.StockUpdate) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	var unknown []string
	for _, u := range updates {
		if it, ok := s.items[u.ItemID]; ok {
			c := cloneItem(it)
			c.Stock = u.Stock
			c.UpdatedAt = now
			s.items[u.ItemID] = &c
		} else if !slices.Contains(unknown, u.ItemID) {
			unknown = append(unknown, u.ItemID)
		}
	}
	return unknown, nil
}

func compareEvents(a, b *catalog.Event) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// AppendEvents stores events whose id is new and returns how many; an
// event of an erased visitor stamped at or before the erasure is dropped
// like a duplicate (see EraseUser). Events
// arrive roughly in time order (live traffic is "now"), so the log stays
// sorted by re-sorting only the tail from the oldest new event on: cheap,
// however long the log, so ingestion never stalls readers.
func (s *Store) AppendEvents(ctx context.Context, events []catalog.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := len(s.events)
	var oldest catalog.Event
	for i := range events {
		e := events[i]
		if _, dup := s.eventIDs[e.ID]; dup {
			continue
		}
		e.Items = slices.Clone(e.Items)
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		if s.erasedLocked(&e) {
			continue
		}
		s.events = append(s.events, e)
		s.eventIDs[e.ID] = struct{}{}
		if e.UserID != "" {
			s.addUserEvent(e)
		}
		if len(s.events) == old+1 || compareEvents(&e, &oldest) < 0 {
			oldest = e
		}
	}
	n := len(s.events) - old
	if n == 0 {
		return 0, nil
	}
	from := sort.Search(old, func(i int) bool { return compareEvents(&s.events[i], &oldest) > 0 })
	tail := s.events[from:]
	if !slices.IsSortedFunc(tail, func(a, b catalog.Event) int { return compareEvents(&a, &b) }) {
		slices.SortStableFunc(tail, func(a, b catalog.Event) int { return compareEvents(&a, &b) })
	}
	return n, nil
}

// ScanEvents calls fn for every event with from <= Time < to, in time order.
// The events passed to fn must not be modified.
func (s *Store) ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error {
	// Copy the window under the lock: AppendEvents may sort the shared
	// array in place.
	var window []catalog.Event
	s.mu.RLock()
	evs := s.events
	start := sort.Search(len(evs), func(i int) bool { return !evs[i].Time.Before(from) })
	end := sort.Search(len(evs), func(i int) bool { return !evs[i].Time.Before(to) })
	if start < end {
		window = slices.Clone(evs[start:end])
	}
	s.mu.RUnlock()
	for i := range window {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(&window[i]); err != nil {
			return err
		}
	}
	return nil
}

// UpsertUser inserts or replaces a user.
func (s *Store) UpsertUser(ctx context.Context, u catalog.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u.AnonymousIDs = slices.Clone(u.AnonymousIDs)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = time.Now()
	}
	u.UpdatedAt = u.UpdatedAt.UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	s.users[u.ID] = u
	s.mu.Unlock()
	return nil
}

// User returns the user with the id or catalog.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (catalog.User, error) {
	if err := ctx.Err(); err != nil {
		return catalog.User{}, err
	}
	s.mu.RLock()
	u, ok := s.users[id]
	s.mu.RUnlock()
	if !ok {
		return catalog.User{}, fmt.Errorf("user %q: %w", id, catalog.ErrNotFound)
	}
	u.AnonymousIDs = slices.Clone(u.AnonymousIDs)
	return u, nil
}

func normalizedCopy(v []float32) ([]float32, error) {
	if len(v) != catalog.EmbeddingDims {
		return nil, fmt.Errorf("vector has %d dimensions, want %d", len(v), catalog.EmbeddingDims)
	}
	c := slices.Clone(v)
	embeddings.Normalize(c)
	return c, nil
}

// PutItemVectors sets the served vectors of some items (e.g. new items that
// need a content vector before the next build).
func (s *Store) PutItemVectors(ctx context.Context, vecs []catalog.ItemVector) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	norm := make([][]float32, len(vecs))
	for i, v := range vecs {
		c, err := normalizedCopy(v.Vector)
		if err != nil {
			return fmt.Errorf("item %q: %w", v.ItemID, err)
		}
		norm[i] = c
	}
	s.mu.Lock()
	for i, v := range vecs {
		s.vectors[v.ItemID] = norm[i]
		// Its content list was the build's, from the old vector.
		delete(s.neighbors[catalog.Content], v.ItemID)
		delete(s.contentOf, v.ItemID)
	}
	s.mu.Unlock()
	return nil
}

// NearestItems returns the k items whose vectors are most cosine-similar to
// vec, best first, scored by similarity. It scans every vector: exact, and
// fast enough for the catalogue sizes the embedded store is meant for.
func (s *Store) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := normalizedCopy(vec)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nearestLocked(q, k), nil
}

// nearestLocked scans every vector for the k nearest to the unit vector
// q; the caller holds s.mu.
func (s *Store) nearestLocked(q []float32, k int) []catalog.Scored {
	return nearestIn(s.vectors, q, k)
}

// nearestIn scans vecs for the k nearest to the unit vector q.
func nearestIn(vecs map[string][]float32, q []float32, k int) []catalog.Scored {
	top := embeddings.NewTopK(k)
	for id, v := range vecs {
		top.Push(id, float64(embeddings.Dot(q, v)))
	}
	return top.Sorted()
}

// PublishBuild replaces the derived data with the build's, atomically
// under the write lock. Parts the build leaves nil (Vectors, Neighbors,
// Popularity) are kept from the previous build.
func (s *Store) PublishBuild(ctx context.Context, b *catalog.Build) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := catalog.CheckID("build version", b.Version); err != nil {
		return err
	}
	var vecs map[string][]float32
	if b.Vectors != nil {
		vecs = make(map[string][]float32, len(b.Vectors))
		for _, v := range b.Vectors {
			c, err := normalizedCopy(v.Vector)
			if err != nil {
				return fmt.Errorf("item %q: %w", v.ItemID, err)
			}
			vecs[v.ItemID] = c
		}
	}
	var nbs map[catalog.NeighborKind]map[string][]catalog.Scored
	if b.Neighbors != nil {
		nbs = make(map[catalog.NeighborKind]map[string][]catalog.Scored, len(b.Neighbors))
		for kind, lists := range b.Neighbors {
			m := make(map[string][]catalog.Scored, len(lists))
			for _, l := range lists {
				m[l.ItemID] = slices.Clone(l.Neighbors)
			}
			nbs[kind] = m
		}
	}
	if err := b.CheckContentNeighbors(); err != nil {
		return err
	}
	var contentOf map[string]bool
	if len(b.ContentNeighborsOf) > 0 {
		contentOf = make(map[string]bool)
		for _, id := range b.ContentNeighborsOf {
			if _, ok := vecs[id]; ok {
				contentOf[id] = true
			}
		}
		delete(nbs, catalog.Content)
	}
	var pop map[string][]catalog.Scored
	if b.Popularity != nil {
		pop = make(map[string][]catalog.Scored, len(b.Popularity))
		for _, l := range b.Popularity {
			pop[l.Scope] = slices.Clone(l.Items)
		}
	}
	info := catalog.BuildInfo{
		Version:   b.Version,
		CreatedAt: b.CreatedAt.UTC().Truncate(time.Microsecond),
		DataFrom:  b.DataFrom.UTC().Truncate(time.Microsecond),
		DataTo:    b.DataTo.UTC().Truncate(time.Microsecond),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, bi := range s.builds {
		if bi.Version == b.Version {
			return fmt.Errorf("build %q is already published", b.Version)
		}
	}
	if vecs != nil {
		s.vectors = vecs
	}
	if nbs != nil {
		s.neighbors = nbs
		s.contentOf, s.contentLen = contentOf, b.ContentListLen
	}
	if pop != nil {
		s.popularity = pop
	}
	for _, m := range b.Models {
		s.models[m.Kind] = modelRecord{blob: slices.Clone(m.Blob), info: info}
	}
	s.builds = append(s.builds, info)
	return nil
}

// LatestBuild describes the newest published build or returns
// catalog.ErrNotFound.
func (s *Store) LatestBuild(ctx context.Context) (catalog.BuildInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.builds) == 0 {
		return catalog.BuildInfo{}, fmt.Errorf("build: %w", catalog.ErrNotFound)
	}
	return s.builds[len(s.builds)-1], nil
}

// Neighbors returns up to k neighbours of an item from one table, best
// first; none (and no error) when the item has none.
func (s *Store) Neighbors(ctx context.Context, kind catalog.NeighborKind, itemID string, k int) ([]catalog.Scored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	l := s.listLocked(kind, itemID, k)
	s.mu.RUnlock()
	return slices.Clone(l[:min(k, len(l))]), nil
}

// listLocked is an item's list of a kind, up to k entries or more; the
// caller holds s.mu.
func (s *Store) listLocked(kind catalog.NeighborKind, itemID string, k int) []catalog.Scored {
	if kind == catalog.Content && s.contentOf[itemID] {
		return nearestIn(s.vectors, s.vectors[itemID], min(k, s.contentLen))
	}
	return s.neighbors[kind][itemID]
}

// Popular returns up to k items of a popularity scope, best first.
func (s *Store) Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	l := s.popularity[scope]
	s.mu.RUnlock()
	return slices.Clone(l[:min(k, len(l))]), nil
}

// Model returns the newest blob of a model kind and the build that made
// it, or catalog.ErrNotFound.
func (s *Store) Model(ctx context.Context, kind string) ([]byte, catalog.BuildInfo, error) {
	s.mu.RLock()
	m, ok := s.models[kind]
	s.mu.RUnlock()
	if !ok {
		return nil, catalog.BuildInfo{}, fmt.Errorf("model %q: %w", kind, catalog.ErrNotFound)
	}
	return slices.Clone(m.blob), m.info, nil
}

// LatestEventTime returns the time of the newest stored event, or the zero
// time when there are none.
func (s *Store) LatestEventTime(context.Context) (time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.events) == 0 {
		return time.Time{}, nil
	}
	return s.events[len(s.events)-1].Time, nil
}

// ItemVector returns an item's served vector, or catalog.ErrNotFound.
func (s *Store) ItemVector(ctx context.Context, itemID string) ([]float32, error) {
	s.mu.RLock()
	v, ok := s.vectors[itemID]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("vector of %q: %w", itemID, catalog.ErrNotFound)
	}
	return slices.Clone(v), nil
}

// maxUserEvents bounds the per-user index of the embedded store.
const maxUserEvents = 50

func (s *Store) addUserEvent(e catalog.Event) {
	l := append(s.byUser[e.UserID], e)
	for i := len(l) - 1; i > 0 && compareEvents(&l[i], &l[i-1]) < 0; i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	if len(l) > maxUserEvents {
		l = slices.Delete(l, 0, len(l)-maxUserEvents)
	}
	s.byUser[e.UserID] = l
}

// UserEvents returns up to limit of a user's newest events, newest first.
func (s *Store) UserEvents(ctx context.Context, userID string, limit int) ([]catalog.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	l := s.byUser[userID]
	out := make([]catalog.Event, 0, min(limit, len(l)))
	for i := len(l) - 1; i >= 0 && len(out) < limit; i-- {
		e := l[i]
		e.Items = slices.Clone(e.Items)
		out = append(out, e)
	}
	s.mu.RUnlock()
	return out, nil
}
