package embeddings

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Int8 is a vector held as one int8 per component times a scale, a
// quarter of the memory of []float32, for vectors kept in memory to
// serve requests. A million 128-dimension item vectors are 512 MB as
// float32, the largest part of the server's heap at that catalogue size,
// and 128 MB as Int8.
//
// Each component is rounded to the nearest of 255 steps between minus
// and plus the largest magnitude, so it is off by at most half a step
// (1/254 of that magnitude). For unit vectors in 128 dimensions that
// moved a cosine by 0.002 at most (TestInt8KeepsVectorsWithinHalfAStep).
// Serving ranks candidates by cosine to a session's vector and searches
// an item's neighbours with its vector. Measured with the server's cache
// holding Int8 instead of float32: the session vectors' recall against
// the exact search 0.9782 against 0.9793
// (TestSessionVectorFindsWhatAFullSearchFinds), and the offline
// evaluation on Online Retail the same to the third decimal (basket
// NDCG@20 0.2171 both; for_you 0.1004 against 0.1003).
//
// The zero Int8 is no vector.
type Int8 struct {
	q     []int8
	scale float32
	// invLen is 1/|q|, kept so that a cosine is one pass of products
	// (it fits the struct's padding: no more memory).
	invLen float32
}

// QuantizeInt8 returns v as an Int8; nil or empty v gives the zero Int8.
func QuantizeInt8(v []float32) Int8 {
	if len(v) == 0 {
		return Int8{}
	}
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	q := make([]int8, len(v))
	if maxAbs == 0 || math.IsInf(float64(maxAbs), 0) || math.IsNaN(float64(maxAbs)) {
		return Int8{q: q}
	}
	inv := 127 / maxAbs
	for i, x := range v {
		q[i] = int8(math.Round(float64(x * inv)))
	}
	var qq float64
	for _, x := range q {
		qq += float64(x) * float64(x)
	}
	return Int8{q: q, scale: maxAbs / 127, invLen: float32(1 / math.Sqrt(qq))}
}

// Len is the number of components; 0 for no vector.
func (v Int8) Len() int { return len(v.q) }

// Float32 returns the vector's components as float32 (a new slice); nil
// for no vector.
func (v Int8) Float32() []float32 {
	if v.q == nil {
		return nil
	}
	out := make([]float32, len(v.q))
	for i, x := range v.q {
		out[i] = float32(x) * v.scale
	}
	return out
}

// AddScaled adds w times v to dst, which must be as long as v.
func (v Int8) AddScaled(dst []float32, w float32) {
	ws := w * v.scale
	dst = dst[:len(v.q)]
	for i, x := range v.q {
		dst[i] += ws * float32(x)
	}
}

// CosineToUnit returns the cosine similarity of v and unit, a vector of
// length 1 (Normalize it once, not per call: a session vector is compared
// with hundreds of candidates). ok is false when v is the zero vector or
// the lengths differ.
func (v Int8) CosineToUnit(unit []float32) (cos float64, ok bool) {
	if len(unit) != len(v.q) || v.invLen == 0 {
		return 0, false
	}
	// Four sums, so that each addition need not wait for the one before:
	// with the length kept, 2x faster than one sum and the length computed
	// per call (BenchmarkInt8CosineToUnit: 38 against 78 us for 800).
	q := v.q
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(q); i += 4 {
		u, x := unit[i:i+4:i+4], q[i:i+4:i+4]
		s0 += u[0] * float32(x[0])
		s1 += u[1] * float32(x[1])
		s2 += u[2] * float32(x[2])
		s3 += u[3] * float32(x[3])
	}
	for ; i < len(q); i++ {
		s0 += unit[i] * float32(q[i])
	}
	return float64((s0+s1)+(s2+s3)) * float64(v.invLen), true
}

// int8BlockHeader is the bytes before a block's components: their count,
// the scale and 1/length, little-endian.
const int8BlockHeader = 12

// zeroInt8Block is the block of the zero Int8 (never written).
var zeroInt8Block = make([]int8, 16)

// Block returns v as one array, a 12-byte header (components, scale,
// 1/length) and the components, by its first element: for a cache that
// holds vectors as single objects without pointers (cache.Vectors), where
// an Int8 on the heap was a 32-byte header with a pointer, marked at
// every garbage collection. Int8OfBlock reads it back; the array is never
// written again.
func (v Int8) Block() *int8 {
	if len(v.q) == 0 {
		return &zeroInt8Block[0]
	}
	// At least 16 bytes: smaller ones may share a word with others.
	b := make([]int8, int8BlockHeader+len(v.q), max(16, int8BlockHeader+len(v.q)))
	h := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), int8BlockHeader)
	binary.LittleEndian.PutUint32(h[0:], uint32(len(v.q)))
	binary.LittleEndian.PutUint32(h[4:], math.Float32bits(v.scale))
	binary.LittleEndian.PutUint32(h[8:], math.Float32bits(v.invLen))
	copy(b[int8BlockHeader:], v.q)
	return &b[0]
}

// Int8OfBlock is the Int8 whose Block b is.
func Int8OfBlock(b *int8) Int8 {
	h := unsafe.Slice((*byte)(unsafe.Pointer(b)), int8BlockHeader)
	n := int(binary.LittleEndian.Uint32(h[0:]))
	if n == 0 {
		return Int8{}
	}
	all := unsafe.Slice(b, int8BlockHeader+n)
	return Int8{
		q:      all[int8BlockHeader:],
		scale:  math.Float32frombits(binary.LittleEndian.Uint32(h[4:])),
		invLen: math.Float32frombits(binary.LittleEndian.Uint32(h[8:])),
	}
}
