package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/recs-server/recs/catalog"
)

// The bulk reads of the server's cache warm-up (see recommend.WarmStore).

// CountItems returns how many items the catalogue holds.
func (s *Store) CountItems(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items), nil
}

// distinct returns ids without repeats, in first-seen order: an id asked
// twice comes back once.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// NeighborLists returns up to k neighbours of each of ids that has any in
// one table, in the order of ids; ids without neighbours are left out.
func (s *Store) NeighborLists(ctx context.Context, kind catalog.NeighborKind, ids []string, k int) ([]catalog.NeighborList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []catalog.NeighborList
	for _, id := range distinct(ids) {
		if l := s.listLocked(kind, id, k); len(l) > 0 {
			out = append(out, catalog.NeighborList{ItemID: id, Neighbors: slices.Clone(l[:min(k, len(l))])})
		}
	}
	return out, nil
}

// PopularLists returns up to k items of every popularity scope, in scope
// order.
func (s *Store) PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]catalog.PopularityList, 0, len(s.popularity))
	for scope, l := range s.popularity {
		out = append(out, catalog.PopularityList{Scope: scope, Items: slices.Clone(l[:min(k, len(l))])})
	}
	slices.SortFunc(out, func(a, b catalog.PopularityList) int { return cmp.Compare(a.Scope, b.Scope) })
	return out, nil
}

// ItemVectors returns the served vectors of those of ids that have one, in
// the order of ids.
func (s *Store) ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []catalog.ItemVector
	for _, id := range distinct(ids) {
		if v, ok := s.vectors[id]; ok {
			out = append(out, catalog.ItemVector{ItemID: id, Vector: slices.Clone(v)})
		}
	}
	return out, nil
}

// NearestToItems returns, for each of ids that has a vector, in the order
// of ids, what NearestItems returns for that vector: the k nearest items,
// the item itself included.
func (s *Store) NearestToItems(ctx context.Context, ids []string, k int) ([]catalog.NeighborList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []catalog.NeighborList
	for _, id := range distinct(ids) {
		v, ok := s.vectors[id]
		if !ok {
			continue
		}
		q, err := normalizedCopy(v)
		if err != nil {
			return nil, err
		}
		out = append(out, catalog.NeighborList{ItemID: id, Neighbors: s.nearestLocked(q, k)})
	}
	return out, nil
}
