// Package partial orders the best few of many: a request ranks several
// hundred fused candidates and shows ten, so sorting them all is wasted.
package partial

import "slices"

// SortPrefix reorders s so that s[:k] hold its k first elements by cmp,
// in cmp's order, as a full sort would place them when cmp is a total
// order; the rest follow in no particular order. It costs about
// len(s) + k log k comparisons instead of len(s) log len(s).
func SortPrefix[T any](s []T, k int, cmp func(a, b T) int) {
	if k >= len(s) {
		slices.SortFunc(s, cmp)
		return
	}
	if k <= 0 {
		return
	}
	Select(s, k, cmp)
	slices.SortFunc(s[:k], cmp)
}

// Select reorders s so that s[:k] hold its k first elements by cmp, in
// no particular order, and the rest follow: for when only which elements
// lead matters, not their order. About len(s) comparisons.
func Select[T any](s []T, k int, cmp func(a, b T) int) {
	if k <= 0 || k >= len(s) {
		return
	}
	// Quickselect: everything before lo precedes everything in [lo, hi),
	// and everything from hi on follows it; the k-th is in [lo, hi).
	lo, hi := 0, len(s)
	for hi-lo > 16 {
		p := lo + partition(s[lo:hi], cmp)
		switch {
		case p == k:
			lo, hi = k, k
		case p < k:
			lo = p + 1
		default:
			hi = p
		}
	}
	slices.SortFunc(s[lo:hi], cmp)
}

// partition puts a pivot (the median of the first, middle and last
// elements) at its sorted place, those before it by cmp in front and the
// rest behind, and returns that place.
func partition[T any](s []T, cmp func(a, b T) int) int {
	m, last := len(s)/2, len(s)-1
	if cmp(s[m], s[0]) < 0 {
		s[m], s[0] = s[0], s[m]
	}
	if cmp(s[last], s[m]) < 0 {
		s[last], s[m] = s[m], s[last]
		if cmp(s[m], s[0]) < 0 {
			s[m], s[0] = s[0], s[m]
		}
	}
	s[m], s[last] = s[last], s[m] // the median, as pivot, to the end
	i := 0
	for j := range last {
		if cmp(s[j], s[last]) < 0 {
			s[i], s[j] = s[j], s[i]
			i++
		}
	}
	s[i], s[last] = s[last], s[i]
	return i
}
