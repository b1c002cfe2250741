package ranker

import "iter"

// All yields every item with statistics, in no particular order (the
// server's cache warm-up ranks items by them).
func (s *Stats) All() iter.Seq2[string, ItemStats] {
	return func(yield func(string, ItemStats) bool) {
		if s == nil {
			return
		}
		for id, st := range s.byID {
			if !yield(id, st) {
				return
			}
		}
	}
}
