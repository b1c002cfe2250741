// Package embeddings holds the vector math recs uses for item and session
// vectors, and (later) the building of those vectors. It does no I/O.
package embeddings

import "math"

// Dot returns the dot product of a and b, which must have equal length.
// Four independent partial sums keep the floating-point pipeline busy.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i, x := range a {
		s0 += x * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Normalize scales v in place to unit length; a zero vector stays zero.
func Normalize(v []float32) {
	n := math.Sqrt(float64(Dot(v, v)))
	if n == 0 {
		return
	}
	inv := float32(1 / n)
	for i := range v {
		v[i] *= inv
	}
}

// Cosine returns the cosine similarity of a and b in [-1, 1]; 0 when either
// is the zero vector.
func Cosine(a, b []float32) float64 {
	ab, aa, bb := float64(Dot(a, b)), float64(Dot(a, a)), float64(Dot(b, b))
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
