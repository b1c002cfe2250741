package embeddings

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomUnit(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	Normalize(v)
	return v
}

// Each component is off by at most half a step, and cosines by a few
// thousandths, as Int8's comment says.
func TestInt8KeepsVectorsWithinHalfAStep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	for range 2000 {
		v, a := randomUnit(r, 128), randomUnit(r, 128)
		q := QuantizeInt8(v)
		var maxAbs float64
		for _, x := range v {
			maxAbs = max(maxAbs, math.Abs(float64(x)))
		}
		back := q.Float32()
		for i := range v {
			if d := math.Abs(float64(back[i] - v[i])); d > maxAbs/254*1.001 {
				t.Fatalf("component %d: %v back as %v, more than half a step (%v) off", i, v[i], back[i], maxAbs/254)
			}
		}
		got, ok := q.CosineToUnit(a)
		if !ok {
			t.Fatal("no cosine for two non-zero vectors")
		}
		worst = max(worst, math.Abs(got-Cosine(a, v)))
	}
	t.Logf("largest cosine error over 2,000 pairs: %.5f", worst)
	if worst > 0.005 {
		t.Fatalf("cosine off by %.5f", worst)
	}
}

func TestInt8SumsAsTheFloats(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	v := randomUnit(r, 64)
	for i := range v {
		v[i] *= 3 // not unit: the scale must carry the length
	}
	sum := make([]float32, 64)
	QuantizeInt8(v).AddScaled(sum, 0.5)
	for i := range v {
		if math.Abs(float64(sum[i]-v[i]/2)) > 3.0/254 {
			t.Fatalf("component %d: %v, want about %v", i, sum[i], v[i]/2)
		}
	}
}

func TestInt8ZeroAndMismatched(t *testing.T) {
	if q := QuantizeInt8(nil); q.Len() != 0 || q.Float32() != nil {
		t.Fatalf("nil quantized to %+v", q)
	}
	zero := QuantizeInt8(make([]float32, 4))
	if zero.Len() != 4 {
		t.Fatalf("zero vector length %d", zero.Len())
	}
	if _, ok := zero.CosineToUnit([]float32{1, 0, 0, 0}); ok {
		t.Fatal("a cosine with the zero vector")
	}
	if _, ok := QuantizeInt8([]float32{1, 0}).CosineToUnit([]float32{1, 0, 0}); ok {
		t.Fatal("a cosine of vectors of different lengths")
	}
	if c, ok := QuantizeInt8([]float32{0, -2, 0}).CosineToUnit([]float32{0, 1, 0}); !ok || math.Abs(c+1) > 1e-6 {
		t.Fatalf("opposite vectors: %v %v, want -1 (within float32's rounding of the kept length)", c, ok)
	}
}
