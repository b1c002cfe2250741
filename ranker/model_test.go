package ranker

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// synthetic draws examples whose label depends on two features through a
// known logistic model, plus noise features.
func synthetic(n int, seed uint64) ([]Vector, []bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]Vector, n)
	y := make([]bool, n)
	for i := range x {
		for j := range NumFeatures {
			x[i][j] = float32(r.NormFloat64())
		}
		x[i][FSameLeaf] = 0 // a constant feature must not break training
		z := -1 + 2*float64(x[i][FCoViewRank]) - 1.5*float64(x[i][FRefundRate])
		y[i] = r.Float64() < sigmoid(z)
	}
	return x, y
}

func TestTrainRecoversAKnownModel(t *testing.T) {
	x, y := synthetic(20000, 1)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Standardised weights of N(0,1) features are the true ones.
	f := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.15 {
			t.Errorf("%s: got %.3f, want %.3f", name, got, want)
		}
	}
	f("co_view_rank", m.Weight[FCoViewRank], 2)
	f("refund_rate", m.Weight[FRefundRate], -1.5)
	f("views (noise)", m.Weight[FViews], 0)
	f("bias", m.Bias, -1)

	vx, vy := synthetic(5000, 2)
	cal := m.Calibrate(vx, vy)
	if cal.AUC < 0.8 || cal.LogLoss >= cal.BaseLogLoss {
		t.Fatalf("held-out %v: want AUC >= 0.8 and log loss below the base rate's", cal)
	}
}

// The ranker's folded logit is the model's, up to rounding, for a model
// whose features have means and spreads far from 0 and 1.
func TestFoldedLogitIsTheModels(t *testing.T) {
	x, y := synthetic(5000, 3)
	r := rand.New(rand.NewPCG(3, 9))
	for i := range x {
		for j := range NumFeatures {
			x[i][j] = x[i][j]*float32(1+j) + float32(j*j)
		}
	}
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := m.folded()
	for range 1000 {
		v := x[r.IntN(len(x))]
		v[r.IntN(NumFeatures)] += float32(r.NormFloat64())
		if got, want := l.at(&v), m.logit(&v); math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
			t.Fatalf("folded logit %v, model's %v, for %v", got, want, v)
		}
	}
}

func TestTrainRefusesOneClass(t *testing.T) {
	x, _ := synthetic(10, 1)
	if _, err := Train(x, make([]bool, 10), TrainOptions{}); err == nil {
		t.Fatal("want an error for no positives")
	}
}

func TestCalibrationAUC(t *testing.T) {
	m := &Model{}
	for i := range NumFeatures {
		m.Std[i] = 1
	}
	m.Weight[FPopularity] = 1
	x := make([]Vector, 4)
	for i := range x {
		x[i][FPopularity] = float32(i)
	}
	// Perfectly ordered: AUC 1; reversed: 0; one swap: 0.75.
	f := func(y []bool, want float64) {
		t.Helper()
		if got := m.Calibrate(x, y).AUC; math.Abs(got-want) > 1e-9 {
			t.Errorf("labels %v: AUC %v, want %v", y, got, want)
		}
	}
	f([]bool{false, false, true, true}, 1)
	f([]bool{true, true, false, false}, 0)
	f([]bool{false, true, false, true}, 0.75)
}

func TestModelRoundTrip(t *testing.T) {
	x, y := synthetic(3000, 3)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Validation = m.Calibrate(x, y)
	b, _ := m.MarshalBinary()
	var back Model
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if back != *m {
		t.Fatalf("round trip changed the model")
	}
	for _, bad := range [][]byte{nil, []byte("RRANKLR1\n"), b[:len(b)-3]} {
		if err := new(Model).UnmarshalBinary(bad); err == nil {
			t.Errorf("%d bytes: want an error", len(bad))
		}
	}
	other := append([]byte(nil), b...)
	other[len(modelMagic)+4] ^= 'c' ^ 'x' // "co_purchase_rank" -> "xo_..."
	if err := new(Model).UnmarshalBinary(other); !errors.Is(err, ErrFeatureMismatch) {
		t.Fatalf("renamed feature: got %v, want ErrFeatureMismatch", err)
	}
}

func TestStatsCountTheWindowOnly(t *testing.T) {
	b := NewStatsBuilder(now)
	add := func(typ catalog.EventType, ago time.Duration, id string) {
		b.Add(&catalog.Event{Type: typ, Time: now.Add(-ago), Items: []catalog.EventItem{{ItemID: id, Quantity: 3}}})
	}
	day := 24 * time.Hour
	add(catalog.EventViewItem, day, "a")
	add(catalog.EventPurchase, 2*day, "a")
	add(catalog.EventPurchase, 10*day, "a")
	add(catalog.EventPurchase, 40*day, "a") // counts for FirstSeen only
	add(catalog.EventRefund, 3*day, "a")
	add(catalog.EventPurchase, -day, "a") // after the stats' time: ignored
	st := b.Stats()
	want := ItemStats{Views: 1, Purchases: 2, Purchases7d: 1, Refunds: 1, FirstSeen: now.Add(-40 * day).Unix()}
	if got := st.Get("a"); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	blob, _ := st.MarshalBinary()
	var back Stats
	if err := back.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	if back.Get("a") != want || back.Len() != 1 || !back.At.Equal(now) {
		t.Fatalf("round trip: %+v", back)
	}
	if err := back.UnmarshalBinary(blob[:len(blob)-1]); err == nil {
		t.Fatal("truncated: want an error")
	}
}

// Statistics indexed by item number give a numbered candidate what its
// id gives; an unnumbered one, or one numbered after the indexing, reads
// by id or has none.
func TestStatsByNumberAreTheStatsByID(t *testing.T) {
	st := NewStats(time.Now(), map[string]ItemStats{
		"a": {Views: 10, Purchases: 2}, "b": {Views: 3}, "c": {Purchases: 1, Refunds: 1},
	})
	numbers := map[string]uint32{"c": 0, "x": 1, "a": 2, "b": 5}
	st.NumberBy(func(ids []string) []uint32 {
		// Most active first, so that a numbering in this order gives the
		// items most pages name neighbouring numbers.
		if want := []string{"a", "b", "c"}; !slices.Equal(ids, want) {
			t.Errorf("ids numbered in the order %v, want %v", ids, want)
		}
		out := make([]uint32, len(ids))
		for i, id := range ids {
			out[i] = numbers[id]
		}
		return out
	})
	for id, k := range numbers {
		if got, want := st.featuresOf(&Candidate{ID: id, Number: k, Numbered: true}), st.Features(id); got != want {
			t.Errorf("%s (number %d): %+v by number, %+v by id", id, k, got, want)
		}
	}
	if got := st.featuresOf(&Candidate{ID: "a"}); got != st.Features("a") {
		t.Errorf("unnumbered a: %+v", got)
	}
	if got := st.featuresOf(&Candidate{ID: "new", Number: 9, Numbered: true}); got != noStats {
		t.Errorf("an item numbered after the indexing: %+v, want no statistics", got)
	}
	var none *Stats
	if got := none.featuresOf(&Candidate{ID: "a", Number: 2, Numbered: true}); got != noStats {
		t.Errorf("no statistics: %+v", got)
	}
}
